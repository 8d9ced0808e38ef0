"""The producer side of a collector: how events get into its mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from threading import get_ident
from time import monotonic_ns
from typing import TYPE_CHECKING, Any, Final

from .._events import _clock
from .._events._mapping import SPECIAL_KEYS, event_from_mapping
from .._events._schema import RESERVED_EVENTS, Event
from ._admission import URGENT_EVENTS

if TYPE_CHECKING:
    from ._collector import Collector


# Names and keys remembered at most; past this a set starts over.
_KNOWN_MAX: Final = 4096


class Sink:
    """Where producers hand events to one collector.

    ``await sink.emit(event)`` waits while the mailbox is full (backpressure);
    ``sink.emit_nowait(event)`` never waits and sheds, counted, when it is
    full.  Both are safe to call from any thread; ``emit_from_thread`` is the
    blocking variant for worker threads that want backpressure too.
    """

    __slots__ = (
        "_adm",
        "_admit_key",
        "_collector",
        "_keys",
        "_loop_thread",
        "_names",
        "_trace_id",
        "_values",
    )

    # Every call hands the collector the fresh data dict event_from_mapping
    # built (``owned``): the processors check it in place, no second copy.
    #
    # The common event -- a plain dict of data keys under a name seen
    # before, emitted on the collector's loop, into the default pipeline --
    # takes a lane of its own: one set lookup for the name, one superset
    # test for the keys (known to be data keys that pass redaction), one
    # pass over the values, straight into the mailbox.  Anything else, or
    # anything seen for the first time that does not pass, goes the general
    # way, which gives the same result.

    def __init__(self, collector: Collector) -> None:
        self._collector = collector
        self._adm = collector._adm
        self._trace_id = collector.trace_id
        # The collector's loop thread, once it is open (see Collector._open).
        self._loop_thread = -1
        pipeline = collector._pipeline
        self._values = pipeline.values
        self._admit_key = pipeline.admit_key
        self._names: set[str] = set()
        # "event" itself, and data keys that are neither lifted to the top
        # level nor changed by the built-in steps.
        self._keys: set[Any] = set()

    def _fast_event(self, event: Mapping[str, Any]) -> Event | None:
        """*event* built and checked in one pass, or None for the general path.

        Until the mailbox takes it, its ``seq`` holds what ``values`` found:
        its estimated size (the mailbox's ``size``)."""
        values = self._values
        if values is None or type(event) is not dict:
            return None
        try:
            name = event["event"]
            if name not in self._names and not self._learn_name(name):
                return None
            if not (self._keys.issuperset(event) or self._learn_keys(event)):
                return None
        except (KeyError, TypeError):  # no name, or an unhashable one: the general path says why
            return None
        if get_ident() != self._loop_thread:
            return None
        data = event.copy()
        del data["event"]
        size = values(data)
        if size < 0:
            return None
        return Event(
            seq=size,
            ts_ns=monotonic_ns() + _clock.offset_ns,
            event=name,
            trace_id=self._trace_id,
            data=data,
        )

    def _learn_name(self, name: object) -> bool:
        # A name the general path would take as it is: a non-empty ASCII str
        # the collector does not reserve (the sanitizer changes no ASCII name),
        # and not one the writer must write at once (those take the general
        # path, which tells the mailbox: see Admission.note).
        if (
            type(name) is not str
            or not name
            or not name.isascii()
            or name in RESERVED_EVENTS
            or name in URGENT_EVENTS
        ):
            return False
        names = self._names
        if len(names) >= _KNOWN_MAX:
            names.clear()
        names.add(name)
        return True

    def _learn_keys(self, event: dict[Any, Any]) -> bool:
        admit_key = self._admit_key
        assert admit_key is not None
        keys = self._keys
        for key in event:
            if key not in keys:
                if key != "event" and (key in SPECIAL_KEYS or not admit_key(key)):
                    return False
                if len(keys) >= _KNOWN_MAX:
                    keys.clear()
                    keys.add("event")
                keys.add(key)
        return True

    async def emit(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        """Put *event* in the mailbox, waiting while it is full.

        Returns ``True`` once the event is accepted.  With *timeout* (seconds),
        an event that finds no room in time is shed and ``False`` returned.
        If the call is cancelled while it waits, the event is shed (reason
        ``cancelled``) and ``CancelledError`` propagates as usual.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        ev = self._fast_event(event)
        if ev is not None:
            return await self._adm.put(ev, timeout, None, ev.seq)
        return await self._collector._put(event_from_mapping(event), timeout, True)

    def emit_nowait(self, event: Mapping[str, Any]) -> bool:
        """Put *event* in the mailbox if there is room; never blocks.

        Returns ``False`` when it was shed (mailbox full or collector closed).
        From any thread, ``True`` means accepted: it will be written.
        """
        ev = self._fast_event(event)
        if ev is not None:
            return self._adm.offer(ev, False, ev.seq) is True
        return self._collector._put_nowait(event_from_mapping(event), True)

    def emit_from_thread(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        """Blocking emit for a worker thread: waits for room like ``emit``.

        Must not be called from the collector's own event loop thread (that
        would deadlock); use ``await emit`` there.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        return self._collector._put_blocking(event_from_mapping(event), timeout, True)
