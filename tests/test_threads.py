"""Emitting from threads reaches the collector safely, with exact counts."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio
import pytest

import asynctrace
from asynctrace.testing import recording

pytestmark = pytest.mark.anyio


async def test_four_threads_emitting_at_once_lose_nothing_uncounted(tmp_path: Path) -> None:
    per_thread = 2000
    accepted = [0] * 4

    async with recording(tmp_path, max_mailbox_len=500) as rec:
        sink = rec.trace.sink

        def produce(n: int) -> None:
            for i in range(per_thread):
                if n % 2:
                    accepted[n] += sink.emit_from_thread({"event": "t", "thread": n, "i": i})
                else:
                    accepted[n] += sink.emit_nowait({"event": "t", "thread": n, "i": i})

        async with anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(anyio.to_thread.run_sync, produce, n)
    counts = rec.counts
    assert counts["emitted"] == 4 * per_thread
    assert counts["written"] + counts["shed"] == counts["emitted"]
    assert counts["written"] == len(rec.find("t"))
    # The blocking variant waits for room, so its threads never shed.
    for n in (1, 3):
        assert accepted[n] == per_thread
        mine = [e.data["i"] for e in rec.find("t") if e.data["thread"] == n]
        assert mine == list(range(per_thread))  # and each thread's order is kept


async def test_blocking_emit_from_the_loop_thread_is_refused(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        with pytest.raises(RuntimeError, match="deadlock"):
            rec.trace.sink.emit_from_thread({"event": "x"})


async def test_a_raw_thread_with_an_attached_context_traces_into_the_open_span(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("parent") as parent:
            ctx = asynctrace.capture()

            def work() -> None:
                with asynctrace.attach(ctx), asynctrace.span("in-thread"):
                    asynctrace.emit_nowait("note", where="thread")

            t = threading.Thread(target=work)
            t.start()
            await anyio.to_thread.run_sync(t.join)
            await rec.trace.flush()
    (start,) = [e for e in rec.find("span.start") if e.data["name"] == "in-thread"]
    assert start.parent_span_id == parent.span_id
    (note,) = rec.find("note")
    assert note.parent_span_id == start.span_id


async def test_emits_from_a_thread_after_close_are_counted_not_lost_silently(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        pass
    done = asyncio.Event()
    result: list[bool] = []

    def late() -> None:
        result.append(rec.trace.sink.emit_nowait({"event": "late"}))

    await anyio.to_thread.run_sync(late)
    done.set()
    assert result == [False]
    assert rec.trace.stats().counts.shed_by_reason.closed == 1


async def test_a_thread_running_its_own_event_loop_can_await_emits_and_flush(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path, max_mailbox_len=5) as rec:
        ctx = asynctrace.capture()

        def other_loop() -> list[bool]:
            async def main() -> list[bool]:
                with asynctrace.attach(ctx):
                    out = [await rec.trace.sink.emit({"event": "foreign", "i": i}) for i in range(20)]
                    await asynctrace.emit("foreign-point")
                    out.append(await rec.trace.flush(timeout=30))
                    return out

            return asyncio.run(main())

        results = await anyio.to_thread.run_sync(other_loop)
    assert results == [True] * 21
    assert [e.data["i"] for e in rec.find("foreign")] == list(range(20))
    assert len(rec.find("foreign-point")) == 1
    assert rec.counts["shed"] == 0


async def test_a_sync_span_failing_in_a_thread_ends_with_status_error_and_never_raises_its_own(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path) as rec:
        ctx = asynctrace.capture()
        raised: list[BaseException] = []

        def work() -> None:
            try:
                with asynctrace.attach(ctx), asynctrace.span("in-thread"):
                    raise ValueError("boom")
            except BaseException as exc:  # what reaches the program must be its own error
                raised.append(exc)

        t = threading.Thread(target=work)
        t.start()
        await anyio.to_thread.run_sync(t.join)
    assert [type(e) for e in raised] == [ValueError]
    (stop,) = rec.find("span.stop")
    assert stop.status == "error"
    assert stop.data["error_type"] == "ValueError"


async def test_a_sync_span_failing_in_a_loop_callback_ends_with_status_error(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        done = asyncio.Event()
        raised: list[BaseException] = []

        def callback() -> None:
            try:
                with asynctrace.span("in-callback"):
                    raise KeyError("k")
            except BaseException as exc:
                raised.append(exc)
            done.set()

        asyncio.get_running_loop().call_soon(callback)
        await done.wait()
    assert [type(e) for e in raised] == [KeyError]
    (stop,) = rec.find("span.stop")
    assert stop.status == "error"
