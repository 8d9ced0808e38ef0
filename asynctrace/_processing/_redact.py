"""The redactor: secrets out of ``ev.data`` before the event is queued.

Three kinds of rule (docs/processing.md lists them exactly):

- keys: the value of a key that names a secret becomes ``"[REDACTED]"``;
- text: secrets recognisable by their shape are masked inside any string;
- paths: absolute paths become project-relative, or ``"[REDACTED_PATH]"``
  under a sensitive directory.

The redactor copies on write: it never changes the caller's containers, and
returns the very same objects when nothing needed redacting (the sanitizer,
which runs next, is the one place that copies).  It never raises: if the
walk itself fails, the event's data is replaced, never passed on unredacted.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import logging
import os
import posixpath
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final

from .._events._schema import Event
from ._sanitize import (
    CYCLE_MARKER,
    DEPTH_MARKER,
    FAST_KEY_MAX,
    exception_to_dict,
    safe_repr,
    struct_to_dict,
    type_name,
)

__all__ = [
    "DEFAULT_SENSITIVE_DIRS",
    "REDACTED",
    "REDACTED_PATH",
    "Redactor",
    "is_sensitive_key",
    "redact_text",
]

_log = logging.getLogger("asynctrace")

REDACTED: Final = "[REDACTED]"
REDACTED_PATH: Final = "[REDACTED_PATH]"

DEFAULT_SENSITIVE_DIRS: Final[tuple[str, ...]] = (
    "~/.ssh",
    "~/.config",
    "/etc",
    "~/.aws",
    "~/.gnupg",
    "~/.docker",
    "~/.kube",
    "~/.netrc",
    "~/.git-credentials",
    "~/.pgpass",
)

# ---------------------------------------------------------------------------
# Keys

# Keys are compared after lowercasing and deleting "-", "_", "." and spaces,
# so "X-Api-Key", "OPENAI_API_KEY" and "apiKey" all read "...apikey".
_KEY_STRIP: Final = str.maketrans("", "", "-_. ")

# A key containing any of these (normalised) is sensitive.
_SECRET_FRAGMENTS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "privatekey",
    "privkey",
    "accesskey",
    "signingkey",
    "encryptionkey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "bearertoken",
    "sessiontoken",
    "sessionkey",
    "sessid",
    "jsessionid",
    "apitoken",
    "authorization",
    "cookie",
    "bearer",
    "jwt",
)
# Sensitive only as the whole (normalised) key.
_SECRET_EXACT: Final = frozenset({"pass", "pw", "auth"})
# "token" is sensitive unless it only appears inside one of these words,
# which name token *counts* and tokenizers in the llm vocabulary
# (input_tokens, max_tokens, token_count, tokenizer...).
_TOKEN_COUNT_WORDS: Final = re.compile(
    r"tokens|tokeniz|tokencount|tokenlimit|tokenusage|tokenbudget|tokenid"
)
# "auth" as a suffix (oauth, basic_auth, proxy-auth) or followed by one of
# these; never "author", "authority", "authenticated".
_AUTH_KEY: Final = re.compile(r"auth$|^auth(?:header|key|code|creds?|data|value|string|params?)$")

# Keys whose string values may be paths containing spaces.
_PATH_KEY_FRAGMENTS: Final = ("path", "file", "dir", "cwd", "folder")


def normalize_key(key: str) -> str:
    return key.lower().translate(_KEY_STRIP)


def _is_secret_name(n: str, extra: tuple[str, ...] = ()) -> bool:
    """``n`` is a normalised key."""
    if n in _SECRET_EXACT:
        return True
    for frag in _SECRET_FRAGMENTS:
        if frag in n:
            return True
    for frag in extra:
        if frag in n:
            return True
    if "token" in n and "token" in _TOKEN_COUNT_WORDS.sub("", n):
        return True
    return "auth" in n and _AUTH_KEY.search(n) is not None


def is_sensitive_key(key: str) -> bool:
    """Whether the default rules redact the value of ``key``."""
    return _is_secret_name(normalize_key(key))


# ---------------------------------------------------------------------------
# Text
#
# One alternation, scanned once per string.  Python's regex engine only
# skips quickly to characters that can start a branch, so every branch
# starts at a rare literal ("-", "_", "J", ":", "=", ...) and checks what
# comes before it with a look-behind.  Each branch has exactly one named
# group; the secret is that group plus _BACK[name] characters before it
# (the part the look-behind saw), e.g. the "sk" of "sk-...".

_TOKEN: Final = r"[A-Za-z0-9_\-]"
_KV_WORDS: Final = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "private_key",
    "auth",
)
# A quoted value runs to its closing quote; a bare one to a separator.
_KV_VALUE: Final = r"""[ \t]*(?:"(?P<{n}q>[^"\n]{{3,}})"|'(?P<{n}s>[^'\n]{{3,}})'|(?P<{n}>[^\s"'&,;)}}\]]{{3,}}))"""


def _kv_branch(anchor: str, name: str, suffixes: tuple[str, ...]) -> str:
    behind = "|".join(
        f"(?<=(?i:{re.escape(word)}){re.escape(suffix)}{re.escape(anchor)})"
        for word in _KV_WORDS
        for suffix in suffixes
    )
    # A cheap gate first: the word must end in one of these letters.
    gate = "|".join(
        f"(?<=[dDeEtTnNyYhH]{re.escape(suffix)}{re.escape(anchor)})" for suffix in suffixes
    )
    return f"{re.escape(anchor)}(?:{gate})(?:{behind})" + _KV_VALUE.format(n=name)


_BRANCHES: Final = (
    # Provider API keys: OpenAI sk-..., sk-proj-..., Anthropic sk-ant-...
    rf"-(?<=sk-)(?<![A-Za-z0-9_]sk-)(?P<sk>{_TOKEN}{{20,}})",
    # Slack tokens: xoxb-, xoxp-, ...
    r"-(?<=xox[abprse]-)(?<![A-Za-z0-9_]xox[abprse]-)(?P<slack>[A-Za-z0-9\-]{10,})",
    # PEM private key blocks (a block cut short runs to the end of the text).
    r"-(?P<pem>----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z))",
    # Stripe secret and restricted keys.
    r"_(?<=[sr]k_)(?<![A-Za-z0-9_][sr]k_)(?P<stripe>(?:live|test)_[A-Za-z0-9]{10,})",
    # GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_, github_pat_.
    r"_(?<=gh[pousr]_)(?<![A-Za-z0-9_]gh[pousr]_)(?P<gh>[A-Za-z0-9]{20,})",
    r"_(?<=github_)(?P<ghpat>pat_[A-Za-z0-9_]{20,})",
    # Hugging Face and npm tokens.
    r"_(?<=hf_)(?<![A-Za-z0-9_]hf_)(?P<hf>[A-Za-z0-9]{30,})",
    r"_(?<=npm_)(?<![A-Za-z0-9_]npm_)(?P<npm>[A-Za-z0-9]{30,})",
    # AWS access key ids.
    r"K(?<=AK)(?<![A-Za-z0-9]AK)(?P<akia>IA[A-Z0-9]{16})(?![A-Za-z0-9])",
    r"S(?<=AS)(?<![A-Za-z0-9]AS)(?P<asia>IA[A-Z0-9]{16})(?![A-Za-z0-9])",
    # Google API keys.
    r"z(?<=AIz)(?<![A-Za-z0-9_\-]AIz)(?P<gapi>a[A-Za-z0-9_\-]{35})",
    # JWTs: three base64url segments, the first starting eyJ ('{"').
    rf"J(?<=eyJ)(?<![A-Za-z0-9_\-]eyJ)(?P<jwt>{_TOKEN}{{4,}}\.{_TOKEN}{{4,}}\.{_TOKEN}*)",
    # Bearer tokens: keep the word Bearer.
    r"B(?<![A-Za-z0-9_]B)earer[ \t]+(?P<bearer>[A-Za-z0-9\-._~+/]{8,}=*)",
    r"b(?<![A-Za-z0-9_]b)earer[ \t]+(?P<bearerl>[A-Za-z0-9\-._~+/]{8,}=*)",
    # Credentials in URLs: scheme://user:pass@host -> scheme://[REDACTED]@host.
    r":(?<=[A-Za-z0-9+.\-]:)//(?P<url>[^\s/?#@:]*:[^\s/?#]+)@",
    # key=value and key: value in free text, for a few secret-naming words.
    _kv_branch("=", "kveq", ("", " ")),
    _kv_branch(":", "kvco", ("", '"', "'")),
)
_BACK: Final[dict[str, int]] = {
    "sk": 3,
    "slack": 5,
    "pem": 1,
    "stripe": 3,
    "gh": 4,
    "ghpat": 7,
    "hf": 3,
    "npm": 4,
    "akia": 2,
    "asia": 2,
    "gapi": 3,
    "jwt": 3,
}
_SECRET_RE: Final = re.compile("|".join(_BRANCHES))
_SECRET_SEARCH: Final = _SECRET_RE.search
# The same, over many strings joined by NUL, plus a string starting with
# "/" or "~" (a path to check): used to clear a whole event in one scan.
# NUL is in no branch's character classes, so a match in one string is
# still a match in the joined text; a match across strings only sends the
# event down the general path.
_JOINED_SEARCH: Final = re.compile(
    "|".join((*_BRANCHES, r"/(?<![^\x00]/)", r"~(?<![^\x00]~)"))
).search
# No branch can match text shorter than this ("pwd=abc", "a://:b@c"), so
# shorter strings skip the scan.
MIN_SECRET_LEN: Final = 7


def _mask(s: str, first: re.Match[str]) -> str:
    parts: list[str] = []
    last = 0
    m: re.Match[str] | None = first
    while m is not None:
        group = m.lastgroup or ""
        start = m.start(group) - _BACK.get(group, 0) if group else m.start()
        end = m.end(group) if group else m.end()
        if start < last:
            start = last
        parts.append(s[last:start])
        parts.append(REDACTED)
        last = end
        m = _SECRET_RE.search(s, max(m.end(), last))
    parts.append(s[last:])
    return "".join(parts)


def redact_text(s: str) -> str:
    """``s`` with every built-in secret pattern replaced by ``[REDACTED]``."""
    if len(s) < MIN_SECRET_LEN:
        return s
    m = _SECRET_SEARCH(s)
    return s if m is None else _mask(s, m)


# ---------------------------------------------------------------------------
# The processor

# Per-key decisions, cached: keys repeat on nearly every event.
_SENSITIVE: Final = 1
_HASH: Final = 2
_PATHKEY: Final = 4
_RENAME: Final = 8
_CACHE_MAX: Final = 4096

_PATH_FIRST: Final = frozenset("/~")
_WHITESPACE: Final = re.compile(r"\s")
_NEWLINE: Final = re.compile(r"[\r\n]")
_MAX_PATH_LEN: Final = 4096
# Types the redactor passes through untouched: the sanitizer converts them,
# and none of them carries caller text.
_OPAQUE_SAFE: Final = (int, float, bytes, bytearray, memoryview, enum.Enum)


def _check_dir(arg: str, value: str | os.PathLike[str], home: str) -> str:
    try:
        p = os.fspath(value)
    except TypeError:
        raise TypeError(f"{arg} entries must be str or os.PathLike, got {value!r}") from None
    if not isinstance(p, str) or not p:
        raise ValueError(f"{arg} entries must be non-empty paths, got {value!r}")
    if p == "~" or p.startswith("~/"):
        p = home + p[1:]
    if not p.startswith("/"):
        raise ValueError(f"{arg} entries must be absolute (or start with ~/), got {value!r}")
    p = posixpath.normpath("/" + p.lstrip("/"))
    return p


def _compile_patterns(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    if isinstance(patterns, str | re.Pattern):
        raise TypeError("extra_patterns must be a collection of patterns, not a single one")
    out = []
    for pat in patterns:
        if isinstance(pat, re.Pattern):
            if not isinstance(pat.pattern, str):
                raise TypeError(f"extra_patterns must be text patterns, got {pat!r}")
            rx = pat
        elif isinstance(pat, str):
            try:
                rx = re.compile(pat)
            except re.error as exc:
                raise ValueError(f"extra_patterns: {pat!r} is not a valid regex: {exc}") from None
        else:
            raise TypeError(f"extra_patterns entries must be str or re.Pattern, got {pat!r}")
        for probe in ("", "a", " ", "a b", "0"):
            m = rx.search(probe)
            if m is not None and m.end() == m.start():
                raise ValueError(f"extra_patterns: {rx.pattern!r} can match the empty string")
        out.append(rx)
    return tuple(out)


def _keys(arg: str, keys: Iterable[str]) -> frozenset[str]:
    if isinstance(keys, str):
        raise TypeError(f"{arg} must be a collection of keys, not a single string")
    out = set()
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"{arg} entries must be str, got {key!r}")
        n = normalize_key(key)
        if not n:
            raise ValueError(f"{arg}: {key!r} is empty once '-', '_', '.' and spaces are removed")
        out.add(n)
    return frozenset(out)


def _content_hash(value: str | bytes) -> str:
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return f"[content hash: {hashlib.sha256(data).hexdigest()[:12]}]"


def _unique_key(key: Any, taken: Mapping[Any, Any]) -> Any:
    if key not in taken:
        return key
    n = 2
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"


class Redactor:
    """Processor that removes secrets from ``ev.data`` (see docs/processing.md).

    Args:
        extra_keys: more key fragments to redact (matched like the built-in
            ones: case-insensitive, ignoring ``-``, ``_``, ``.`` and spaces,
            anywhere in the key).
        extra_patterns: more regexes; every match in any string becomes
            ``[REDACTED]``.
        allow_keys: keys never redacted by key name (exact match after the
            same normalisation); their values are still scanned.
        project_root: absolute paths under it are made relative to it.
        sensitive_dirs: absolute paths under these become
            ``[REDACTED_PATH]``; ``~`` is expanded.
        hash_content_keys: string values of these keys (exact match after
            normalisation) become ``[content hash: <12 hex of sha256>]``.
        max_depth: containers nested deeper than this become ``[max depth]``.
    """

    __slots__ = (
        "_allow",
        "_cache",
        "_extra_frags",
        "_hash_keys",
        "_home",
        "_max_depth",
        "_patterns",
        "_root",
        "_root_prefix",
        "_sens_exact",
        "_sens_prefixes",
        "_warned",
        "failures",
    )

    def __init__(
        self,
        *,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        allow_keys: Iterable[str] = (),
        project_root: str | os.PathLike[str] | None = None,
        sensitive_dirs: Iterable[str | os.PathLike[str]] = DEFAULT_SENSITIVE_DIRS,
        hash_content_keys: Iterable[str] = (),
        max_depth: int = 32,
    ) -> None:
        if type(max_depth) is not int:
            raise TypeError(f"max_depth must be an int, got {type(max_depth).__name__}")
        if not 0 < max_depth <= 256:
            raise ValueError(f"max_depth must be within 1..256, got {max_depth}")
        self._max_depth = max_depth
        self._extra_frags = tuple(sorted(_keys("extra_keys", extra_keys)))
        self._allow = _keys("allow_keys", allow_keys)
        self._hash_keys = _keys("hash_content_keys", hash_content_keys)
        self._patterns = _compile_patterns(extra_patterns)
        self._home = posixpath.normpath(os.path.expanduser("~"))
        if isinstance(sensitive_dirs, str | PurePath):
            raise TypeError("sensitive_dirs must be a collection of paths, not a single one")
        dirs = {_check_dir("sensitive_dirs", d, self._home) for d in sensitive_dirs}
        self._sens_exact = frozenset(dirs)
        self._sens_prefixes = tuple(sorted(d.rstrip("/") + "/" for d in dirs))
        if project_root is None:
            self._root: str | None = None
            self._root_prefix = ""
        else:
            self._root = _check_dir("project_root", project_root, self._home)
            self._root_prefix = self._root.rstrip("/") + "/"
        self._cache: dict[str, int] = {}
        self._warned = False
        self.failures = 0
        """Events whose data was dropped because redacting it failed."""

    def __repr__(self) -> str:
        return (
            f"Redactor(extra_keys={list(self._extra_frags)!r}, "
            f"extra_patterns={[p.pattern for p in self._patterns]!r}, "
            f"allow_keys={sorted(self._allow)!r}, project_root={self._root!r}, "
            f"sensitive_dirs={sorted(self._sens_exact)!r}, "
            f"hash_content_keys={sorted(self._hash_keys)!r}, max_depth={self._max_depth})"
        )

    # -- entry points -----------------------------------------------------

    def __call__(self, ev: Event) -> Event:
        data = ev.data
        try:
            new = (
                self._dict(data, 0, (), {}) if type(data) is dict else self._value(data, 0, (), {})
            )
        except Exception as exc:
            # Never pass on what could not be checked: the pipeline would
            # disable a raising redactor and let later events through raw.
            self.failures += 1
            if not self._warned:
                self._warned = True
                _log.warning(
                    "asynctrace: redaction failed (%s); the event's data was dropped",
                    type_name(exc),
                )
            new = {"redaction_error": type_name(exc)}
        if new is not data:
            ev.data = new
        return ev

    def redact(self, value: Any) -> Any:
        """``value`` with this redactor's rules applied (copy on write)."""
        return self._value(value, 0, (), {})

    def redact_text(self, s: str) -> str:
        """``s`` with the built-in and extra patterns masked (no path rules)."""
        return self._scan(s)

    def is_sensitive_key(self, key: str) -> bool:
        """Whether this redactor replaces the value of ``key``."""
        return bool(self._flags(key) & _SENSITIVE)

    @property
    def max_depth(self) -> int:
        return self._max_depth

    # -- the fast path, used with the sanitizer (see Pipeline) ------------

    def admit_key(self, key: Any) -> bool:
        """Whether ``key`` always passes this redactor unchanged, with its value.

        True for short ASCII string keys that are not sensitive, hashed or
        renamed; a path-like key qualifies too, because a value it changes
        starts with "/" or "~", which the search of ``fast_text_checks`` finds.
        """
        return (
            type(key) is str
            and len(key) <= FAST_KEY_MAX
            and key.isascii()
            and not self._flags(key) & ~_PATHKEY
        )

    def fast_text_checks(
        self,
    ) -> tuple[Callable[[str], object], Callable[[str, list[str]], bool] | None]:
        """Whether strings pass unchanged, in two parts: a search that must
        find nothing in them joined by NUL (it also finds a string starting
        with "/" or "~", a path to check), and a check for the extra patterns
        (None without any)."""
        return _JOINED_SEARCH, (self._extra_text_ok if self._patterns else None)

    def _extra_text_ok(self, joined: str, strs: list[str]) -> bool:
        # Per string: a user pattern may be anchored (^, $) to a whole value.
        for rx in self._patterns:
            for s in strs:
                if rx.search(s) is not None:
                    return False
        return True

    # -- keys -------------------------------------------------------------

    def _flags(self, key: str) -> int:
        flags = self._cache.get(key)
        if flags is None:
            flags = self._classify(key)
            cache = self._cache
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[key] = flags
        return flags

    def _classify(self, key: str) -> int:
        n = normalize_key(key)
        flags = 0
        if n not in self._allow and _is_secret_name(n, self._extra_frags):
            flags |= _SENSITIVE
        if n in self._hash_keys:
            flags |= _HASH
        for frag in _PATH_KEY_FRAGMENTS:
            if frag in n:
                flags |= _PATHKEY
                break
        if self._scan(key) != key:
            flags |= _RENAME
        return flags

    # -- values -----------------------------------------------------------

    def _scan(self, s: str) -> str:
        if len(s) >= MIN_SECRET_LEN:
            m = _SECRET_SEARCH(s)
            if m is not None:
                s = _mask(s, m)
        for rx in self._patterns:
            if rx.search(s) is not None:
                s = rx.sub(_user_repl, s)
        return s

    def _text(self, s: str, pathkey: bool) -> str:
        if s[:1] in _PATH_FIRST:
            p = self._path(s, pathkey)
            if p is REDACTED_PATH:
                return p
            s = p
        return self._scan(s)

    def _path(self, s: str, pathkey: bool) -> str:
        """``s`` starts with "/" or "~"; a whole-string path is rewritten."""
        if s == "" or len(s) > _MAX_PATH_LEN:
            return s
        # Whitespace means prose or a command line, except under a key that
        # names a path ("/Users/me/My Documents/a.txt").
        if (_NEWLINE if pathkey else _WHITESPACE).search(s) is not None:
            return s
        p = s
        if p[0] == "~":
            if p != "~" and not p.startswith("~/"):
                return s
            p = self._home + p[1:]
        if "//" in p or "/." in p or p.endswith("/"):
            # "//etc", "/srv/../etc" and "/etc/" all name /etc.
            p = posixpath.normpath("/" + p.lstrip("/"))
        if p in self._sens_exact or p.startswith(self._sens_prefixes):
            return REDACTED_PATH
        root = self._root
        if root is not None:
            if p == root:
                return "."
            if p.startswith(self._root_prefix):
                return p[len(self._root_prefix) :]
        return s

    # The walk.  ``path`` holds the ids of the containers above (for cycles);
    # ``memo`` maps the id of each container of the input already done to
    # (container, result): a structure that shares one container many times
    # is then walked in linear time, not once per path to it.

    def _value(self, v: Any, depth: int, path: tuple[int, ...], memo: _Memo) -> Any:
        t = type(v)
        if t is str:
            if len(v) < MIN_SECRET_LEN and v[:1] not in _PATH_FIRST and not self._patterns:
                return v
            new = self._text(v, False)
            return v if new == v else new
        if t is int or v is None or t is bool or t is float:
            return v
        if (t is dict or t is list or t is tuple) and len(v) < 2:
            # Only containers with two or more items can multiply the paths
            # to what is below them; skip the memo for the rest.
            return (
                self._dict(v, depth, path, memo) if t is dict else self._seq(v, depth, path, memo)
            )
        done = memo.get(id(v))
        if done is not None:
            return done[1]
        if t is dict:
            out = self._dict(v, depth, path, memo)
        elif t is list or t is tuple:
            out = self._seq(v, depth, path, memo)
        else:
            out = self._other(v, t, depth, path, memo)
        memo[id(v)] = (v, out)
        return out

    def _dict(self, d: Mapping[Any, Any], depth: int, path: tuple[int, ...], memo: _Memo) -> Any:
        if depth >= self._max_depth:
            return DEPTH_MARKER
        ident = id(d)
        if ident in path:
            return CYCLE_MARKER
        sub: tuple[int, ...] | None = None
        changes: list[tuple[Any, Any, Any]] | None = None
        cache = self._cache
        plain = not self._patterns
        for k, v in d.items():
            key = k
            if type(k) is str:
                flags = cache.get(k)
                if flags is None:
                    flags = self._flags(k)
            elif k is None or type(k) is int or type(k) is float or type(k) is bool:
                flags = 0
            else:
                key = self._key_text(k)
                flags = self._flags(key)
            t = type(v)
            if flags:
                if flags & _RENAME:
                    key = self._scan(key)
                if flags & _SENSITIVE:
                    new = v if v is None else REDACTED
                elif flags & _HASH and isinstance(v, str | bytes):
                    new = _content_hash(v)
                elif t is str:
                    new = self._text(v, bool(flags & _PATHKEY))
                    if new == v:
                        new = v
                else:
                    if sub is None:
                        sub = (*path, ident)
                    new = self._value(v, depth + 1, sub, memo)
            elif t is str:
                if len(v) < MIN_SECRET_LEN and plain and v[:1] not in _PATH_FIRST:
                    continue
                new = self._text(v, False)
                if new == v:
                    continue
            elif t is int or v is None or t is bool or t is float:
                continue
            else:
                if sub is None:
                    sub = (*path, ident)
                new = self._value(v, depth + 1, sub, memo)
            if new is not v or key is not k:
                if changes is None:
                    changes = []
                changes.append((k, key, new))
        if changes is None:
            return d
        out = dict(d)
        for k, key, new in changes:
            if key is k:
                out[k] = new
            else:
                del out[k]
                out[_unique_key(key, out)] = new
        return out

    def _key_text(self, k: Any) -> str:
        """A non-scalar dict key as text, so its name can be checked."""
        if isinstance(k, enum.Enum):
            k = k.value
        if isinstance(k, str):
            return str.__str__(k)
        try:
            s = str(k)
            return s if type(s) is str else str.__str__(s)
        except Exception:
            return f"<unrepresentable {type_name(k)}>"

    def _seq(self, seq: Any, depth: int, path: tuple[int, ...], memo: _Memo) -> Any:
        """A list, tuple, set or deque: the same object, or a new list."""
        if depth >= self._max_depth:
            return DEPTH_MARKER
        ident = id(seq)
        if ident in path:
            return CYCLE_MARKER
        sub = (*path, ident)
        depth += 1
        value = self._value
        items = seq if type(seq) is list else list(seq)
        out: list[Any] | None = None
        for i, v in enumerate(items):
            new = value(v, depth, sub, memo)
            if out is None:
                if new is v:
                    continue
                out = items[:i]
            out.append(new)
        return seq if out is None else out

    def _other(self, v: Any, t: type, depth: int, path: tuple[int, ...], memo: _Memo) -> Any:
        if isinstance(v, _OPAQUE_SAFE):
            return v
        if id(v) in path:
            return CYCLE_MARKER
        if isinstance(v, str):
            new = self._text(str.__str__(v), False)
            return v if new == v else new
        if isinstance(v, PurePath):
            s = str(v)
            new = self._text(s, True)
            return v if new == s else new
        # Objects become a fresh dict of their fields; the object, not that
        # dict, is what a cycle comes back to.
        inner = (*path, id(v))
        if isinstance(v, BaseException):
            return self._dict(exception_to_dict(v), depth, inner, memo)
        if isinstance(v, tuple) and hasattr(v, "_asdict"):
            return self._dict(dict(v._asdict()), depth, inner, memo)
        if isinstance(v, dict):
            return self._dict(v, depth, path, memo)
        if isinstance(v, Mapping):
            return self._dict(dict(v.items()), depth, inner, memo)
        if isinstance(v, list | tuple | set | frozenset | deque):
            return self._seq(v, depth, path, memo)
        if _is_plain_data(v):
            return v
        fields = struct_to_dict(v)
        if fields is not None:
            return self._dict(fields, depth, inner, memo)
        # Anything else is written as its repr, which may quote a secret.
        return self._text(safe_repr(v), False)


_Memo = dict[int, tuple[Any, Any]]


def _user_repl(m: re.Match[str]) -> str:
    return REDACTED if m.end() > m.start() else ""


def _is_plain_data(v: object) -> bool:
    """Dates, UUIDs, decimals: the sanitizer writes them as str, no caller text."""
    return isinstance(v, _dt.date | _dt.time | _dt.timedelta | uuid.UUID | Decimal)
