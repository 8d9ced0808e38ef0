"""The fast path of the built-in steps: one flat redact-and-snapshot pass.

Nearly every event is a small dict of short strings and numbers under keys
seen many times before.  For those, redacting then sanitizing comes down to
three facts, each checked here as cheaply as Python allows:

- every key is one already known to pass unchanged (a set, filled on first
  sight through the redactor's and sanitizer's own key rules);
- every string passes unchanged: either it is in a set of short strings
  already found clean, or all the new ones, joined by NUL, are within the
  size limit and one compiled regex finds nothing in them;
- the values are plain (str, int, bool, None, finite float) or small dicts
  and lists of them, within a container budget and the depth and item limits.

The pass then returns a copy (the snapshot taken at emit time).  For
anything else it returns None and the caller takes the general path (the
redactor, then the sanitizer), which gives the same result for everything
this pass accepts: tests/test_fast_path.py checks that on a generated corpus
planted with secrets.

This module imports nothing from the rest of the package: the key rule, the
regex and the limits are handed in, so the sanitizer can use it alone too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

__all__ = ["FastPath"]

# Keys and strings remembered at most; past this the set starts over (a
# producer that invents keys or values without bound costs a re-check, not
# memory).
KNOWN_MAX: Final = 4096
# Nested dicts and lists per event beyond which the general path is cheaper
# to reason about than another budget to keep exact.
MAX_CONTAINERS: Final = 32
# The mailbox's cost model of an event (its estimated size in bytes): a
# base for the struct, its dicts and the line's keys, so much per item, and
# the characters of its strings.  ``flat`` measures the events it passes
# this way, and the mailbox everything else (``approx_bytes``).
SIZE_BASE: Final = 160
SIZE_PER_ITEM: Final = 16
# What ``flat`` returns for a dict holding dicts or lists: ``snapshot``'s job.
_CONTAINERS: Final = -2

Search = Callable[[str], object]
ExtraCheck = Callable[[str, list[str]], bool]


class Snapshot(Protocol):
    """``snapshot(data, owned=False)``: the checked copy, or None for the general path."""

    def __call__(self, data: dict[Any, Any], owned: bool = False, /) -> dict[str, Any] | None: ...


class FastPath:
    """The flat pass for one configuration of the built-in steps.

    Args:
        max_string_bytes, max_items, max_depth: the limits below which the
            general path changes nothing (``max_depth``: the smaller of the
            redactor's and the sanitizer's).
        short: strings up to this many ASCII characters are remembered once
            clean; the sanitizer charges them nothing against its total budget.
        admit_key: whether a key (never seen before) always passes unchanged,
            with its value checked like any other.
        search: a regex search that finds something in every string (or NUL
            joined strings) the redactor would change; None without redactor.
        extra_ok: the user's extra patterns, checked per string (they may be
            anchored); None when there are none.

    ``snapshot(data, owned=False)`` is the pass (``owned``: ``data`` was made
    for this event and nobody else holds it, so its top level is checked and
    kept in place instead of copied; what is nested is copied either way);
    ``known(data)`` says, without copying, whether ``data`` holds only keys
    and strings already found clean and plain scalars; ``flat(data)``
    checks a dict the caller owns in place, as ``snapshot(data, True)``
    does, and returns the event's size as the mailbox estimates it (at
    least ``SIZE_BASE``: see there, an upper bound on its strings) when it
    passes without a change and holds no container, else a negative number
    (take ``snapshot``); ``values(data)`` is ``flat`` for a
    dict whose keys the caller knows ``admit_key`` passes.  None of them
    raises.
    """

    __slots__ = ("admit_key", "flat", "known", "snapshot", "values")

    def __init__(
        self,
        *,
        max_string_bytes: int,
        max_items: int,
        max_depth: int,
        short: int,
        admit_key: Callable[[Any], bool],
        search: Search | None,
        extra_ok: ExtraCheck | None,
    ) -> None:
        self.admit_key = admit_key
        self.snapshot, self.known, self.flat, self.values = _build(
            max_string_bytes, max_items, max_depth, short, admit_key, search, extra_ok
        )


def _build(
    max_str: int,
    max_items: int,
    max_depth: int,
    short: int,
    admit_key: Callable[[Any], bool],
    search: Search | None,
    extra_ok: ExtraCheck | None,
) -> tuple[
    Snapshot,
    Callable[[dict[Any, Any]], bool],
    Callable[[dict[Any, Any]], int],
    Callable[[dict[Any, Any]], int],
]:
    keys: set[Any] = set()
    strs: set[str] = set()
    # A known string holds at most ``short`` characters: bounded, not counted.
    per_item = SIZE_PER_ITEM + short
    keys_ge = keys.issuperset
    add_str = strs.add

    def admit(d: dict[Any, Any]) -> bool:
        # First sight of a key: classify it once, remember it if it passes.
        for key in d:
            if key not in keys:
                if not admit_key(key):
                    return False
                if len(keys) >= KNOWN_MAX:
                    keys.clear()
                keys.add(key)
        return True

    def texts_len(pending: list[str]) -> int:
        # The characters of the new strings (NUL-joined) once they pass, else -1.
        s = pending[0] if len(pending) == 1 else "\x00".join(pending)
        if s.isascii():
            if len(s) > max_str:
                return -1
        elif len(s.encode()) > max_str:  # a lone surrogate raises: general path
            return -1
        if search is not None and search(s) is not None:
            return -1
        if extra_ok is not None and not extra_ok(s, pending):
            return -1
        if len(strs) >= KNOWN_MAX:
            strs.clear()
        for p in pending:
            if len(p) <= short and p.isascii():
                add_str(p)
        return len(s)

    def nested(v: Any, depth: int, pending: list[str], budget: list[int]) -> Any:
        # ``v`` is a dict or a list at ``depth`` (data itself is depth 0).
        if len(v) > max_items or depth >= max_depth:
            return None
        budget[0] -= 1
        if budget[0] < 0:
            return None
        # Checked on our own copy: another thread changing the caller's
        # container cannot slip an unchecked value into the snapshot.
        out = v.copy()
        if type(out) is dict:
            if not (keys_ge(out) or admit(out)):
                return None
            items: Any = out.items()
        else:
            items = enumerate(out)
        for k, x in items:
            t = type(x)
            if t is str:
                if x not in strs:
                    pending.append(x)
            elif t is int or t is bool or x is None:
                pass
            elif t is float:
                if x - x != 0.0:
                    return None
            elif t is dict or t is list:
                x = nested(x, depth + 1, pending, budget)
                if x is None:
                    return None
                out[k] = x
            else:
                return None
        return out

    def values(out: dict[Any, Any]) -> int:
        # ``flat`` once the keys are known to pass.  The common event, checked
        # in place: no call and no budget, since it holds no container
        # (measured: 25-40% faster than the general loop with both).  Known
        # strings are at most ``short`` characters, so the bound costs
        # nothing per string.
        try:
            n = len(out)
            if n > max_items:
                return -1
            pending: list[str] | None = None
            containers = False
            for v in out.values():
                t = type(v)
                if t is str:
                    if v not in strs:
                        if pending is None:
                            pending = [v]
                        else:
                            pending.append(v)
                elif t is int or t is bool or v is None:
                    pass
                elif t is float:
                    if v - v != 0.0:
                        return -1
                elif t is dict or t is list:
                    containers = True
                else:
                    return -1
            if containers:
                return _CONTAINERS
            if pending is None:
                return SIZE_BASE + n * per_item
            chars = texts_len(pending)
            return -1 if chars < 0 else SIZE_BASE + n * per_item + chars
        except Exception:
            # A lone surrogate, a dict changed by another thread, ...: the general path copes.
            return -1

    def flat(out: dict[Any, Any]) -> int:
        try:
            if len(out) > max_items or not (keys_ge(out) or admit(out)):
                return -1
        except Exception:
            return -1
        return values(out)

    def snapshot(data: dict[Any, Any], owned: bool = False, /) -> dict[str, Any] | None:
        try:
            # Checked on our own copy (see ``nested``); a dict the caller made
            # for this event alone is its own copy already.
            out = data if owned else data.copy()
            checked = flat(out)
            if checked >= 0:
                return out
            if checked != _CONTAINERS:
                return None
            # Every value is plain or a container (``flat`` checked): now the
            # containers, copied, and the new strings at every level at once.
            pending: list[str] = []
            budget = [MAX_CONTAINERS]
            for k, v in out.items():
                t = type(v)
                if t is str:
                    if v not in strs:
                        pending.append(v)
                elif t is dict or t is list:
                    v = nested(v, 1, pending, budget)
                    if v is None:
                        return None
                    out[k] = v
            if pending and texts_len(pending) < 0:
                return None
        except Exception:
            # A lone surrogate, a container changed by another thread, a
            # RecursionError near the interpreter's limit: the general path copes.
            return None
        return out

    def known(data: dict[Any, Any]) -> bool:
        try:
            if len(data) > max_items or not keys_ge(data):
                return False
            for v in data.values():
                t = type(v)
                if t is str:
                    if v not in strs:
                        return False
                elif not (t is int or t is bool or v is None or (t is float and v - v == 0.0)):
                    return False
        except Exception:
            return False
        return True

    return snapshot, known, flat, values
