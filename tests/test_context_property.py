"""Property: under random nesting, task groups and thread hops, the span tree is right."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asynctrace
from asynctrace.testing import assert_valid_trace, load_events

# A program is a tree: ("leaf",) or (how, [children]) where *how* says how the
# children run: one after another, in an asyncio TaskGroup, an anyio task
# group, under gather, or in a worker thread.
HOWS = ["seq", "asyncio_tg", "anyio_tg", "gather", "thread"]

programs = st.recursive(
    st.just(("leaf",)),
    lambda children: st.tuples(st.sampled_from(HOWS), st.lists(children, max_size=5)),
    max_leaves=60,
)


def run_sync(node: Any, name: str, parent: str | None, expected: dict[str, str | None]) -> None:
    expected[name] = parent
    with asynctrace.span(name):
        if node[0] != "leaf":
            for i, child in enumerate(node[1]):
                run_sync(child, f"{name}.{i}", name, expected)


async def run(node: Any, name: str, parent: str | None, expected: dict[str, str | None]) -> None:
    expected[name] = parent
    async with asynctrace.span(name):
        if node[0] == "leaf":
            await anyio.lowlevel.checkpoint()
            return
        how, children = node
        named = [(child, f"{name}.{i}") for i, child in enumerate(children)]
        if how == "seq":
            for child, child_name in named:
                await run(child, child_name, name, expected)
        elif how == "asyncio_tg":
            async with asyncio.TaskGroup() as tg:
                for child, child_name in named:
                    tg.create_task(run(child, child_name, name, expected))
        elif how == "anyio_tg":
            async with anyio.create_task_group() as atg:
                for child, child_name in named:
                    atg.start_soon(run, child, child_name, name, expected)
        elif how == "gather":
            await asyncio.gather(*(run(c, n, name, expected) for c, n in named))
        else:  # thread hop: the whole subtree runs as sync spans in a worker thread
            for child, child_name in named:
                await anyio.to_thread.run_sync(run_sync, child, child_name, name, expected)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(program=programs, width=st.integers(min_value=1, max_value=1000))
def test_random_concurrent_programs_produce_a_correct_span_tree(program: Any, width: int) -> None:
    expected: dict[str, str | None] = {}

    async def main(path: Path) -> None:
        async with asynctrace.collector(path, max_mailbox_len=100_000):
            async with asynctrace.span("root"):
                expected["root"] = None
                # The random program, next to a wide fan-out of tasks.
                async with anyio.create_task_group() as tg:
                    tg.start_soon(run, program, "p", "root", expected)
                    for i in range(width):
                        tg.start_soon(run, ("leaf",), f"w{i}", "root", expected)

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.jsonl"
        anyio.run(main, path)
        events = load_events(path)
    assert_valid_trace(events)  # every start has exactly one stop, seq has no gaps

    starts = {e.data["name"]: e for e in events if e.event == "span.start"}
    stops = {e.span_id: e for e in events if e.event == "span.stop"}
    assert set(starts) == set(expected)
    for name, parent in expected.items():
        start = starts[name]
        if parent is None:
            assert start.parent_span_id is None
            continue
        parent_start = starts[parent]
        assert start.parent_span_id == parent_start.span_id, name
        # The parent's interval encloses the child's.
        child_stop, parent_stop = stops[start.span_id], stops[parent_start.span_id]
        assert parent_start.ts_ns <= start.ts_ns
        assert child_stop.ts_ns <= parent_stop.ts_ns
        assert child_stop.duration_ns is not None and parent_stop.duration_ns is not None
        assert child_stop.duration_ns <= parent_stop.duration_ns
