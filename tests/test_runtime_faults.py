"""The promise under faults: one regression test per defect of issue 9.

In-process where the loop is enough; signals, fork and interpreter exit in
subprocesses.  A stalled disk is a gate the writes wait on; tests reach the
state they need by waiting for it, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import asynctrace
from asynctrace._runtime import _file
from asynctrace.testing import assert_valid_trace, load_events, recording

pytestmark = pytest.mark.anyio

# Child processes: the trace file's writes wait on GATE (a stalled disk).
PRELUDE = """
import asyncio, os, signal, sys, threading, time
import asynctrace
from asynctrace._runtime import _file

GATE = threading.Event()
GATE.set()
_write = _file.TraceFile.write

def _gated(self, b):
    GATE.wait(60)
    return _write(self, b)

_file.TraceFile.write = _gated

async def until(cond):
    for _ in range(20000):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise SystemExit("never reached the state the test needs")

def open_gate_once_closing(trace):
    def run():
        while trace.stats().state == "open":
            time.sleep(0.001)
        GATE.set()
    threading.Thread(target=run, daemon=True).start()

async def jam(trace):
    # batch_bytes=1: one write stuck on the gate and one batch behind it;
    # the writer takes nothing more, so the mailbox fills.
    await trace.flush()
    GATE.clear()
    trace.sink.emit_nowait({"event": "stuck"})
    await until(lambda: not trace._adm.items)
    trace.sink.emit_nowait({"event": "behind"})
    await until(lambda: not trace._adm.items)
"""


def run_child(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def gate_writes(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    gate = threading.Event()
    gate.set()
    original = _file.TraceFile.write

    def write(self: _file.TraceFile, b: Any, /) -> int:
        gate.wait(30)
        return original(self, b)

    monkeypatch.setattr(_file.TraceFile, "write", write)
    return gate


async def until(cond: Callable[[], bool]) -> None:
    with anyio.fail_after(20):
        while not cond():
            await asyncio.sleep(0.001)


async def jam(trace: Any, gate: threading.Event) -> None:
    """One write stuck, one batch behind it (batch_bytes=1): the mailbox fills next."""
    await trace.flush()
    gate.clear()
    trace.sink.emit_nowait({"event": "stuck"})
    await until(lambda: not trace._adm.items)
    trace.sink.emit_nowait({"event": "behind"})
    await until(lambda: not trace._adm.items)


def open_gate_once_closing(trace: Any, gate: threading.Event) -> None:
    def run() -> None:
        while trace.stats().state == "open":
            time.sleep(0.001)
        gate.set()

    threading.Thread(target=run, daemon=True).start()


JAMMED = {"max_mailbox_len": 2, "batch_size": 1, "batch_bytes": 1}


async def jam_and_start(trace: Any, gate: threading.Event, work: Any) -> asyncio.Task[None]:
    """Jam the writer, fill the 2-slot mailbox, start *work*: its first emit waits."""
    await trace.flush()
    await jam(trace, gate)
    trace.sink.emit_nowait({"event": "fill"})
    trace.sink.emit_nowait({"event": "fill"})
    task = asyncio.create_task(work())
    await until(lambda: len(trace._adm._putters) == 1)
    return task


# 1 ------------------------------------------------------------------------------------


def test_sigterm_while_producers_wait_sheds_them_as_closed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    out = run_child(
        """
        async def main(path):
            async with asynctrace.collector(path, max_mailbox_len=10, batch_size=1,
                                            batch_bytes=1, shutdown_timeout=30) as trace:
                await trace.flush()
                await jam(trace)
                for i in range(10):
                    assert trace.sink.emit_nowait({"event": "fill", "i": i})
                waiting = [asyncio.create_task(trace.sink.emit({"event": "waits"}))
                           for _ in range(5)]
                await until(lambda: len(trace._adm._putters) == 5)
                open_gate_once_closing(trace)
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.sleep(60)

        asyncio.run(main(sys.argv[1]))
        """,
        str(path),
    )
    assert out.returncode == -signal.SIGTERM, out.stderr
    events = load_events(path)
    assert_valid_trace(events)
    counts = events[-1].data["counts"]
    assert events[-1].data["reason"] == "signal"
    assert [e.event for e in events[1:-1]] == ["stuck", "behind", *["fill"] * 10]
    assert counts["emitted"] == 17
    assert counts["written"] == 12
    assert counts["shed_by_reason"]["closed"] == counts["shed"] == 5


# 2 ------------------------------------------------------------------------------------


async def test_a_span_still_waiting_to_start_at_close_is_shed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_writes(monkeypatch)
    entered = asyncio.Event()

    async def late() -> None:
        async with asynctrace.span("late", kind="tool"):
            entered.set()

    async with recording(tmp_path, **JAMMED) as rec:
        task = await jam_and_start(rec.trace, gate, late)
        open_gate_once_closing(rec.trace, gate)
    await task
    assert entered.is_set()  # the program ran on, untouched
    assert rec.find("tool.start") == rec.find("tool.stop") == []
    counts = rec.trace.stats().counts
    assert counts.shed_by_reason.closed == 2  # its start, then its stop


# 3 ------------------------------------------------------------------------------------


async def test_a_span_cancelled_while_its_start_waits_leaves_no_ghost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_writes(monkeypatch)
    parents: list[str | None] = []

    async def worker() -> None:
        try:
            async with asynctrace.span("ghost"):
                pytest.fail("the body of a span that never started ran")
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        assert asynctrace.current_span() is None
        await until(lambda: gate.is_set())
        async with asynctrace.span("next") as nxt:
            parents.append(nxt.parent_span_id)

    async with recording(tmp_path, **JAMMED) as rec:
        task = await jam_and_start(rec.trace, gate, worker)
        task.cancel()
        await until(lambda: not rec.trace._adm._putters)
        gate.set()
        await task
    assert parents == [None]
    names = [e.data["name"] for e in rec.find("span.start")]
    assert names == ["next"]
    assert rec.counts["shed_by_reason"]["cancelled"] == 1


# 4 ------------------------------------------------------------------------------------


async def test_a_started_span_cancelled_with_a_full_mailbox_still_writes_its_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_writes(monkeypatch)
    inside = asyncio.Event()

    async def worker() -> None:
        async with asynctrace.span("busy", kind="llm"):
            inside.set()
            await asyncio.Event().wait()

    async with recording(tmp_path, **JAMMED) as rec:
        await rec.trace.flush()
        task = asyncio.create_task(worker())
        await inside.wait()
        await jam(rec.trace, gate)
        rec.trace.sink.emit_nowait({"event": "fill"})
        rec.trace.sink.emit_nowait({"event": "fill"})
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
    (stop,) = rec.find("llm.stop")
    assert stop.status == "cancelled"
    assert rec.counts["shed"] == 0


# 5 ------------------------------------------------------------------------------------


async def test_sync_spans_in_threads_under_pressure_are_written_or_shed_in_pairs(
    tmp_path: Path,
) -> None:
    per_thread = 300

    async with recording(tmp_path, max_mailbox_len=20) as rec:
        ctx = asynctrace.capture()

        def work(n: int) -> None:
            with asynctrace.attach(ctx):
                for i in range(per_thread):
                    with asynctrace.span("step", thread=n, i=i):
                        pass

        async with anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(anyio.to_thread.run_sync, work, n)
    counts = rec.counts
    assert counts["emitted"] == 2 * 4 * per_thread
    assert counts["shed"] % 2 == 0
    starts, stops = rec.find("span.start"), rec.find("span.stop")
    assert len(starts) == len(stops) == counts["written"] // 2
    assert {s.span_id for s in starts} == {s.span_id for s in stops}
    loop_thread = threading.get_native_id()
    assert all(s.thread_id not in (None, loop_thread) for s in starts)
    assert all(s.thread_id is None for s in stops)


# 6 ------------------------------------------------------------------------------------


async def test_events_a_joined_raw_thread_emitted_are_written_at_a_normal_exit(
    tmp_path: Path,
) -> None:
    results: list[bool] = []
    async with recording(tmp_path) as rec:

        def work() -> None:
            results.extend(rec.trace.sink.emit_nowait({"event": "t", "i": i}) for i in range(200))
            with asynctrace.span("in-thread"):
                asynctrace.emit_nowait("note")

        t = threading.Thread(target=asynctrace.wrap(work))
        t.start()
        t.join()  # blocks the loop on purpose: the thread's events are all in hand
    assert results == [True] * 200
    assert [e.data["i"] for e in rec.find("t")] == list(range(200))
    assert len(rec.find("note")) == 1
    assert rec.counts["shed"] == 0


# 7 ------------------------------------------------------------------------------------


async def test_flush_returns_once_earlier_events_are_written_even_under_load(
    tmp_path: Path,
) -> None:
    stop = asyncio.Event()

    async def producer(trace: Any) -> None:
        while not stop.is_set():
            await trace.sink.emit({"event": "load", "blob": "x" * 200})

    async with recording(tmp_path, max_mailbox_len=50) as rec:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(producer, rec.trace)
            await until(lambda: len(rec.trace._adm._putters) >= 1)
            marker = rec.trace.stats().counts.emitted
            with anyio.fail_after(20):
                assert await rec.trace.flush(timeout=30) is True
            assert not stop.is_set()  # the producers never paused for it
            assert rec.trace.stats().counts.written >= marker - 3
            stop.set()


# 8 ------------------------------------------------------------------------------------


def test_a_collector_left_open_when_asyncio_run_returns_is_finished_at_exit(
    tmp_path: Path,
) -> None:
    many, few = tmp_path / "many.jsonl", tmp_path / "few.jsonl"
    out = run_child(
        """
        async def leave_open(path, n):
            trace = await asynctrace.collector(path).__aenter__()
            for i in range(n):
                trace.sink.emit_nowait({"event": "work", "i": i})

        async def main():
            await leave_open(sys.argv[1], 20)
            await leave_open(sys.argv[2], 3)

        asyncio.run(main())
        print("returned", flush=True)
        """,
        str(many),
        str(few),
    )
    assert out.returncode == 0, out.stderr
    assert "returned" in out.stdout
    for path, n in ((many, 20), (few, 3)):
        events = load_events(path)
        assert_valid_trace(events)
        assert events[0].event == "trace.start"
        assert events[-1].data["reason"] == "atexit"
        assert [e.data["i"] for e in events if e.event == "work"] == list(range(n))
        assert events[-1].data["counts"]["written"] == n


# 9 ------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_leaves_the_parents_trace_alone_and_exits_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.jsonl"
    out = run_child(
        """
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: on purpose
        ready, finish = threading.Event(), threading.Event()
        holder = {}

        def background():
            async def main():
                async with asynctrace.collector(sys.argv[1], shutdown_timeout=30) as trace:
                    holder["trace"] = trace
                    trace.sink.emit_nowait({"event": "before-fork"})
                    await trace.flush()
                    ready.set()
                    while not finish.is_set():
                        await asyncio.sleep(0.005)
            asyncio.run(main())

        t = threading.Thread(target=background)
        t.start()
        ready.wait(30)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            holder["trace"].sink.emit_nowait({"event": "from-child"})
            sys.exit(0)  # atexit hooks run
        os.waitpid(pid, 0)
        print(f"child took {time.monotonic() - t0:.3f}", flush=True)
        finish.set()
        t.join()
        """,
        str(path),
    )
    assert out.returncode == 0, out.stderr
    took = float(out.stdout.split()[-1])
    assert took < 10, "the child waited for the parent's writer"  # shutdown_timeout is 30
    events = load_events(path)
    assert_valid_trace(events)
    assert [e.event for e in events].count("trace.stop") == 1
    assert [e.event for e in events[1:-1]] == ["before-fork"]


# 10 -----------------------------------------------------------------------------------


def test_a_stalled_disk_cannot_hang_interpreter_exit(tmp_path: Path) -> None:
    out = run_child(
        """
        async def main(path):
            async with asynctrace.collector(path, shutdown_timeout=0.5) as trace:
                await trace.flush()
                GATE.clear()  # the disk stalls for good
                for i in range(10):
                    await trace.sink.emit({"event": "e", "i": i})
            print("exited", trace.result.counts.write_errors, flush=True)

        asyncio.run(main(sys.argv[1]))
        """,
        str(tmp_path / "t.jsonl"),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["exited", "10"]


# 11 -----------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_hosts_signal_handlers_are_left_exactly_as_they_were(tmp_path: Path) -> None:
    out = run_child(
        """
        def mine(signum, frame):
            pass

        async def main(path):
            loop = asyncio.get_running_loop()
            stopped = asyncio.Event()
            # What a web server does (aiohttp's run_app): a loop signal handler.
            loop.add_signal_handler(signal.SIGTERM, stopped.set)
            before = signal.getsignal(signal.SIGTERM)
            async with asynctrace.collector(path):
                pass
            print("same", signal.getsignal(signal.SIGTERM) is before, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stopped.wait(), 30)
            print("stopped", flush=True)
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGINT, mine)
            signal.signal(signal.SIGTERM, mine)
            async with asynctrace.collector(path + ".2"):
                pass
            print("kept", signal.getsignal(signal.SIGTERM) is mine,
                  signal.getsignal(signal.SIGINT) is mine, flush=True)

        asyncio.run(main(sys.argv[1]))
        """,
        str(tmp_path / "t.jsonl"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["same True", "stopped", "kept True True"]


# 12 -----------------------------------------------------------------------------------


async def test_trace_start_metadata_is_redacted_like_every_event(tmp_path: Path) -> None:
    key = "sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
    async with recording(
        tmp_path, query="password=hunter2", label=key, meta={"api_key": "plain", "note": key}
    ) as rec:
        pass
    raw = rec.path.read_bytes()
    for secret in (b"hunter2", key.encode(), b"plain"):
        assert secret not in raw
    start = rec.events[0].data
    assert "[REDACTED]" in start["query"]
    assert start["meta"]["api_key"] == "[REDACTED]"
    assert start["schema_version"] == asynctrace.SCHEMA_VERSION


# 13 -----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
async def test_a_planted_symlink_or_existing_file_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError, match="symlink"):
        async with asynctrace.collector(link):
            pass
    assert target.read_text() == "keep me"
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "created-by-us.txt")
    with pytest.raises(OSError, match="symlink"):
        async with asynctrace.collector(dangling):
            pass
    assert not (tmp_path / "created-by-us.txt").exists()
    with pytest.raises(FileExistsError, match="already there"):
        async with asynctrace.collector(target):
            pass
    assert target.read_text() == "keep me"
    async with asynctrace.collector(tmp_path / "new.jsonl"):
        pass
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o600


# 14 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trace.start", "trace.stop", "agent.config", "trace.event_omitted"])
async def test_event_names_the_collector_owns_are_refused(tmp_path: Path, name: str) -> None:
    async with recording(tmp_path) as rec:
        with pytest.raises(ValueError, match="collector itself"):
            rec.trace.sink.emit_nowait({"event": name})
        with pytest.raises(ValueError, match="collector itself"):
            await rec.trace.sink.emit({"event": name, "data": {"x": 1}})
        with pytest.raises(ValueError, match="collector itself"):
            asynctrace.emit_nowait(name)
    assert rec.counts["emitted"] == 0


async def test_reserved_keywords_of_point_events_are_refused(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        with pytest.raises(TypeError, match="'event' is reserved"):
            await asynctrace.emit("x", event="y")
        with pytest.raises(ValueError, match="status"):
            asynctrace.emit_nowait("x", status="weird")
        with pytest.raises(ValueError, match="status"):
            rec.trace.sink.emit_nowait({"event": "x", "status": "weird"})
        async with asynctrace.span("s") as s:
            with pytest.raises(ValueError, match="collector itself"):
                s.event("trace.stop")
            s.event("note", event="kept as data", status="also data")
        asynctrace.emit_nowait("x", status="ok")
    assert rec.names() == ["span.start", "note", "span.stop", "x"]
    (note,) = rec.find("note")
    assert note.data == {"event": "kept as data", "status": "also data"}
    assert note.status is None


# 15 -----------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
async def test_an_open_failure_raises_the_oserror_itself() -> None:
    with pytest.raises(OSError) as info:
        async with asynctrace.collector("/proc/x.jsonl"):
            pass
    assert isinstance(info.value, FileNotFoundError | PermissionError)


# 16 -----------------------------------------------------------------------------------


async def test_a_span_closed_in_another_task_never_becomes_a_parent(tmp_path: Path) -> None:
    advanced, closed = asyncio.Event(), asyncio.Event()

    async def gen() -> AsyncIterator[int]:
        async with asynctrace.span("gen"):
            yield 1
            yield 2

    agen = gen()

    async def task_a() -> tuple[Any, Any]:
        async with asynctrace.span("outer") as outer:
            await agen.__anext__()  # the generator's span is current here now
            advanced.set()
            await closed.wait()
            assert asynctrace.current_span() is outer
            async with asynctrace.span("next") as nxt:
                pass
        return outer, nxt

    async with recording(tmp_path) as rec:
        a = asyncio.create_task(task_a())
        await advanced.wait()
        await asyncio.create_task(agen.aclose())  # closed from another task
        closed.set()
        outer, nxt = await a
    assert nxt.parent_span_id == outer.span_id
    (gen_stop,) = [e for e in rec.find("span.stop") if e.data["name"] == "gen"]
    (next_start,) = [e for e in rec.find("span.start") if e.data["name"] == "next"]
    assert next_start.parent_span_id != gen_stop.span_id


# 17 (first half; the processor half is the processing layer's) ------------------------


async def test_attach_works_as_a_call_with_detach_and_as_a_with_block(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("parent") as parent:
            ctx = asynctrace.capture()
            seen: list[Any] = []

            def work() -> None:
                token = asynctrace.attach(ctx)  # the OpenTelemetry way
                try:
                    with asynctrace.span("called") as s:
                        seen.append(s.parent_span_id)
                finally:
                    asynctrace.detach(token)
                seen.append(asynctrace.current_span())
                with pytest.raises(RuntimeError, match="already detached"):
                    asynctrace.detach(token)
                outer = asynctrace.attach(ctx)
                inner = asynctrace.attach(ctx)
                with pytest.raises(RuntimeError, match="out of order"):
                    asynctrace.detach(outer)
                asynctrace.detach(inner)
                asynctrace.detach(outer)
                with asynctrace.attach(ctx) as got:
                    seen.append(got is ctx)
                    with asynctrace.span("blocked") as b:
                        seen.append(b.parent_span_id)
                seen.append(asynctrace.current_span())

            # A fresh context, like a raw thread's: nothing current before attach().
            await anyio.to_thread.run_sync(contextvars.Context().run, work)
    assert seen == [parent.span_id, None, True, parent.span_id, None]
    assert len(rec.find("span.start")) == 3
    with pytest.raises(TypeError):
        asynctrace.detach("token")  # type: ignore[arg-type]


# 18 -----------------------------------------------------------------------------------


async def test_the_mailbox_is_bounded_by_bytes_too(tmp_path: Path) -> None:
    big = "x" * 100_000
    limit = 1 << 20
    async with recording(
        tmp_path, max_mailbox_bytes=limit, max_string_bytes=200_000, max_event_bytes=300_000
    ) as rec:
        accepted = sum(rec.trace.sink.emit_nowait({"event": "big", "blob": big}) for _ in range(100))
        assert 5 <= accepted <= limit // len(big)
        await rec.trace.flush()
        for _ in range(30):  # awaited: backpressure by bytes, nothing shed
            assert await rec.trace.sink.emit({"event": "big", "blob": big}) is True
    counts = rec.counts
    assert counts["shed"] == counts["shed_by_reason"]["mailbox_full"] == 100 - accepted
    assert counts["written"] == accepted + 30
    with pytest.raises(ValueError, match="max_mailbox_bytes"):
        asynctrace.collector(max_mailbox_bytes=0)


# 19 -----------------------------------------------------------------------------------


def test_under_trio_the_error_names_the_asyncio_requirement(tmp_path: Path) -> None:
    pytest.importorskip("trio")

    async def main() -> None:
        async with asynctrace.collector(tmp_path / "t.jsonl"):
            pass

    with pytest.raises(RuntimeError, match="backend='asyncio'"):
        anyio.run(main, backend="trio")
    assert not (tmp_path / "t.jsonl").exists()
