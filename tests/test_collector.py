"""The collector actor: ordering, counts, backpressure, limits and failures."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import asynctrace
from asynctrace._runtime import _file
from asynctrace.testing import assert_valid_trace, load_events, recording

pytestmark = pytest.mark.anyio


def slow_writes(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make every write of the trace file take *seconds* (on the writer thread)."""
    original = _file.TraceFile.write

    def write(self: _file.TraceFile, b: Any, /) -> int:
        import time

        time.sleep(seconds)
        return original(self, b)

    monkeypatch.setattr(_file.TraceFile, "write", write)


def gated_writes(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Writes of the trace file wait while the returned gate is clear (a hung disk)."""
    gate = threading.Event()
    gate.set()
    original = _file.TraceFile.write

    def write(self: _file.TraceFile, b: Any, /) -> int:
        gate.wait(10)
        return original(self, b)

    monkeypatch.setattr(_file.TraceFile, "write", write)
    return gate


async def wait_until_taken(trace: asynctrace.Collector) -> None:
    """Until the writer has taken the one event a 1-slot mailbox held."""
    with anyio.fail_after(10):
        while trace._adm.items:
            await anyio.sleep(0.005)


async def jam(trace: asynctrace.Collector) -> None:
    """With the disk gated and batch_bytes=1: one write stuck, one batch behind it.

    The writer then takes nothing more, so the next event fills a 1-slot mailbox.
    """
    await trace.flush()
    trace.sink.emit_nowait({"event": "first"})
    await wait_until_taken(trace)  # the writer is stuck writing it
    trace.sink.emit_nowait({"event": "behind"})
    await wait_until_taken(trace)  # encoded behind it: the backlog is full


async def test_events_are_written_in_order_with_gapless_seq(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        for i in range(1000):
            await rec.trace.sink.emit({"event": "step", "i": i})
    assert [e.seq for e in rec.events] == list(range(1002))
    assert [e.data["i"] for e in rec.find("step")] == list(range(1000))
    assert rec.events[0].event == "trace.start"
    assert rec.events[-1].event == "trace.stop"
    assert rec.counts["emitted"] == rec.counts["written"] == 1000


async def test_trace_start_carries_identity_and_metadata(tmp_path: Path) -> None:
    async with recording(
        tmp_path, trace_kind="benchmark", producer="tests", label="case-1", model="m", query="q",
        meta={"run": 3},
    ) as rec:
        pass
    start = rec.events[0].data
    assert start["schema_version"] == asynctrace.SCHEMA_VERSION == 2
    assert start["trace_kind"] == "benchmark"
    assert start["producer"] == "tests"
    assert start["label"] == "case-1"
    assert (start["model"], start["query"], start["meta"]) == ("m", "q", {"run": 3})
    assert start["pid"] == os.getpid()
    assert start["asynctrace_version"] == asynctrace.__version__
    assert rec.events[0].trace_id == rec.trace.trace_id


async def test_overload_sheds_and_counts_exactly(tmp_path: Path) -> None:
    async with recording(tmp_path, max_mailbox_len=100) as rec:
        accepted = sum(rec.trace.sink.emit_nowait({"event": "burst", "i": i}) for i in range(5000))
    counts = rec.counts
    assert counts["emitted"] == 5000
    assert counts["written"] == accepted == len(rec.find("burst"))
    assert counts["shed"] == counts["shed_by_reason"]["mailbox_full"] == 5000 - accepted
    assert counts["written"] + counts["shed"] == counts["emitted"]
    assert accepted == 100  # nothing yielded to the writer during the burst


async def test_awaited_emit_waits_for_room_instead_of_shedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_writes(monkeypatch, 0.002)
    waited = 0
    async with recording(tmp_path, max_mailbox_len=4, batch_size=1) as rec:
        for i in range(40):
            if len(rec.trace._adm.items) >= 4:
                waited += 1
            assert await rec.trace.sink.emit({"event": "e", "i": i}) is True
            assert rec.trace.stats().counts.shed == 0
    assert waited > 0
    assert rec.counts["shed"] == 0
    assert rec.counts["written"] == 40


async def test_awaited_emit_suspends_the_producer_while_the_mailbox_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gated_writes(monkeypatch)
    async with recording(tmp_path, max_mailbox_len=1, batch_size=1, batch_bytes=1) as rec:
        await rec.trace.flush()
        gate.clear()
        await jam(rec.trace)
        assert rec.trace.sink.emit_nowait({"event": "fill"}) is True
        assert len(rec.trace._adm.items) == 1  # full
        task = asyncio.create_task(rec.trace.sink.emit({"event": "blocked"}))
        await asyncio.sleep(0.05)  # the task runs, finds no room, and suspends
        assert not task.done()
        gate.set()
        assert await task is True  # resumed once the writer made room
    assert rec.names()[-1] == "blocked"
    assert rec.counts["shed"] == 0, (rec.counts, rec.names())


async def test_awaited_emit_with_timeout_sheds_when_no_room_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gated_writes(monkeypatch)
    async with recording(tmp_path, max_mailbox_len=1, batch_size=1, batch_bytes=1) as rec:
        await rec.trace.flush()
        gate.clear()
        await jam(rec.trace)
        assert rec.trace.sink.emit_nowait({"event": "b"}) is True  # the mailbox is full now
        assert await rec.trace.sink.emit({"event": "c"}, timeout=0.05) is False
        gate.set()
    assert rec.counts["shed_by_reason"]["timeout"] == 1
    assert rec.names() == ["first", "behind", "b"]


async def test_oversize_event_is_replaced_and_counted(tmp_path: Path) -> None:
    async with recording(tmp_path, max_event_bytes=1024) as rec:
        await rec.trace.sink.emit({"event": "small", "x": 1})
        await rec.trace.sink.emit({"event": "big", "blob": "x" * 5000, "span_id": "a" * 16})
    omitted = rec.find("trace.event_omitted")
    assert len(omitted) == 1
    assert omitted[0].data["event"] == "big"
    assert omitted[0].data["bytes"] > 5000
    assert omitted[0].data["cap"] == 1024
    assert omitted[0].span_id == "a" * 16
    assert rec.counts["oversize"] == 1
    assert rec.counts["written"] == 2


async def test_agent_config_is_written_once_per_agent_before_its_first_event(tmp_path: Path) -> None:
    cfg = {"model": "m1", "tools": ["search"]}
    async with recording(tmp_path) as rec:
        for i in range(3):
            await rec.trace.sink.emit({"event": "step", "agent_id": "a1", "agent_config": cfg, "i": i})
        await rec.trace.sink.emit({"event": "step", "agent_id": "a2", "agent_config": {"model": "m2"}})
    assert rec.names() == ["agent.config", "step", "step", "step", "agent.config", "step"]
    configs = rec.find("agent.config")
    assert [c.agent_id for c in configs] == ["a1", "a2"]
    assert configs[0].data == cfg
    assert all("agent_config" not in e.data for e in rec.find("step"))
    assert rec.counts["emitted"] == rec.counts["written"] == 4


async def test_an_event_mutated_after_emit_is_written_as_it_was(tmp_path: Path) -> None:
    payload: dict[str, Any] = {"event": "tool.call", "args": {"q": "before", "items": [1, 2]}}
    async with recording(tmp_path) as rec:
        rec.trace.sink.emit_nowait(payload)
        payload["args"]["q"] = "after"
        payload["args"]["items"].append(3)
        payload["extra"] = True
    (ev,) = rec.find("tool.call")
    assert ev.data == {"args": {"q": "before", "items": [1, 2]}}


async def test_schema_fields_go_to_the_top_level_and_the_rest_under_data(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        await rec.trace.sink.emit(
            {"event": "x", "status": "ok", "agent_id": "a", "duration_ns": 5, "k": 1, "data": {"j": 2}}
        )
    (ev,) = rec.find("x")
    assert (ev.status, ev.agent_id, ev.duration_ns) == ("ok", "a", 5)
    assert ev.data == {"j": 2, "k": 1}


async def test_bad_events_are_rejected_at_the_sink(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        with pytest.raises(ValueError, match="event"):
            rec.trace.sink.emit_nowait({"no_name": 1})
        with pytest.raises(TypeError, match="mapping"):
            rec.trace.sink.emit_nowait(["event", "x"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="span_id"):
            await rec.trace.sink.emit({"event": "x", "span_id": 3})
    assert rec.counts["emitted"] == 0


async def test_write_errors_are_counted_and_the_program_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asynctrace")

    def disk_full(self: _file.TraceFile, b: Any, /) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_file.TraceFile, "write", disk_full)
    async with asynctrace.collector(tmp_path / "full.jsonl") as trace:
        for i in range(50):
            await trace.sink.emit({"event": "e", "i": i})
        await trace.flush()
        for i in range(50):
            trace.sink.emit_nowait({"event": "e", "i": i})
    counts = trace.result.counts
    assert counts.emitted == 100
    assert counts.write_errors == 100
    assert counts.written == 0
    assert counts.emitted == counts.written + counts.shed + counts.write_errors
    warnings = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(warnings) == 1


async def test_flush_writes_everything_accepted_so_far(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        for i in range(10):
            rec.trace.sink.emit_nowait({"event": "e", "i": i})
        assert await rec.trace.flush() is True
        on_disk = rec.path.read_bytes().count(b"\n")
        assert on_disk == 11  # trace.start + 10


async def test_flush_honours_its_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow_writes(monkeypatch, 0.5)
    async with recording(tmp_path) as rec:
        rec.trace.sink.emit_nowait({"event": "e"})
        with anyio.fail_after(0.4):
            assert await rec.trace.flush(timeout=0.05) is False
    assert rec.counts["written"] == 1


async def test_cancellation_mid_stream_still_ends_the_file_with_trace_stop(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    emitted = 0

    async def agent() -> None:
        nonlocal emitted
        async with asynctrace.collector(path) as trace:
            while True:
                await trace.sink.emit({"event": "tick", "i": emitted})
                emitted += 1
                if emitted % 50 == 0:
                    await anyio.sleep(0.001)

    with anyio.move_on_after(0.1):
        await agent()
    events = load_events(path)
    assert_valid_trace(events)
    stop = events[-1]
    assert stop.status == "cancelled"
    assert stop.data["reason"] == "cancelled"
    assert stop.data["counts"]["written"] == emitted == len(events) - 2


async def test_an_exception_in_the_block_propagates_after_the_trace_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with pytest.raises(KeyError):
        async with asynctrace.collector(path) as trace:
            trace.sink.emit_nowait({"event": "before"})
            raise KeyError("boom")
    events = load_events(path)
    assert_valid_trace(events)
    assert events[-1].status == "error"
    assert events[-1].data["reason"] == "exception"
    assert events[1].event == "before"


async def test_emits_after_the_block_are_counted_as_closed(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        pass
    assert rec.trace.sink.emit_nowait({"event": "late"}) is False
    assert await rec.trace.sink.emit({"event": "late"}) is False
    assert rec.trace.stats().counts.shed_by_reason.closed == 2
    assert rec.trace.result.counts.emitted == 0  # the result is what the file says


async def test_default_path_is_dated_under_trace_dir_with_private_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNCTRACE_DIR", str(tmp_path / "from-env"))
    async with asynctrace.collector() as trace:
        pass
    path = trace.result.path
    assert path is not None
    assert path.parent == tmp_path / "from-env"
    assert path.name.endswith(f"_{trace.trace_id}_{trace.file_id}.jsonl")
    assert len(path.name) == len("2026-01-01_00-00-00_") + 32 + 1 + 16 + len(".jsonl")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with asynctrace.collector(trace_dir=tmp_path / "a" / "b") as trace2:
        pass
    assert trace2.result.path is not None
    assert trace2.result.path.parent == tmp_path / "a" / "b"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "0" * 32, "g" * 32, "a" * 31])
def test_a_trace_id_that_is_not_32_hex_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="trace_id"):
        asynctrace.collector(trace_id=bad)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_mailbox_len", 0), ("max_event_bytes", -1), ("batch_size", 1.5), ("sample_ratio", 2.0)],
)
def test_bad_options_are_rejected_when_the_collector_is_created(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        asynctrace.collector(**{option: value})


async def test_nested_and_side_by_side_collectors_each_write_their_own_file(tmp_path: Path) -> None:
    async def side(name: str) -> None:
        async with asynctrace.collector(tmp_path / f"{name}.jsonl") as t:
            await t.sink.emit({"event": name})

    async with asynctrace.collector(tmp_path / "outer.jsonl") as outer:
        await outer.sink.emit({"event": "outer"})
        async with asynctrace.collector(tmp_path / "inner.jsonl") as inner:
            await inner.sink.emit({"event": "inner"})
        async with anyio.create_task_group() as tg:
            tg.start_soon(side, "left")
            tg.start_soon(side, "right")
    for name in ("outer", "inner", "left", "right"):
        events = load_events(tmp_path / f"{name}.jsonl")
        assert_valid_trace(events)
        assert [e.event for e in events[1:-1]] == [name]


async def test_stats_report_live_counts_and_state(tmp_path: Path) -> None:
    async with recording(tmp_path, max_mailbox_len=5) as rec:
        for _ in range(8):
            rec.trace.sink.emit_nowait({"event": "e"})
        stats = rec.trace.stats()
        assert stats.state == "open"
        assert stats.counts.emitted == 8
        assert stats.counts.shed == 3
        assert stats.queued == 5
    assert rec.trace.stats().state == "closed"
    assert rec.trace.result.counts == rec.trace.stats().counts


async def test_disabled_tracing_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCTRACE", "0")
    monkeypatch.chdir(tmp_path)
    async with asynctrace.collector() as trace:
        assert trace.sink.emit_nowait({"event": "e"}) is False
        async with asynctrace.span("s") as s:
            assert not s.is_recording
    assert trace.result.path is None
    assert trace.result.reason == "disabled"
    assert list(tmp_path.iterdir()) == []


async def test_a_writer_bug_closes_the_trace_without_breaking_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from asynctrace._runtime import _lines

    def broken(self: Any, *args: Any) -> Any:
        raise RuntimeError("writer bug")

    path = tmp_path / "t.jsonl"
    async with asynctrace.collector(path) as trace:
        await trace.sink.emit({"event": "before"})
        await trace.flush()
        monkeypatch.setattr(_lines.LineEncoder, "encode", broken)
        await trace.sink.emit({"event": "lost"})
        await anyio.sleep(0.05)  # the writer fails on it and finishes the file
        assert trace.sink.emit_nowait({"event": "after"}) is False
    events = load_events(path)
    assert_valid_trace(events)
    assert events[-1].data["reason"] == "writer_error"
    counts = trace.result.counts
    assert counts.written == 1
    assert counts.emitted == counts.written + counts.shed + counts.write_errors
    assert any("writer bug" in r.getMessage() for r in caplog.records)


async def test_a_stuck_disk_cannot_hang_the_exit_of_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_writes(monkeypatch, 1.5)  # every write takes longer than we will wait
    path = tmp_path / "stuck.jsonl"
    with anyio.fail_after(1.2):
        async with asynctrace.collector(path, shutdown_timeout=0.2) as trace:
            for i in range(10):
                await trace.sink.emit({"event": "e", "i": i})
    counts = trace.result.counts
    assert counts.emitted == 10
    assert counts.emitted == counts.written + counts.shed + counts.write_errors
    assert counts.write_errors > 0

