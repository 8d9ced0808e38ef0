"""The live-exporter hook: every written batch reaches exporters; a bad one never hurts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

import asynctrace
from asynctrace.export import ExportCounts, Exporter
from asynctrace.testing import load_events, recording

pytestmark = pytest.mark.anyio


class Recorder:
    """A well-behaved exporter that remembers what it was handed, and when."""

    def __init__(self, path: Path | None = None, counts: ExportCounts | None = None) -> None:
        self.path = path
        self.calls: list[str] = []
        self.start: asynctrace.Event | None = None
        self.batches: list[list[asynctrace.Event]] = []
        self.on_disk_at_submit: list[int] = []
        self.close_thread: threading.Thread | None = None
        self.timeout_s: float | None = None
        self.counts = counts or ExportCounts(errors=1, dropped=2)

    def open(self, start: asynctrace.Event) -> None:
        self.calls.append("open")
        self.start = start

    def submit(self, events: Sequence[asynctrace.Event]) -> None:
        self.calls.append("submit")
        self.batches.append(list(events))
        if self.path is not None:
            self.on_disk_at_submit.append(self.path.read_bytes().count(b"\n"))

    def close(self, timeout_s: float) -> ExportCounts:
        self.calls.append("close")
        self.close_thread = threading.current_thread()
        self.timeout_s = timeout_s
        if self.path is not None:
            # trace.stop is not written yet: it will carry what we return.
            assert b"trace.stop" not in self.path.read_bytes()
        return self.counts


async def test_an_exporter_gets_open_every_written_batch_then_close_before_trace_stop(
    tmp_path: Path,
) -> None:
    exp = Recorder(tmp_path / "trace.jsonl")
    assert isinstance(exp, Exporter)
    async with recording(tmp_path, exporters=[exp], shutdown_timeout=5) as rec:
        async with asynctrace.span("work", kind="tool"):
            for i in range(20):
                await rec.trace.sink.emit({"event": "e", "i": i})
        await rec.trace.flush()
        on_disk = rec.path.read_bytes().count(b"\n")
        for i in range(20, 30):
            rec.trace.sink.emit_nowait({"event": "e", "i": i})
    assert exp.calls[0] == "open" and exp.calls[-1] == "close"
    assert set(exp.calls[1:-1]) == {"submit"}
    assert exp.start is not None and exp.start.event == "trace.start" and exp.start.seq == 0
    exported = [e for batch in exp.batches for e in batch]
    # Exactly the file's lines between trace.start and trace.stop, in order, seq set.
    assert [(e.seq, e.event) for e in exported] == [(e.seq, e.event) for e in rec.events[1:-1]]
    # Each batch was handed over only once it was on disk.
    seen = 0
    for batch, lines in zip(exp.batches, exp.on_disk_at_submit, strict=True):
        seen += len(batch)
        assert lines >= seen + 1
    assert on_disk >= 1 + 22
    assert exp.close_thread is not threading.main_thread()
    assert exp.timeout_s is not None and 0 < exp.timeout_s <= 5
    counts = rec.counts
    assert (counts["export_errors"], counts["export_dropped"]) == (1, 2)


class Raising(Recorder):
    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def open(self, start: asynctrace.Event) -> None:
        super().open(start)
        if self.where == "open":
            raise RuntimeError("exporter bug in open")

    def submit(self, events: Sequence[asynctrace.Event]) -> None:
        super().submit(events)
        if self.where == "submit":
            raise RuntimeError("exporter bug in submit")

    def close(self, timeout_s: float) -> ExportCounts:
        super().close(timeout_s)
        if self.where == "close":
            raise RuntimeError("exporter bug in close")
        return ExportCounts()


@pytest.mark.parametrize("where", ["open", "submit", "close"])
async def test_a_raising_exporter_is_counted_logged_once_and_disabled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    caplog.set_level(logging.WARNING, logger="asynctrace")
    bad, good = Raising(where), Recorder(counts=ExportCounts())
    async with recording(tmp_path, exporters=[bad, good]) as rec:
        for i in range(3):
            await rec.trace.sink.emit({"event": "e", "i": i})
            await rec.trace.flush()
    assert rec.counts["export_errors"] == 1
    assert rec.counts["written"] == 3
    assert len([r for r in caplog.records if f"bug in {where}" in r.getMessage()]) == 1
    # Disabled after its failure; the other exporter never noticed.
    if where == "close":
        assert bad.calls[0] == "open" and bad.calls[-1] == "close" and "submit" in bad.calls
    else:
        assert bad.calls == {"open": ["open"], "submit": ["open", "submit"]}[where]
    assert sum(len(b) for b in good.batches) == 3
    assert good.calls[-1] == "close"


class Hanging(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def close(self, timeout_s: float) -> ExportCounts:
        self.release.wait(60)  # ignores its timeout
        return ExportCounts()


async def test_a_hanging_exporter_is_abandoned_after_shutdown_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asynctrace")
    exp = Hanging()
    try:
        async with recording(tmp_path, exporters=[exp], shutdown_timeout=0.3) as rec:
            await rec.trace.sink.emit({"event": "e"})
    finally:
        exp.release.set()
    assert rec.counts["export_errors"] == 1
    assert rec.counts["written"] == 1
    assert load_events(rec.path)[-1].event == "trace.stop"
    assert any("no answer in time" in r.getMessage() for r in caplog.records)


def test_something_that_is_not_an_exporter_is_refused_at_the_boundary() -> None:
    with pytest.raises(TypeError, match="exporters\\[0\\]"):
        asynctrace.collector(exporters=[object()])  # type: ignore[list-item]
