"""The producer side of a collector: how events get into its mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import TYPE_CHECKING, Any, Final

from .._events._schema import TOP_LEVEL_FIELDS, Event

if TYPE_CHECKING:
    from ._collector import Collector

_STR_FIELDS = ("span_id", "parent_span_id", "status", "agent_id")
# Keys that need the general path: lifted to the top level, or merged.
_SPECIAL_KEYS: Final = TOP_LEVEL_FIELDS | {"data"}


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
        if type(name) is str and name and _SPECIAL_KEYS.isdisjoint(event):
            copied = event.copy()
            del copied["event"]
            return Event(ts_ns=time_ns(), event=name, data=copied)
    elif not isinstance(event, Mapping):
        raise TypeError(f"an event must be a mapping, got {type(event).__name__}")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise ValueError(f"an event needs a non-empty string 'event' name, got {name!r}")
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
    for key in ("ts_ns", "duration_ns"):
        value = top.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"event field {key!r} must be an int, got {type(value).__name__}")
    ts_ns = top.pop("ts_ns", None)
    return Event(ts_ns=time_ns() if ts_ns is None else ts_ns, event=name, data=data, **top)


class Sink:
    """Where producers hand events to one collector.

    ``await sink.emit(event)`` waits while the mailbox is full (backpressure);
    ``sink.emit_nowait(event)`` never waits and sheds, counted, when it is
    full.  Both are safe to call from any thread; ``emit_from_thread`` is the
    blocking variant for worker threads that want backpressure too.
    """

    __slots__ = ("_collector",)

    def __init__(self, collector: Collector) -> None:
        self._collector = collector

    async def emit(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        """Put *event* in the mailbox, waiting while it is full.

        Returns ``True`` once the event is accepted.  With *timeout* (seconds),
        an event that finds no room in time is shed and ``False`` returned.
        If the call is cancelled while it waits, the event is shed (reason
        ``cancelled``) and ``CancelledError`` propagates as usual.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        return await self._collector.offer(event_from_mapping(event), timeout)

    def emit_nowait(self, event: Mapping[str, Any]) -> bool:
        """Put *event* in the mailbox if there is room; never blocks.

        Returns ``False`` when it was shed (mailbox full or collector closed).
        From a thread other than the collector's loop, ``True`` means the
        event was handed to the loop; it is still counted if shed there.
        """
        return self._collector.offer_nowait(event_from_mapping(event))

    def emit_from_thread(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        """Blocking emit for a worker thread: waits for room like ``emit``.

        Must not be called from the collector's own event loop thread (that
        would deadlock); use ``await emit`` there.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        return self._collector.offer_from_thread(event_from_mapping(event), timeout)
