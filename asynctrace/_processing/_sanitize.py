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
# The fast path handles keys up to this long, events up to this many items.
FAST_KEY_MAX: Final = 256
FAST_MAX_CONTAINERS: Final = 1024
FAST_KEYS_MAX: Final = 4096

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
        "_keys",
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
        self._keys: set[Any] = set()
        self._fast = self.fast_snapshot(self._keys, self._admit_key, None)

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
            out = self._fast(data) if type(data) is dict else None
            ev.data = out if out is not None else self.sanitize_data(data)
            event, agent_id, status = ev.event, ev.agent_id, ev.status
            if not (
                type(event) is str
                and event.isascii()
                and (agent_id is None or (type(agent_id) is str and agent_id.isascii()))
                and (status is None or (type(status) is str and status.isascii()))
            ):
                self.fix_header(ev)
        except Exception as exc:  # pragma: no cover - defensive: the walk never raises
            if not self._warned:
                self._warned = True
                _log.warning("asynctrace: sanitizer failed: %r", exc)
            with contextlib.suppress(Exception):
                ev.data = {"sanitize_error": type_name(exc)}
        return ev

    def fix_header(self, ev: Event) -> None:
        """Make the event's own string fields valid text.

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

    def fast_snapshot(
        self,
        known_keys: set[Any],
        admit_key: Callable[[Any], bool],
        text_ok: Callable[[str, list[str]], bool] | None,
        max_depth: int | None = None,
        scan: Callable[[str], object] | None = None,
    ) -> Callable[[dict[Any, Any]], dict[str, Any] | None]:
        """A copier for the common case (see ``make_fast_snapshot``).

        It returns None for whatever needs the general path; with limits
        where the two could disagree, it always does.
        """
        if self._max_str < FAST_KEY_MAX or self._max_total < _fast_budget(
            self._max_str, self._max_items
        ):
            return _never
        return make_fast_snapshot(
            max_string_bytes=self._max_str,
            max_items=self._max_items,
            max_depth=self._max_depth if max_depth is None else min(max_depth, self._max_depth),
            known_keys=known_keys,
            admit_key=admit_key,
            text_ok=text_ok,
            scan=scan,
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


def _never(data: dict[Any, Any]) -> None:
    return None


def _fast_budget(max_str: int, max_items: int) -> int:
    # What the general walk would charge at most for anything the fast path
    # accepts (the top dict, up to max_items containers inline below it, up
    # to FAST_MAX_CONTAINERS deeper ones, all strings within max_str): below
    # it, the budget could matter and the fast path is off.
    containers = 1 + max_items + FAST_MAX_CONTAINERS
    return _ITEM_COST * containers * (max_items + 1) + max_str


def make_fast_snapshot(
    *,
    max_string_bytes: int,
    max_items: int,
    max_depth: int,
    known_keys: set[Any],
    admit_key: Callable[[Any], bool],
    text_ok: Callable[[str, list[str]], bool] | None,
    scan: Callable[[str], object] | None = None,
) -> Callable[[dict[Any, Any]], dict[str, Any] | None]:
    """The common case of the sanitizer, in one tight pass.

    The returned function copies dicts and lists of str, int, bool, None and
    finite floats, whose keys are in ``known_keys`` (or pass ``admit_key``,
    which then adds them), within the item and depth limits and at most
    ``FAST_MAX_CONTAINERS`` containers.  The strings are checked together at
    the end, joined by NUL: valid UTF-8, at most ``max_string_bytes`` in all
    (so each one is within the limit), ``scan`` finds nothing in them (if
    given) and ``text_ok`` accepts them (if given).  For
    anything else it returns None and the caller takes the general path,
    which gives the same result for everything this one accepts.
    """
    keys = known_keys
    keys_ge = keys.issuperset

    def admit_all(d: dict[Any, Any]) -> bool:
        # First sight of a key: classify it once, remember it if it passes.
        for key in d:
            if key not in keys:
                if not admit_key(key):
                    return False
                if len(keys) >= FAST_KEYS_MAX:
                    keys.clear()
                keys.add(key)
        return True

    def copy_dict(
        d: dict[Any, Any], depth: int, app: Callable[[str], None], count: list[int]
    ) -> Any:
        if len(d) > max_items or depth >= max_depth or not (keys_ge(d) or admit_all(d)):
            return None
        count[0] += 1
        if count[0] > FAST_MAX_CONTAINERS:
            return None
        depth += 1
        out = dict(d)
        for k, v in d.items():
            t = type(v)
            if t is str:
                app(v)
            elif t is int or v is None or t is bool:
                pass
            elif t is dict or t is list:
                v = (copy_dict if t is dict else copy_list)(v, depth, app, count)
                if v is None:
                    return None
                out[k] = v
            elif t is not float or v - v != 0.0:
                return None
        return out

    def copy_list(seq: list[Any], depth: int, app: Callable[[str], None], count: list[int]) -> Any:
        if len(seq) > max_items or depth >= max_depth:
            return None
        count[0] += 1
        if count[0] > FAST_MAX_CONTAINERS:
            return None
        depth += 1
        out = list(seq)
        for i, v in enumerate(seq):
            t = type(v)
            if t is str:
                app(v)
            elif t is int or v is None or t is bool:
                pass
            elif t is dict or t is list:
                v = (copy_dict if t is dict else copy_list)(v, depth, app, count)
                if v is None:
                    return None
                out[i] = v
            elif t is not float or v - v != 0.0:
                return None
        return out

    def copy_top(data: dict[Any, Any], app: Callable[[str], None]) -> Any:
        # copy_dict for depth 0, with a nested dict or list of plain values
        # (tool args, llm params) handled inline: no call per level.
        if len(data) > max_items or not (keys_ge(data) or admit_all(data)):
            return None
        out = dict(data)
        count: list[int] | None = None
        for k, v in data.items():
            t = type(v)
            if t is str:
                app(v)
            elif t is int or v is None or t is bool:
                pass
            elif t is dict or t is list:
                if max_depth < 2 or len(v) > max_items:
                    return None
                if t is dict and not (keys_ge(v) or admit_all(v)):
                    return None
                for v2 in v.values() if t is dict else v:
                    t2 = type(v2)
                    if t2 is str:
                        app(v2)
                    elif t2 is int or v2 is None or t2 is bool or (t2 is float and v2 - v2 == 0.0):
                        pass
                    else:
                        # Deeper, or not plain: the general copy of this
                        # value (its strings may be checked twice).
                        if count is None:
                            count = [1]
                        v = (copy_dict if t is dict else copy_list)(v, 1, app, count)
                        if v is None:
                            return None
                        break
                else:
                    v = dict(v) if t is dict else list(v)
                out[k] = v
            elif t is not float or v - v != 0.0:
                return None
        return out

    def snapshot(data: dict[Any, Any]) -> dict[str, Any] | None:
        strs: list[str] = []
        try:
            out: dict[str, Any] | None = copy_top(data, strs.append)
            if out is None or not strs:
                return out
            joined = strs[0] if len(strs) == 1 else "\x00".join(strs)
            if joined.isascii():
                if len(joined) > max_string_bytes:
                    return None
            elif len(joined.encode()) > max_string_bytes:
                return None
            if scan is not None and scan(joined) is not None:
                return None
            if text_ok is not None and not text_ok(joined, strs):
                return None
        except Exception:
            # A lone surrogate, RecursionError near the interpreter's limit, a
            # container changed by another thread: the general path copes.
            return None
        return out

    return snapshot


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
