"""The producer side of a collector: how events get into its mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._events._mapping import event_from_mapping

if TYPE_CHECKING:
    from ._collector import Collector


class Sink:
    """Where producers hand events to one collector.

    ``await sink.emit(event)`` waits while the mailbox is full (backpressure);
    ``sink.emit_nowait(event)`` never waits and sheds, counted, when it is
    full.  Both are safe to call from any thread; ``emit_from_thread`` is the
    blocking variant for worker threads that want backpressure too.
    """

    __slots__ = ("_collector",)

    # Every call hands the collector the fresh data dict event_from_mapping
    # built (``owned``): the processors check it in place, no second copy.

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
        return await self._collector._put(event_from_mapping(event), timeout, True)

    def emit_nowait(self, event: Mapping[str, Any]) -> bool:
        """Put *event* in the mailbox if there is room; never blocks.

        Returns ``False`` when it was shed (mailbox full or collector closed).
        From any thread, ``True`` means accepted: it will be written.
        """
        return self._collector._put_nowait(event_from_mapping(event), True)

    def emit_from_thread(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        """Blocking emit for a worker thread: waits for room like ``emit``.

        Must not be called from the collector's own event loop thread (that
        would deadlock); use ``await emit`` there.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        return self._collector._put_blocking(event_from_mapping(event), timeout, True)
