"""Spans: start/stop pairs, statuses, the handle, and the decorator."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

import asynctrace
from asynctrace.testing import recording

pytestmark = pytest.mark.anyio


async def test_a_span_writes_a_start_and_a_stop_with_duration_and_status(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("search", kind="tool", query="q") as s:
            s.set(hits=3)
            await anyio.sleep(0.01)
    start, stop = rec.find("tool.start")[0], rec.find("tool.stop")[0]
    assert start.span_id == stop.span_id == s.span_id
    assert len(s.span_id) == 16 and int(s.span_id, 16)
    assert start.data == {"name": "search", "query": "q"}
    assert stop.data == {"name": "search", "hits": 3}
    assert stop.status == "ok"
    assert stop.duration_ns is not None and stop.duration_ns >= 10_000_000


async def test_nested_spans_name_their_parent(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("run", kind="run") as run:
            async with asynctrace.span("turn", kind="turn") as turn:
                with asynctrace.span("sync-step") as step:
                    pass
    assert turn.parent_span_id == run.span_id
    assert step.parent_span_id == turn.span_id
    assert run.parent_span_id is None
    assert asynctrace.current_span() is None
    assert rec.find("span.stop")[0].parent_span_id == turn.span_id


async def test_an_exception_closes_the_span_with_error_details(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        with pytest.raises(ValueError, match="bad input"):
            async with asynctrace.span("parse", kind="tool"):
                raise ValueError("bad input")
    (stop,) = rec.find("tool.stop")
    assert stop.status == "error"
    assert stop.data["error_type"] == "ValueError"
    assert stop.data["error_message"] == "bad input"


async def test_cancellation_closes_the_span_as_cancelled(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        with anyio.move_on_after(0.01):
            async with asynctrace.span("slow", kind="llm"):
                await anyio.sleep(10)
    (stop,) = rec.find("llm.stop")
    assert stop.status == "cancelled"


async def test_a_stop_is_written_even_when_the_mailbox_is_full_during_cancellation(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path, max_mailbox_len=2) as rec:
        with anyio.move_on_after(0.01):
            async with asynctrace.span("busy"):
                for _ in range(10):
                    rec.trace.sink.emit_nowait({"event": "fill"})
                await anyio.sleep(10)
    assert len(rec.find("span.stop")) == 1  # recording() also checks the pairing


async def test_point_events_inside_a_span_point_at_it(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("turn", kind="turn") as turn:
            turn.event("note", text="hello")
            asynctrace.emit_nowait("decision", outcome="search")
            await asynctrace.emit("checkpoint", phase="plan", outcome="done")
    assert [e.parent_span_id for e in rec.find("note")] == [turn.span_id]
    assert rec.find("decision")[0].parent_span_id == turn.span_id
    assert rec.find("checkpoint")[0].data == {"phase": "plan", "outcome": "done"}


async def test_spans_without_a_collector_are_shared_no_ops() -> None:
    async with asynctrace.span("x", kind="tool", a=1) as s:
        s.set(b=2)
        s.event("e")
    assert s is asynctrace.span("y")
    assert not s.is_recording
    assert asynctrace.current_span() is None


def test_a_bad_span_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="kind"):
        asynctrace.span("x", kind="Not A Kind")
    with pytest.raises(ValueError, match="kind"):
        asynctrace.span("x", kind="trace")


async def test_user_kinds_produce_their_own_event_names(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("index", kind="retrieval"):
            pass
    assert rec.names() == ["retrieval.start", "retrieval.stop"]


async def test_traced_wraps_async_sync_and_generator_functions(tmp_path: Path) -> None:
    @asynctrace.traced
    async def fetch(x: int) -> int:
        return x * 2

    @asynctrace.traced("compute", kind="tool", unit="ms")
    def compute(x: int) -> int:
        return x + 1

    @asynctrace.traced(kind="tool")
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            assert asynctrace.current_span() is not None
            yield i

    @asynctrace.traced
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    async with recording(tmp_path) as rec:
        assert await fetch(2) == 4
        assert compute(1) == 2
        outer = asynctrace.current_span()
        items = []
        async for i in stream(3):
            assert asynctrace.current_span() is outer  # the consumer's span between items
            items.append(i)
        assert items == [0, 1, 2]
        assert list(numbers(2)) == [0, 1]
    starts = [e.data["name"] for e in rec.events if e.span_id and e.event.endswith(".start")]
    assert starts[0].endswith("fetch")
    assert starts[1] == "compute"
    assert starts[2].endswith("stream")
    assert starts[3].endswith("numbers")
    assert rec.find("tool.start")[0].data == {"name": "compute", "unit": "ms"}


async def test_an_async_generator_finalized_elsewhere_closes_its_span_without_error(
    tmp_path: Path,
) -> None:
    @asynctrace.traced(kind="tool")
    async def endless() -> AsyncIterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    async with recording(tmp_path) as rec:
        async with asynctrace.span("consumer") as consumer:
            agen = endless()
            assert await agen.__anext__() == 0
            # Closed from another task, with another context.
            await asyncio.get_running_loop().create_task(agen.aclose())
            assert asynctrace.current_span() is consumer
    (stop,) = rec.find("tool.stop")
    assert stop.status == "cancelled"


async def test_a_span_closed_in_another_task_does_not_touch_that_tasks_context(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path) as rec:
        sp = asynctrace.span("handed-over")
        await sp.__aenter__()

        async def closer() -> None:
            mine = asynctrace.span("closer-own")
            async with mine:
                await sp.__aexit__(None, None, None)  # no "different Context" error
                assert asynctrace.current_span() is mine

        async def other() -> None:
            await closer()

        await asyncio.gather(other())
        asynctrace.current_span()  # still usable here
    assert len(rec.find("span.stop")) == 2


async def test_spans_closed_under_gather_pair_up(tmp_path: Path) -> None:
    async def child(i: int) -> None:
        async with asynctrace.span(f"c{i}"):
            await anyio.sleep(0.001 * (i % 3))

    async with recording(tmp_path) as rec:
        async with asynctrace.span("parent") as parent:
            await asyncio.gather(*(child(i) for i in range(20)))
    children = [e for e in rec.find("span.start") if e.data["name"].startswith("c")]
    assert len(children) == 20
    assert {e.parent_span_id for e in children} == {parent.span_id}


async def test_finished_spans_are_not_kept_alive(tmp_path: Path) -> None:
    refs: list[weakref.ref[asynctrace.Span]] = []
    async with recording(tmp_path):
        for _ in range(50):
            async with asynctrace.span("s") as s:
                async with asynctrace.span("child") as c:
                    await asyncio.create_task(anyio.lowlevel.checkpoint())
            assert isinstance(s, asynctrace.Span) and isinstance(c, asynctrace.Span)
            refs.append(weakref.ref(s))
            refs.append(weakref.ref(c))
        del s, c
        gc.collect()
        alive = [r() for r in refs[:-2] if r() is not None]
        # The event loop may still hold the context of the very last task it
        # ran (and so its current span, and through it that span's nearest
        # open ancestor when it stopped) until it runs something else; what
        # matters is that nothing accumulates.
        assert alive == [], alive


async def test_a_span_still_open_when_its_collector_closes_is_ended_in_the_file(
    tmp_path: Path,
) -> None:
    hold = anyio.Event()

    async def background() -> None:
        async with asynctrace.span("outlives", kind="tool"):
            await hold.wait()

    async with anyio.create_task_group() as tg:
        async with recording(tmp_path) as rec:
            tg.start_soon(background)
            await anyio.sleep(0.01)
        hold.set()
    (stop,) = rec.find("tool.stop")
    assert stop.status == "cancelled"
    assert stop.data["unfinished"] is True
    assert rec.trace.stats().counts.shed_by_reason.closed == 1  # the late real stop
