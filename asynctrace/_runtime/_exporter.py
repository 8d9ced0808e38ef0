"""Live exporters: the protocol a collector's ``exporters=[...]`` satisfy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from .._events._schema import Event


class ExportCounts(msgspec.Struct, frozen=True):
    """What an exporter could not deliver, reported at close."""

    errors: int = 0
    dropped: int = 0


@runtime_checkable
class Exporter(Protocol):
    """Ships a trace's events elsewhere while the trace runs; the file stays the source of truth.

    ``open`` is called once with the ``trace.start`` line (seq 0); ``submit``
    on the loop with each batch right after it was written (it must never
    block: buffer, bounded, and ship on your own thread, counting drops);
    ``close`` off the loop before ``trace.stop`` is written, blocking at most
    *timeout_s*.
    """

    def open(self, start: Event) -> None: ...

    def submit(self, events: Sequence[Event]) -> None: ...

    def close(self, timeout_s: float) -> ExportCounts: ...
