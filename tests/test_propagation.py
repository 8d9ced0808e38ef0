"""Context propagation: every concurrency boundary, processes and W3C headers."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

import asynctrace
from asynctrace.testing import assert_valid_trace, load_events, recording

pytestmark = pytest.mark.anyio


async def _child_span() -> str:
    async with asynctrace.span("child") as s:
        await anyio.lowlevel.checkpoint()
    return s.parent_span_id or ""


def _sync_child_span() -> str:
    with asynctrace.span("child") as s:
        pass
    return s.parent_span_id or ""


async def _via_create_task() -> str:
    return await asyncio.create_task(_child_span())


async def _via_asyncio_taskgroup() -> str:
    async with asyncio.TaskGroup() as tg:
        t = tg.create_task(_child_span())
    return t.result()


async def _via_anyio_taskgroup() -> str:
    out: list[str] = []

    async def run() -> None:
        out.append(await _child_span())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
    return out[0]


async def _via_gather() -> str:
    (a, b) = await asyncio.gather(_child_span(), _child_span())
    assert a == b
    return a


async def _via_asyncio_to_thread() -> str:
    return await asyncio.to_thread(_sync_child_span)


async def _via_anyio_to_thread() -> str:
    return await anyio.to_thread.run_sync(_sync_child_span)


async def _via_run_in_executor_with_wrap() -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, asynctrace.wrap(_sync_child_span))


PATHS: dict[str, Callable[[], Awaitable[str]]] = {
    "create_task": _via_create_task,
    "asyncio.TaskGroup": _via_asyncio_taskgroup,
    "anyio task group": _via_anyio_taskgroup,
    "gather": _via_gather,
    "asyncio.to_thread": _via_asyncio_to_thread,
    "anyio.to_thread.run_sync": _via_anyio_to_thread,
    "run_in_executor + wrap": _via_run_in_executor_with_wrap,
}


@pytest.mark.parametrize("path_name", list(PATHS))
async def test_the_current_span_propagates_across(path_name: str, tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("parent") as parent:
            assert await PATHS[path_name]() == parent.span_id
    children = [e for e in rec.find("span.start") if e.data["name"] == "child"]
    assert children and all(e.parent_span_id == parent.span_id for e in children)


async def test_run_in_executor_without_wrap_does_not_see_the_trace(tmp_path: Path) -> None:
    async with recording(tmp_path):
        async with asynctrace.span("parent"):
            loop = asyncio.get_running_loop()
            seen = await loop.run_in_executor(None, asynctrace.current_trace)
    assert seen is None  # which is why wrap() exists


async def test_events_fan_out_to_every_active_collector(tmp_path: Path) -> None:
    async with recording(tmp_path, "outer.jsonl") as outer:
        async with recording(tmp_path, "inner.jsonl") as inner:
            assert asynctrace.current_trace() is inner.trace
            async with asynctrace.span("both"):
                pass
        async with asynctrace.span("outer-only"):
            pass
    assert [e.data["name"] for e in inner.find("span.start")] == ["both"]
    assert [e.data["name"] for e in outer.find("span.start")] == ["both", "outer-only"]
    assert inner.find("span.start")[0].trace_id != outer.find("span.start")[0].trace_id


def test_traceparent_round_trips_through_http_headers() -> None:
    tp = asynctrace.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True, "k=v")
    headers: dict[str, str] = {}
    asynctrace._context._w3c.inject_parent(tp, headers)
    assert headers == {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tracestate": "k=v",
    }
    assert asynctrace.extract({"TraceParent": headers["traceparent"], "tracestate": "k=v"}) == tp


@pytest.mark.parametrize(
    "value",
    [
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # v00 has 4 fields
        "garbage",
    ],
)
def test_invalid_traceparents_are_ignored(value: str) -> None:
    assert asynctrace.extract({"traceparent": value}) is None


def test_a_future_traceparent_version_is_parsed_and_its_extra_fields_ignored() -> None:
    tp = asynctrace.parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-xyz")
    assert tp is not None and tp.sampled is False


async def test_inject_writes_the_current_trace_and_span(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("call") as s:
            headers = asynctrace.inject({})
    assert headers["traceparent"] == f"00-{rec.trace.trace_id}-{s.span_id}-03"


async def test_an_in_process_child_file_continues_the_trace_and_links_both_ways(
    tmp_path: Path,
) -> None:
    async with recording(tmp_path, "parent.jsonl") as parent:
        async with asynctrace.span("spawn", kind="tool") as s:
            async with recording(tmp_path, "child.jsonl", parent=asynctrace.capture()) as child:
                assert asynctrace.current_span() is None  # the child trace's own root
                async with asynctrace.span("child-work"):
                    pass
            assert asynctrace.current_span() is s
            assert asynctrace.current_trace() is parent.trace
    start = child.events[0].data
    assert child.trace.trace_id == parent.trace.trace_id  # one trace, two files
    assert "parent_trace_id" not in start  # written only when the trace id changes
    assert start["parent_span_id"] == s.span_id
    assert start["parent_file_id"] == parent.trace.file_id == parent.events[0].data["file_id"]
    assert start["file_id"] == child.trace.file_id != parent.trace.file_id
    (stop,) = parent.find("tool.stop")
    assert stop.data["child_file_id"] == child.trace.file_id
    # The child's work is in the child file only.
    assert [e.data["name"] for e in child.find("span.start")] == ["child-work"]
    assert parent.find("span.start") == []


async def test_a_child_process_continues_the_trace_in_a_linked_file(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        import asynctrace

        async def main():
            async with asynctrace.collector(sys.argv[1]) as trace:
                async with asynctrace.span("child-work"):
                    pass
            print(trace.trace_id, trace.file_id)

        asyncio.run(main())
        """
    )
    async with recording(tmp_path, "parent.jsonl") as parent:
        async with asynctrace.span("spawn", kind="tool") as s:
            env = asynctrace.child_environ()
            proc = await anyio.run_process(
                [sys.executable, "-c", script, str(tmp_path / "child.jsonl")], env=env
            )
    child_trace, child_file = proc.stdout.decode().split()
    child = load_events(tmp_path / "child.jsonl")
    assert_valid_trace(child)
    assert child[0].trace_id == child_trace == parent.trace.trace_id
    assert child[0].data["file_id"] == child_file
    assert child[0].data["parent_file_id"] == parent.trace.file_id
    assert child[0].data["parent_span_id"] == s.span_id
    (stop,) = parent.find("tool.stop")
    assert stop.data["child_file_id"] == child_file


async def test_an_unsampled_parent_keeps_its_child_processes_unsampled(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio
        import asynctrace

        async def main():
            async with asynctrace.collector(trace_dir=".") as trace:
                print(trace.result.reason if trace.path is None else "recorded")

        asyncio.run(main())
        """
    )
    async with asynctrace.collector(tmp_path / "p.jsonl", sample_ratio=0.0) as trace:
        env = asynctrace.child_environ()
        assert int(env["TRACEPARENT"][-2:], 16) & 0x01 == 0  # sampled flag off
        proc = await anyio.run_process([sys.executable, "-c", script], env=env, cwd=tmp_path)
    assert trace.result.path is None
    assert proc.stdout.decode().strip() == "not_sampled"
    assert list(tmp_path.iterdir()) == []


def test_head_sampling_is_decided_by_the_trace_id() -> None:
    from asynctrace._runtime._open import sampled_by_ratio

    ids = [f"{(i * 0x9E3779B97F4A7C15) % (1 << 128):032x}" for i in range(1, 4001)]
    kept = sum(sampled_by_ratio(t, 0.25) for t in ids)
    assert 800 < kept < 1200
    assert all(sampled_by_ratio(t, 0.25) == sampled_by_ratio(t, 0.25) for t in ids[:50])


async def test_capture_outside_any_trace_gives_no_traceparent() -> None:
    assert asynctrace.capture().traceparent is None
    assert "TRACEPARENT" not in asynctrace.child_environ({})
