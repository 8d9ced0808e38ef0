"""Building an :class:`Event` from what a producer hands over: the API boundary."""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic_ns
from typing import Any, Final

from . import _clock
from ._schema import RESERVED_EVENTS, STATUSES, TOP_LEVEL_FIELDS, Event

_STR_FIELDS: Final = ("span_id", "parent_span_id", "status", "agent_id")
# Keys that need the general path: lifted to the top level, or merged.
SPECIAL_KEYS: Final = TOP_LEVEL_FIELDS | {"data"}


def check_event_name(name: object) -> str:
    """*name* if a producer may emit it; a clear error otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an event needs a non-empty string 'event' name, got {name!r}")
    if name in RESERVED_EVENTS:
        raise ValueError(f"{name!r} is written by the collector itself; pick another event name")
    return name


def check_status(status: object) -> None:
    if status is not None and status not in STATUSES:
        raise ValueError(f"event status must be one of {sorted(STATUSES)} or None, got {status!r}")


def event_from_mapping(event: Mapping[str, Any]) -> Event:
    """Build an :class:`Event` from a producer's mapping.

    ``event`` names it; the schema's top-level fields are lifted; a ``data``
    mapping is merged with every other key under ``data``.  Raises
    ``TypeError``/``ValueError`` for a mapping that cannot be an event: this
    is the API boundary, so bad input fails loudly here, not in the writer.
    """
    if type(event) is dict:
        # The common event: a plain dict of data keys.  Same result as the
        # loop below, in one C-level copy.
        name = event.get("event")
        if type(name) is str and name and name not in RESERVED_EVENTS and SPECIAL_KEYS.isdisjoint(event):
            copied = event.copy()
            del copied["event"]
            return Event(ts_ns=monotonic_ns() + _clock.offset_ns, event=name, data=copied)
    elif not isinstance(event, Mapping):
        raise TypeError(f"an event must be a mapping, got {type(event).__name__}")
    name = check_event_name(event.get("event"))
    data: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in event.items():
        if key == "event":
            continue
        if key in TOP_LEVEL_FIELDS:
            top[key] = value
        elif key == "data" and isinstance(value, Mapping):
            data.update(value)
        else:
            data[key] = value
    for key in _STR_FIELDS:
        value = top.get(key)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"event field {key!r} must be a string, got {type(value).__name__}")
    check_status(top.get("status"))
    for key in ("ts_ns", "duration_ns"):
        value = top.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"event field {key!r} must be an int, got {type(value).__name__}")
    ts_ns = top.pop("ts_ns", None)
    return Event(ts_ns=_clock.now_ns() if ts_ns is None else ts_ns, event=name, data=data, **top)


def point_event(name: str, data: dict[str, Any], parent_span_id: str | None) -> Event:
    """The event of ``asynctrace.emit(name, **data)`` / ``span.event(name, **data)``.

    Keyword names that would change the envelope rather than the data
    (``event``) are refused, as are statuses a reader would reject.
    """
    if "event" in data:
        raise TypeError(
            "'event' is reserved: the event's name is the first argument "
            "(pass the value under another keyword)"
        )
    ev = event_from_mapping({"event": name, **data}) if data else Event(
        ts_ns=_clock.now_ns(), event=check_event_name(name), data={}
    )
    if ev.parent_span_id is None:
        ev.parent_span_id = parent_span_id
    return ev
