"""Helpers for testing your own tracing.

    from asynctrace.testing import recording, assert_valid_trace

    async def test_my_agent_traces_its_tool_calls(tmp_path):
        async with recording(tmp_path) as rec:
            await my_agent()
        assert rec.names().count("tool.stop") == 2
        assert_valid_trace(rec.events)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .._events._codec import EVENT_DECODER
from .._events._schema import TRACE_START, TRACE_STOP, Event
from .._runtime._collector import Collector
from .._runtime._open import collector
from ._replay import ReplayMismatch, replay_http_client, replay_transport

__all__ = [
    "Recording",
    "ReplayMismatch",
    "TraceInvalid",
    "assert_valid_trace",
    "load_events",
    "recording",
    "replay_http_client",
    "replay_transport",
]


class TraceInvalid(AssertionError):
    """A trace file breaks one of the schema's invariants."""


def load_events(path: str | os.PathLike[str]) -> list[Event]:
    """Every line of a trace file as an ``Event``; strict: a bad line raises."""
    with open(path, "rb") as f:
        return [EVENT_DECODER.decode(line) for line in f if line.strip()]


class Recording:
    """A trace written during a ``recording()`` block, loaded once it closed."""

    def __init__(self, path: Path, trace: Collector) -> None:
        self.path = path
        self.trace = trace
        self.events: list[Event] = []

    def names(self) -> list[str]:
        """Event names in file order, without ``trace.start``/``trace.stop``."""
        return [e.event for e in self.events if e.event not in (TRACE_START, TRACE_STOP)]

    def find(self, name: str) -> list[Event]:
        return [e for e in self.events if e.event == name]

    @property
    def stop(self) -> Event:
        return self.events[-1]

    @property
    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = self.stop.data["counts"]
        return counts


@asynccontextmanager
async def recording(
    directory: str | os.PathLike[str], name: str = "trace.jsonl", **options: Any
) -> AsyncIterator[Recording]:
    """Open a collector writing to ``directory/name``; load the file after the block.

    ``options`` are passed to ``asynctrace.collector``.  After the block,
    ``rec.events`` holds every line and the trace has been validated with
    ``assert_valid_trace``.
    """
    path = Path(directory) / name
    async with collector(path, enabled=True, **options) as trace:
        assert isinstance(trace, Collector)
        rec = Recording(path, trace)
        yield rec
    rec.events = load_events(path)
    assert_valid_trace(rec.events)


def assert_valid_trace(events: Sequence[Event] | Iterable[Event]) -> None:
    """Raise ``TraceInvalid`` unless *events* form a complete, consistent trace.

    Checks: ``trace.start`` first and ``trace.stop`` last; ``seq`` 0, 1, 2...
    with no gaps; one trace id; every span start has exactly one stop (and
    vice versa); the counts invariant ``emitted == written + shed + write_errors``.
    """
    evs = list(events)
    if not evs:
        raise TraceInvalid("the trace is empty")
    if evs[0].event != TRACE_START:
        raise TraceInvalid(f"first line is {evs[0].event!r}, not trace.start")
    if evs[-1].event != TRACE_STOP:
        raise TraceInvalid(f"last line is {evs[-1].event!r}, not trace.stop")
    for i, ev in enumerate(evs):
        if ev.seq != i:
            raise TraceInvalid(f"line {i + 1} has seq {ev.seq}, expected {i}")
        if ev.trace_id != evs[0].trace_id:
            raise TraceInvalid(f"line {i + 1} has trace_id {ev.trace_id}, expected {evs[0].trace_id}")
    starts: dict[str, str] = {}
    stops: set[str] = set()
    for ev in evs:
        if ev.span_id is None:
            continue
        kind, _, phase = ev.event.partition(".")
        if phase == "start":
            if ev.span_id in starts:
                raise TraceInvalid(f"span {ev.span_id} started twice")
            starts[ev.span_id] = kind
        elif phase == "stop":
            if ev.span_id in stops:
                raise TraceInvalid(f"span {ev.span_id} stopped twice")
            if ev.span_id not in starts:
                raise TraceInvalid(f"span {ev.span_id} stopped but never started")
            stops.add(ev.span_id)
    unclosed = set(starts) - stops
    if unclosed:
        raise TraceInvalid(f"{len(unclosed)} span(s) never stopped: {sorted(unclosed)[:5]}")
    counts = evs[-1].data.get("counts", {})
    if counts.get("emitted") != counts.get("written", 0) + counts.get("shed", 0) + counts.get(
        "write_errors", 0
    ):
        raise TraceInvalid(f"counts break emitted == written + shed + write_errors: {counts}")
