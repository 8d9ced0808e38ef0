"""What a collector tells about itself: live stats and the final result."""

from __future__ import annotations

from pathlib import Path

import msgspec

from .._events._schema import Counts


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a collector's counts, from ``trace.stats()``.

    While the trace runs, ``counts.emitted`` also includes the events still
    waiting in the mailbox or the writer's buffer (``queued``).
    """

    counts: Counts
    queued: int
    state: str
    """``open``, ``closing`` or ``closed``."""


class TraceResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``trace.result`` holds once the ``async with`` block has exited."""

    path: Path | None
    """The trace file, or ``None`` when tracing was disabled or not sampled."""
    trace_id: str
    counts: Counts
    reason: str
    """How the trace ended: ``exit``, ``exception``, ``cancelled``, ``signal``,
    ``atexit``, ``writer_error``, ``disabled``, ``not_sampled``, or (for a
    forked child's inert copy) ``forked``.  See docs/shutdown.md."""
