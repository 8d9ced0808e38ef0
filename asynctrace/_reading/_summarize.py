"""Recompute the ``trace.stop`` summary from a file, with the writer's own builder."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .._agent._summary import SummaryBuilder
from .._events._schema import Event
from ._reader import COLLECTOR_LINES, TraceReader, read


def summarize(source: str | os.PathLike[str] | TraceReader | Iterable[Event]) -> dict[str, Any]:
    """The ``summary`` object of ``trace.stop``, recomputed from a trace.

    ``source`` is a path, a :class:`TraceReader` or any iterable of events.
    The collector's own lines (``trace.start``, ``agent.config``,
    ``trace.stop``) are skipped, as the writer skips them.  For a trace that
    was closed normally the result equals ``stop.data["summary"]``.
    """
    builder = SummaryBuilder()
    add = builder.add
    skip = COLLECTOR_LINES
    if isinstance(source, str | os.PathLike):
        source = read(source)
    if isinstance(source, TraceReader):
        for batch in source.batches():
            for ev in batch:
                if ev.event not in skip:
                    add(ev)
    else:
        for ev in source:
            if not isinstance(ev, Event):
                raise TypeError(f"expected Event items, got {type(ev).__name__}")
            if ev.event not in skip:
                add(ev)
    return builder.result()
