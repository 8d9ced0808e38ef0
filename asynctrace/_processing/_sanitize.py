"""The sanitizer: any payload in, a JSON-safe snapshot within limits out.

After the sanitizer, ``ev.data`` holds only dict (str keys), list, str (valid
UTF-8), int, finite float, bool and None, shares no mutable container with
what the caller passed, and respects the size limits.  It never raises:
every value it cannot represent becomes a short marker string instead.

This runs for every event on the caller's side, so the common case (a small
dict of short ASCII strings and numbers) takes a branch-light path; the
general walk handles everything else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final

import msgspec

from .._events._schema import Event
from ._fast import MAX_CONTAINERS, FastPath

__all__ = [
    "BINARY_KEY",
    "CYCLE_MARKER",
    "DEPTH_MARKER",
    "OVER_BUDGET_MARKER",
    "Sanitizer",
    "to_jsonable",
]

_log = logging.getLogger("asynctrace")

DEPTH_MARKER: Final = "[max depth]"
CYCLE_MARKER: Final = "[cycle]"
OVER_BUDGET_MARKER: Final = "[event too large]"
BINARY_KEY: Final = "__binary__"
MORE_KEYS_KEY: Final = "…"

DEFAULT_MAX_STRING_BYTES: Final = 65536
DEFAULT_MAX_ITEMS: Final = 100
DEFAULT_MAX_DEPTH: Final = 16
DEFAULT_MAX_TOTAL_BYTES: Final = 16 * 1024 * 1024
MAX_DEPTH_LIMIT: Final = 256
# The flat pass (``_fast``) handles keys up to this long.
FAST_KEY_MAX: Final = 256

# The total budget charges each container this much per item, and strings
# their length only above _CHARGE_STR_OVER characters: short strings are
# covered by the per-item charge, so the common path pays nothing for them.
_ITEM_COST: Final = 16
_CHARGE_STR_OVER: Final = 64
_REPR_MAX_CHARS: Final = 1024


def _truncation_marker(size: int) -> str:
    return f"…[truncated, {size} bytes]"


def fix_surrogates(s: str) -> str:
    """Return ``s`` as valid Unicode: surrogate pairs joined, lone ones U+FFFD."""
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clip_str(s: str, max_bytes: int) -> str:
    """Valid UTF-8 text of at most ``max_bytes`` bytes plus a truncation marker."""
    if s.isascii():
        if len(s) <= max_bytes:
            return s
        return s[:max_bytes] + _truncation_marker(len(s))
    try:
        b = s.encode()
    except UnicodeEncodeError:
        s = fix_surrogates(s)
        b = s.encode()
    if len(b) <= max_bytes:
        return s
    # "ignore" only ever drops the partial character at the cut.
    return b[:max_bytes].decode("utf-8", "ignore") + _truncation_marker(len(b))


def type_name(obj: object) -> str:
    try:
        return str(type(obj).__qualname__)
    except Exception:
        return "object"


def safe_repr(obj: object, max_chars: int = _REPR_MAX_CHARS) -> str:
    """``repr(obj)`` clipped to ``max_chars``; never raises."""
    try:
        r = repr(obj)
        if type(r) is not str:
            r = str.__str__(r)
    except Exception:
        return f"<unrepresentable {type_name(obj)}>"
    if len(r) > max_chars:
        r = r[:max_chars] + f"…[truncated, {len(r)} chars]"
    return r


def exception_to_dict(exc: BaseException) -> dict[str, Any]:
    try:
        message = str(exc)
    except Exception:
        message = f"<unrepresentable {type_name(exc)}>"
    return {"type": type_name(exc), "message": message}


def struct_to_dict(obj: object) -> dict[Any, Any] | None:
    """Fields of a dataclass instance, msgspec Struct or pydantic-like model.

    Returns None when ``obj`` is none of these.  Shallow on purpose: the
    caller walks the values with its own depth and cycle limits, which a
    recursive ``dataclasses.asdict`` or ``model_dump`` would bypass.
    """
    if isinstance(obj, msgspec.Struct):
        return {f: getattr(obj, f, None) for f in obj.__struct_fields__}
    if isinstance(obj, type):
        return None
    fields = getattr(type(obj), "__dataclass_fields__", None)
    if fields is not None:
        return {
            f.name: getattr(obj, f.name, None)
            for f in dataclasses.fields(obj)  # type: ignore[arg-type]
        }
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, dict):
            return dumped
    return None


class Sanitizer:
    """Processor that turns ``ev.data`` into a JSON-safe, size-limited snapshot.

    Limits (all positive ints):

    - ``max_string_bytes``: longer strings are cut on a UTF-8 boundary and
      end with ``…[truncated, N bytes]`` (N = original size in bytes).
    - ``max_items``: a longer list keeps its first items plus a final
      ``"…[+N more items]"``; a bigger dict keeps its first keys plus the
      key ``"…"`` with ``"[+N more keys]"``.
    - ``max_depth``: ``data`` itself is depth 0; a container at depth
      ``max_depth`` or deeper becomes ``"[max depth]"`` (at most 256).
    - ``max_total_bytes``: an approximate bound on the whole output (it
      stops shared sub-objects from expanding exponentially); past it,
      values become ``"[event too large]"``.
    """

    __slots__ = (
        "_fast",
        "_max_depth",
        "_max_items",
        "_max_str",
        "_max_total",
        "_short",
        "_warned",
    )

    def __init__(
        self,
        *,
        max_string_bytes: int = DEFAULT_MAX_STRING_BYTES,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    ) -> None:
        for name, value in (
            ("max_string_bytes", max_string_bytes),
            ("max_items", max_items),
            ("max_depth", max_depth),
            ("max_total_bytes", max_total_bytes),
        ):
            if type(value) is not int:
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if max_depth > MAX_DEPTH_LIMIT:
            # Each level costs a few Python frames; stay far from the
            # interpreter's recursion limit.
            raise ValueError(f"max_depth must be at most {MAX_DEPTH_LIMIT}, got {max_depth}")
        self._max_str = max_string_bytes
        # Strings up to this long need no clipping and no budget charge.
        self._short = min(_CHARGE_STR_OVER, max_string_bytes)
        self._max_items = max_items
        self._max_depth = max_depth
        self._max_total = max_total_bytes
        self._warned = False
        fast = self.fast_path()
        self._fast = None if fast is None else fast.snapshot

    @property
    def max_string_bytes(self) -> int:
        return self._max_str

    @property
    def max_items(self) -> int:
        return self._max_items

    @property
    def max_depth(self) -> int:
        return self._max_depth

    @property
    def max_total_bytes(self) -> int:
        return self._max_total

    def __repr__(self) -> str:
        return (
            f"Sanitizer(max_string_bytes={self._max_str}, max_items={self._max_items}, "
            f"max_depth={self._max_depth}, max_total_bytes={self._max_total})"
        )

    def __call__(self, ev: Event) -> Event:
        try:
            data = ev.data
            fast = self._fast
            out = fast(data) if fast is not None and type(data) is dict else None
            ev.data = out if out is not None else self.sanitize_data(data)
            self.fix_header(ev)
        except Exception as exc:  # pragma: no cover - defensive: the walk never raises
            if not self._warned:
                self._warned = True
                _log.warning("asynctrace: sanitizer failed: %r", exc)
            with contextlib.suppress(Exception):
                ev.data = {"sanitize_error": type_name(exc)}
        return ev

    def fix_header(self, ev: Event) -> None:
        """Make the event's own string fields valid text (cheap when they are ASCII).

        They come from the caller too; a lone surrogate in one would make
        the whole line unencodable.
        """
        event = ev.event
        if type(event) is not str or not event.isascii():
            ev.event = self._key(event)
        agent_id = ev.agent_id
        if agent_id is not None and (type(agent_id) is not str or not agent_id.isascii()):
            ev.agent_id = self._key(agent_id)
        status = ev.status
        if status is not None and (type(status) is not str or not status.isascii()):
            ev.status = self._key(status)

    def sanitize_data(self, data: object) -> dict[str, Any]:
        """The snapshot of an event's ``data``: always a dict, never raises."""
        value = self.to_jsonable(data)
        if type(value) is dict:
            return value
        return {"value": value}

    def to_jsonable(self, value: object) -> Any:
        """The JSON-safe form of ``value`` under this sanitizer's limits."""
        try:
            return self._walk(value, 0, (), [self._max_total])
        except RecursionError:
            return DEPTH_MARKER
        except Exception as exc:
            # Only reachable through something like a dict resized by another
            # thread mid-walk; keep the event, lose this value.
            return f"<unrepresentable {type_name(value)}: {type_name(exc)}>"

    def _admit_key(self, key: Any) -> bool:
        return type(key) is str and len(key) <= FAST_KEY_MAX and key.isascii()

    def fast_path(
        self,
        admit_key: Callable[[Any], bool] | None = None,
        search: Callable[[str], object] | None = None,
        extra_ok: Callable[[str, list[str]], bool] | None = None,
        max_depth: int | None = None,
    ) -> FastPath | None:
        """The flat pass (see ``_fast``) for this sanitizer, after a redactor
        described by ``admit_key``, ``search`` and ``extra_ok`` (none: alone).

        None when the limits are so tight that the total budget could cut
        something the pass accepts: then only the general walk is exact.
        """
        if self._max_str < FAST_KEY_MAX or self._max_total < _fast_budget(
            self._max_str, self._max_items
        ):
            return None
        return FastPath(
            max_string_bytes=self._max_str,
            max_items=self._max_items,
            max_depth=self._max_depth if max_depth is None else min(max_depth, self._max_depth),
            short=self._short,
            admit_key=self._admit_key if admit_key is None else admit_key,
            search=search,
            extra_ok=extra_ok,
        )

    # -- the general walk -------------------------------------------------

    def _walk(self, v: Any, depth: int, path: tuple[int, ...], budget: list[int]) -> Any:
        t = type(v)
        if t is str:
            if len(v) <= self._short and v.isascii():
                return v
            return self._str(v, budget)
        if t is int or v is None or t is bool:
            return v
        if t is float:
            return v if v - v == 0.0 else _float_marker(v)
        if t is dict:
            return self._dict(v, depth, path, budget)
        if t is list or t is tuple:
            return self._list(v, depth, path, budget)
        return self._other(v, t, depth, path, budget)

    def _str(self, s: str, budget: list[int]) -> str:
        out = clip_str(s, self._max_str)
        budget[0] -= len(out)
        if budget[0] < 0:
            return OVER_BUDGET_MARKER
        return out

    def _key(self, k: Any) -> str:
        """A dict key (or header field) as valid, clipped text."""
        if type(k) is str:
            if k.isascii() and len(k) <= self._max_str:
                return k
            return clip_str(k, self._max_str)
        if isinstance(k, enum.Enum):
            k = k.value
        if isinstance(k, str):
            return clip_str(str.__str__(k), self._max_str)
        if isinstance(k, float):
            f = float(k)
            return repr(f) if f - f == 0.0 else _float_marker(f)
        try:
            s = str(k)
            if type(s) is not str:
                s = str.__str__(s)
        except Exception:
            s = f"<unrepresentable {type_name(k)}>"
        return clip_str(s, self._max_str)

    def _dict(
        self, d: Mapping[Any, Any], depth: int, path: tuple[int, ...], budget: list[int]
    ) -> Any:
        if depth >= self._max_depth:
            return DEPTH_MARKER
        ident = id(d)
        if ident in path:
            return CYCLE_MARKER
        n = len(d)
        keep = n if n <= self._max_items else self._max_items
        budget[0] -= _ITEM_COST * keep + _ITEM_COST
        if budget[0] < 0:
            return OVER_BUDGET_MARKER
        sub = (*path, ident)
        depth += 1
        walk = self._walk
        max_str = self._max_str
        out: dict[str, Any] = {}
        renamed = False
        for k, v in _first_items(d, keep):
            if type(k) is str and len(k) <= max_str and k.isascii():
                key = k
                if renamed and key in out:
                    key = _unique_key(key, out)
            else:
                # Converted keys can collide with each other or with real
                # string keys, before or after them: from here on, check.
                renamed = True
                key = _unique_key(self._key(k), out)
            out[key] = walk(v, depth, sub, budget)
        if n > keep:
            out[_unique_key(MORE_KEYS_KEY, out)] = f"[+{n - keep} more keys]"
        return out

    def _list(self, seq: Any, depth: int, path: tuple[int, ...], budget: list[int]) -> Any:
        """``seq`` is a list or tuple."""
        if depth >= self._max_depth:
            return DEPTH_MARKER
        ident = id(seq)
        if ident in path:
            return CYCLE_MARKER
        n = len(seq)
        keep = n if n <= self._max_items else self._max_items
        budget[0] -= _ITEM_COST * keep + _ITEM_COST
        if budget[0] < 0:
            return OVER_BUDGET_MARKER
        sub = (*path, ident)
        depth += 1
        walk = self._walk
        out = [walk(v, depth, sub, budget) for v in (seq if n <= keep else seq[:keep])]
        if n > keep:
            out.append(f"…[+{n - keep} more items]")
        return out

    def _other(self, v: Any, t: type, depth: int, path: tuple[int, ...], budget: list[int]) -> Any:
        if t is bytes or t is bytearray or t is memoryview:
            # Never decoded: bytes are opaque to the redactor, so showing
            # them as text could show a secret.
            return {BINARY_KEY: True, "size": v.nbytes if t is memoryview else len(v)}
        if id(v) in path:
            return CYCLE_MARKER
        if t is set or t is frozenset:
            return self._seq(_sorted_if_possible(v), v, depth, path, budget)
        if isinstance(v, enum.Enum):
            if depth >= self._max_depth:
                return DEPTH_MARKER
            return self._walk(v.value, depth + 1, path, budget)
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            f = float(v)
            return f if f - f == 0.0 else _float_marker(f)
        if isinstance(v, str):
            return self._str(str.__str__(v), budget)
        if isinstance(v, bytes | bytearray):
            return {BINARY_KEY: True, "size": len(v)}
        if isinstance(v, BaseException):
            return self._dict(exception_to_dict(v), depth, path, budget)
        if isinstance(v, _dt.datetime | _dt.date | _dt.time):
            return self._str(v.isoformat(), budget)
        if isinstance(v, uuid.UUID | Decimal | PurePath | _dt.timedelta):
            return self._str(str(v), budget)
        try:
            if isinstance(v, tuple) and hasattr(v, "_asdict"):
                return self._obj(v._asdict(), v, depth, path, budget)
            if isinstance(v, dict):
                return self._dict(v, depth, path, budget)
            if isinstance(v, Mapping):
                return self._obj(dict(v.items()), v, depth, path, budget)
            if isinstance(v, list | tuple):
                return self._list(v, depth, path, budget)
            if isinstance(v, set | frozenset):
                return self._seq(_sorted_if_possible(v), v, depth, path, budget)
            if isinstance(v, deque):
                return self._seq(list(v), v, depth, path, budget)
            fields = struct_to_dict(v)
            if fields is not None:
                return self._obj(fields, v, depth, path, budget)
        except Exception:
            pass
        return self._str(safe_repr(v, min(self._max_str, _REPR_MAX_CHARS)), budget)

    def _obj(
        self,
        fields: dict[Any, Any],
        owner: object,
        depth: int,
        path: tuple[int, ...],
        budget: list[int],
    ) -> Any:
        # A cycle returns to the object, not to the fresh dict made from it.
        if depth >= self._max_depth:
            return DEPTH_MARKER
        return self._dict(fields, depth, (*path, id(owner)), budget)

    def _seq(
        self,
        items: list[Any],
        owner: object,
        depth: int,
        path: tuple[int, ...],
        budget: list[int],
    ) -> Any:
        if depth >= self._max_depth:
            return DEPTH_MARKER
        return self._list(items, depth, (*path, id(owner)), budget)


def _fast_budget(max_str: int, max_items: int) -> int:
    # What the general walk would charge at most for anything the flat pass
    # accepts: the top dict and up to MAX_CONTAINERS below it, each within
    # max_items, and the strings it did not already know (at most max_str in
    # all; the known ones are short, which costs nothing).  Below it, the
    # budget could matter and the pass is off.
    return _ITEM_COST * (1 + MAX_CONTAINERS) * (max_items + 1) + max_str


def _float_marker(f: float) -> str:
    if f != f:
        return "NaN"
    return "Infinity" if f > 0 else "-Infinity"


def _unique_key(key: str, taken: Mapping[str, Any]) -> str:
    if key not in taken:
        return key
    n = 2
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"


def _first_items(d: Mapping[Any, Any], keep: int) -> list[tuple[Any, Any]]:
    # A snapshot list, so a dict changed by another thread mid-walk cannot
    # raise "dictionary changed size during iteration" from inside the walk.
    if len(d) <= keep:
        return list(d.items())
    return list(itertools.islice(d.items(), keep))


def _sorted_if_possible(items: Any) -> list[Any]:
    """A set's members in a stable order when they compare, else as iterated."""
    members = list(items)
    with contextlib.suppress(Exception):
        members.sort()
    return members


_DEFAULT: Final = Sanitizer()


def to_jsonable(
    value: object,
    *,
    max_string_bytes: int = DEFAULT_MAX_STRING_BYTES,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
) -> Any:
    """The JSON-safe form of ``value`` (see ``Sanitizer``); never raises.

    Bad limits raise ``ValueError``/``TypeError``, as for ``Sanitizer``.
    """
    if (
        max_string_bytes == DEFAULT_MAX_STRING_BYTES
        and max_items == DEFAULT_MAX_ITEMS
        and max_depth == DEFAULT_MAX_DEPTH
        and max_total_bytes == DEFAULT_MAX_TOTAL_BYTES
    ):
        return _DEFAULT.to_jsonable(value)
    return Sanitizer(
        max_string_bytes=max_string_bytes,
        max_items=max_items,
        max_depth=max_depth,
        max_total_bytes=max_total_bytes,
    ).to_jsonable(value)
