"""W3C Trace Context: the ``traceparent`` and ``tracestate`` headers.

Follows the Trace Context recommendation (level 1) and the level 2 random
flag: the flags byte is kept, ``tracestate`` is validated and forwarded, and
headers may come from a plain mapping, a multi-dict (aiohttp, starlette,
httpx, werkzeug, ``http.server``) or a list of ``(name, value)`` pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final

import msgspec

from .._events._ids import is_span_id, is_trace_id

FLAG_SAMPLED: Final = 0x01
FLAG_RANDOM: Final = 0x02
# The spec's known flags.  Unknown bits are set to 0 on outgoing requests.
KNOWN_FLAGS: Final = FLAG_SAMPLED | FLAG_RANDOM

MAX_MEMBERS: Final = 32
# What we always propagate; longer combined values lose whole members.
MAX_TRACESTATE_CHARS: Final = 512
_LONG_MEMBER: Final = 128

_TRACEPARENT_RE: Final = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL
)
# key = (lcalpha / DIGIT) 0*255(keychar); value = 0*255(chr) nblk-chr
_MEMBER_RE: Final = re.compile(
    r"([a-z0-9][a-z0-9_\-*/@]{0,255})=([\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e])"
)
_OWS: Final = " \t"
# Methods that return every value of a repeated header, in the order sent.
_MULTI_GETTERS: Final = ("getall", "get_all", "get_list", "getlist")


class TraceParent(msgspec.Struct, frozen=True):
    """A W3C trace context: trace id, parent span id, flags and ``tracestate``.

    ``flags`` is the trace-flags byte (``0x01`` sampled, ``0x02`` random
    trace id); ``True``/``False`` are accepted as ``0x01``/``0x00``.
    ``tracestate`` is the validated, combined header value or ``None``.
    """

    trace_id: str
    span_id: str
    flags: int = FLAG_SAMPLED
    tracestate: str | None = None

    def __post_init__(self) -> None:
        if not is_trace_id(self.trace_id):
            raise ValueError(f"trace_id must be 32 lowercase hex, not all zero: {self.trace_id!r}")
        if not is_span_id(self.span_id):
            raise ValueError(f"span_id must be 16 lowercase hex, not all zero: {self.span_id!r}")
        if not isinstance(self.flags, int) or not 0 <= self.flags <= 0xFF:
            raise ValueError(f"flags must be an int within [0, 255], got {self.flags!r}")
        if self.tracestate is not None and not isinstance(self.tracestate, str):
            raise TypeError(f"tracestate must be a str or None, got {self.tracestate!r}")

    @property
    def sampled(self) -> bool:
        return bool(self.flags & FLAG_SAMPLED)

    @property
    def random(self) -> bool:
        """Level 2: the right-most 7 bytes of the trace id are random."""
        return bool(self.flags & FLAG_RANDOM)

    def header(self) -> str:
        """The ``traceparent`` header value (version 00)."""
        return f"00-{self.trace_id}-{self.span_id}-{int(self.flags) & 0xFF:02x}"

    def tracestate_items(self) -> list[tuple[str, str]]:
        """The ``tracestate`` members as ``(key, value)`` pairs, in order."""
        return tracestate_pairs(self.tracestate) or []


def parse_traceparent(
    value: str, tracestate: str | Iterable[str] | None = None
) -> TraceParent | None:
    """Parse a ``traceparent`` value; ``None`` if the spec says to ignore it.

    Version ``ff``, all-zero ids, upper-case hex and anything but exactly
    four fields in version 00 are invalid; a later version's extra fields
    (after a dash) are ignored.  Unknown flag bits are cleared.
    *tracestate*: the header value, or its repeated lines, which are
    combined; an invalid ``tracestate`` is dropped, never the traceparent.
    """
    if not isinstance(value, str):
        return None
    m = _TRACEPARENT_RE.fullmatch(value.strip(_OWS))
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, int(flags, 16) & KNOWN_FLAGS, parse_tracestate(tracestate))


def tracestate_pairs(value: str | Iterable[str] | None) -> list[tuple[str, str]] | None:
    """The members of a ``tracestate`` header (lines combined), or ``None`` if invalid.

    Empty members are skipped; a member that breaks the list-member grammar,
    or more than 32 members, make the whole header invalid.  Of a repeated
    key the first (left-most, most recent) member is kept.
    """
    if value is None:
        return []
    lines = [value] if isinstance(value, str) else list(value)
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in lines:
        if not isinstance(line, str):
            return None
        for raw in line.split(","):
            member = raw.strip(_OWS)
            if not member:
                continue
            m = _MEMBER_RE.fullmatch(member)
            if m is None:
                return None
            key, val = m.groups()
            if key in seen:
                continue
            seen.add(key)
            pairs.append((key, val))
            if len(pairs) > MAX_MEMBERS:
                return None
    return pairs


def parse_tracestate(value: str | Iterable[str] | None) -> str | None:
    """The combined, validated ``tracestate`` to forward, or ``None``.

    Longer than 512 characters, whole members are removed: those over 128
    characters first, then from the right, as the spec asks.
    """
    pairs = tracestate_pairs(value)
    if not pairs:
        return None
    members = [f"{k}={v}" for k, v in pairs]
    if _joined_len(members) > MAX_TRACESTATE_CHARS:
        members = [m for m in members if len(m) <= _LONG_MEMBER]
        while members and _joined_len(members) > MAX_TRACESTATE_CHARS:
            members.pop()
    return ",".join(members) or None


def _joined_len(members: list[str]) -> int:
    return sum(map(len, members)) + max(len(members) - 1, 0)


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        # Header bytes are ISO-8859-1 (ASGI scopes carry them raw).
        return value.decode("latin-1")
    return None


def header_values(headers: Any, name: str) -> list[str]:
    """Every value of header *name* (lower case), in order, from any header container.

    Accepts a ``Mapping`` (values a str or a list of str), a multi-dict with
    ``getall`` / ``get_all`` / ``get_list`` / ``getlist``, or an iterable of
    ``(name, value)`` pairs (str or bytes, as in an ASGI scope).  Names are
    matched case-insensitively.
    """
    for getter in _MULTI_GETTERS:
        method = getattr(headers, getter, None)
        if callable(method):
            try:
                found = method(name)
            except KeyError:
                found = None
            if found:
                return [t for t in map(_text, found) if t is not None]
            break
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        pairs: Iterable[Any] = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        pairs = headers
    else:
        raise TypeError(
            "headers must be a mapping, a multi-dict or (name, value) pairs, "
            f"got {type(headers).__name__}"
        )
    out: list[str] = []
    for pair in pairs:
        try:
            key, val = pair
        except (TypeError, ValueError):
            raise TypeError(f"header pairs must be (name, value), got {pair!r}") from None
        key = _text(key)
        if key is None or key.lower() != name:
            continue
        if isinstance(val, (list, tuple)):
            out.extend(t for t in map(_text, val) if t is not None)
        else:
            text = _text(val)
            if text is not None:
                out.append(text)
    return out


def extract(headers: Mapping[str, str] | Iterable[Any] | Any) -> TraceParent | None:
    """Read ``traceparent`` / ``tracestate`` from incoming HTTP headers.

    Returns ``None`` when there is no valid ``traceparent``; then
    ``tracestate`` is ignored too.  Several ``traceparent`` lines make the
    context invalid (the caller starts a new trace); several ``tracestate``
    lines are combined in order.
    """
    parents = header_values(headers, "traceparent")
    if len(parents) != 1:
        return None
    return parse_traceparent(parents[0], header_values(headers, "tracestate"))


def as_traceparent(value: TraceParent | str) -> TraceParent:
    """A ``TraceParent`` from itself or a ``traceparent`` string (``ValueError`` if invalid)."""
    if isinstance(value, TraceParent):
        return value
    parsed = parse_traceparent(value)
    if parsed is None:
        raise ValueError(f"not a valid W3C traceparent: {value!r}")
    return parsed


def inject_parent(
    parent: TraceParent | None, headers: MutableMapping[str, str]
) -> MutableMapping[str, str]:
    if parent is not None:
        headers["traceparent"] = parent.header()
        if parent.tracestate:
            headers["tracestate"] = parent.tracestate
    return headers
