"""The hot path's lanes give the general path's result, and keep its promises.

The emit lane (a plain dict under a known name), the span lanes (a start the
built-in steps pass unchanged, a stop that carries only the name) and the
mailbox's urgency flag each skip work the general path does; these tests
hold them to the same output and the same guarantees.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

import asynctrace
from asynctrace._events import _clock
from asynctrace._processing._pipeline import Pipeline
from asynctrace._processing._redact import Redactor
from asynctrace._processing._sanitize import Sanitizer

SECRET = "sk-abcdefghijklmnopqrstuvwx"

# Events the lane takes, and ones it must hand to the general path.
CORPUS: list[dict[str, Any]] = [
    {"event": "tool.call", "name": "search", "query": "weather in Paris", "n": 3, "ok": True},
    {"event": "tool.call", "name": "search", "query": "weather in Paris", "n": 3, "ok": True},
    {"event": "tool.call", "api_key": "plain-looking", "n": 1},
    {"event": "tool.call", "text": f"the key is {SECRET}", "n": 2},
    {"event": "note", "password": "hunter2"},
    {"event": "note", "path": "/home/alice/.ssh/id_rsa"},
    {"event": "note", "nested": {"token": SECRET, "list": [1, "two", {"k": SECRET}]}},
    {"event": "note", "f": float("nan"), "g": 1.5},
    {"event": "note", "big": "x" * 100},
    {"event": "nöte", "k": "v"},
    {"event": "note", "k": "vé"},
    {"event": "note", "status": "error", "k": 1},
    {"event": "note", "agent_id": "a1", "k": 1},
    {"event": "note", "data": {"inner": 1}, "outer": 2},
    {"event": "note", "ts_ns": 123, "k": 1},
    {"event": "note", 1: "int key"},
    {"event": "note", "obj": object()},
    {"event": "tool.call", "name": "search", "query": "weather in Paris", "n": 3, "ok": True},
]


def _lines(path: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    out = []
    for ev in asynctrace.read(path):
        if ev.event in ("trace.start", "trace.stop"):
            continue
        out.append((ev.event, ev.status, dict(ev.data)))
    return out


def _identity(ev: asynctrace.Event) -> asynctrace.Event:
    return ev


async def _emit_all(path: Path, *, lanes: bool, awaited: bool) -> list[Any]:
    # A user processor, even one that changes nothing, closes every lane.
    processors = [] if lanes else [_identity]
    async with asynctrace.collector(path, processors=processors) as trace:
        for event in CORPUS:
            if awaited:
                await trace.sink.emit(event)
            else:
                trace.sink.emit_nowait(event)
    return _lines(trace.result.path)


@pytest.mark.anyio
@pytest.mark.parametrize("awaited", [False, True])
async def test_the_emit_lane_writes_what_the_general_path_writes(tmp_path: Path, awaited: bool) -> None:
    fast = await _emit_all(tmp_path / "fast.jsonl", lanes=True, awaited=awaited)
    slow = await _emit_all(tmp_path / "slow.jsonl", lanes=False, awaited=awaited)
    assert fast == slow
    assert len(fast) == len(CORPUS)
    flat = repr(fast)
    assert SECRET not in flat and "hunter2" not in flat


@pytest.mark.anyio
async def test_the_emit_lane_refuses_what_the_boundary_refuses(tmp_path: Path) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        trace.sink.emit_nowait({"event": "tool.call", "n": 1})  # the lane now knows both
        with pytest.raises(ValueError, match="collector itself"):
            trace.sink.emit_nowait({"event": "trace.stop", "n": 1})
        with pytest.raises(ValueError, match="non-empty"):
            trace.sink.emit_nowait({"event": "", "n": 1})
        with pytest.raises(ValueError):
            trace.sink.emit_nowait({"n": 1})
        with pytest.raises(TypeError):
            trace.sink.emit_nowait({"event": "tool.call", "status": 3})


async def _spans(path: Path, *, lanes: bool) -> list[Any]:
    processors = [] if lanes else [_identity]
    async with asynctrace.collector(path, processors=processors):
        async with asynctrace.span("search", kind="tool", q="weather"):
            pass
        async with asynctrace.span(SECRET, kind="tool", q="x"):  # a secret-looking name
            pass
        async with asynctrace.span("op", kind="tool") as s:
            s.set(name=f"renamed {SECRET}")  # set() may change the one key a stop has
        async with asynctrace.span("op", kind="tool") as s:
            s.set(token="t0ps3cret", n=1)
        with pytest.raises(RuntimeError):
            async with asynctrace.span("op", kind="tool"):
                raise RuntimeError(f"failed with {SECRET}")
        with asynctrace.span("sync", kind="tool", k="v"):
            pass
    return _lines(path)


@pytest.mark.anyio
async def test_the_span_lanes_write_what_the_general_path_writes(tmp_path: Path) -> None:
    fast = await _spans(tmp_path / "fast.jsonl", lanes=True)
    slow = await _spans(tmp_path / "slow.jsonl", lanes=False)
    assert fast == slow
    assert SECRET not in repr(fast) and "t0ps3cret" not in repr(fast)


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


@pytest.mark.anyio
async def test_errors_and_checkpoints_are_written_at_once_by_every_way_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = _count_fsyncs(monkeypatch)
    async with asynctrace.collector(tmp_path / "t.jsonl", fsync=True) as trace:

        async def settled() -> int:
            await trace.flush()
            return len(fsyncs)

        base = await settled()
        trace.sink.emit_nowait({"event": "tool.call", "n": 1})
        async with asynctrace.span("op", kind="tool"):
            pass
        assert await settled() == base, "ordinary events are not urgent"

        def urgent_ways() -> list[Any]:
            def from_thread() -> None:
                trace.sink.emit_nowait({"event": "checkpoint", "step": 1})

            def blocking() -> None:
                trace.sink.emit_from_thread({"event": "error", "message": "m"})

            async def failing_span() -> None:
                with pytest.raises(ValueError):
                    async with asynctrace.span("op", kind="tool"):
                        raise ValueError("boom")

            return [
                lambda: trace.sink.emit_nowait({"event": "checkpoint", "step": 1}),
                lambda: trace.sink.emit_nowait({"event": "error", "message": "m"}),
                lambda: trace.sink.emit_nowait({"event": "note", "status": "error"}),
                lambda: asynctrace.emit_nowait("error", message="m"),
                lambda: asyncio.to_thread(from_thread),
                lambda: asyncio.to_thread(blocking),
                failing_span,
                lambda: trace.sink.emit({"event": "checkpoint", "step": 2}),
            ]

        for i, way in enumerate(urgent_ways()):
            before = await settled()
            result = way()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
            assert await settled() > before, f"way {i} was not written at once"
            # ...and the flag does not outlive the event: the next batch is ordinary.
            after = len(fsyncs)
            trace.sink.emit_nowait({"event": "tool.call", "n": 2})
            assert await settled() == after, f"way {i} left the mailbox urgent"


def test_a_stop_is_exactly_its_start_plus_its_duration() -> None:
    async def main() -> Path:
        async with asynctrace.collector(Path(os.environ["AT_TMP"]) / "t.jsonl") as trace:
            async with asynctrace.span("outer", kind="run"):
                async with asynctrace.span("inner", kind="tool"):
                    await asyncio.sleep(0)
        return trace.result.path

    events = [e for e in asynctrace.read(asyncio.run(main())) if not e.event.startswith("trace.")]
    starts = {e.span_id: e for e in events if e.event.endswith(".start")}
    stops = [e for e in events if e.event.endswith(".stop")]
    assert len(stops) == 2
    for stop in stops:
        assert stop.duration_ns is not None and stop.duration_ns >= 0
        assert stop.ts_ns == starts[stop.span_id].ts_ns + stop.duration_ns
    inner, outer = stops
    assert inner.ts_ns <= outer.ts_ns  # the child stops before its parent, always


@pytest.fixture(autouse=True)
def _tmp_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_TMP", str(tmp_path))


def test_producer_timestamps_follow_the_wall_clock_and_reanchor() -> None:
    _clock.reanchor()
    assert abs(_clock.now_ns() - time.time_ns()) < 50_000_000  # 50 ms
    saved = _clock.offset_ns
    try:
        _clock.offset_ns = saved - 10**12  # as if the wall clock had been stepped since
        assert _clock.now_ns() < time.time_ns() - 10**11
        _clock.reanchor()
        assert abs(_clock.now_ns() - time.time_ns()) < 50_000_000
    finally:
        _clock.reanchor()


def test_spans_work_under_one_event_loop_after_another() -> None:
    # The awaitables a span's exit returns are made once, under the first loop.
    async def main(n: int) -> int:
        async with asynctrace.collector(Path(os.environ["AT_TMP"]) / f"t{n}.jsonl") as trace:
            async with asynctrace.span("op", kind="tool"):
                pass
        async with asynctrace.span("untraced", kind="tool"):
            pass
        return trace.result.counts.written

    assert [asyncio.run(main(n)) for n in range(3)] == [2, 2, 2]

    def in_a_thread() -> None:
        assert asyncio.run(main(9)) == 2

    t = threading.Thread(target=in_a_thread)
    t.start()
    t.join()


@pytest.mark.anyio
async def test_after_a_span_its_parent_is_current_for_spans_events_and_capture(tmp_path: Path) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        async with asynctrace.span("parent", kind="run") as parent:
            async with asynctrace.span("child", kind="tool"):
                pass
            assert asynctrace.current_span() is parent
            captured = asynctrace.capture()
            assert captured.span is parent
            tp = captured.traceparent
            assert tp is not None and tp.span_id == parent.span_id
            asynctrace.emit_nowait("note", k=1)
            await asynctrace.emit("note", k=2)
            async with asynctrace.span("sibling", kind="tool"):
                pass
    events = list(asynctrace.read(trace.result.path))
    for e in events:
        if e.event == "note" or (e.event == "tool.start" and e.data["name"] == "sibling"):
            assert e.parent_span_id == parent.span_id, e


@pytest.mark.anyio
async def test_a_closed_collector_leaves_no_stopped_span_alive_in_the_context(tmp_path: Path) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl"):
        async with asynctrace.span("op", kind="tool") as s:
            pass
        ref = weakref.ref(s)
        del s
    gc.collect()
    assert ref() is None
    assert asynctrace.current_span() is None


def test_the_flat_check_bounds_the_characters_its_strings_hold() -> None:
    pipeline = Pipeline([Redactor(), Sanitizer()])
    assert pipeline.flat is not None
    samples: list[dict[str, Any]] = [
        {"a": "x", "b": 1, "name": "op"},
        {"q": "weather in Paris tomorrow", "n": 3},
        {"q": "y" * 500, "r": "z" * 70},
        {"q": "short", "r": "short"},
        {},
    ]
    for _ in range(2):  # the second time, the strings are known clean
        for data in samples:
            chars = pipeline.flat(dict(data))
            assert chars >= sum(len(v) for v in data.values() if isinstance(v, str)), data
    assert pipeline.flat({"nested": {"a": 1}}) < 0  # containers: the snapshot's job
    assert pipeline.flat({"k": SECRET}) < 0  # a change to make: the general path
    assert Pipeline([Redactor(), Sanitizer(), _identity]).flat is None  # user processors run


@pytest.mark.anyio
async def test_every_way_an_agents_config_comes_in_writes_one_agent_config_line(
    tmp_path: Path,
) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        for _ in range(600):  # ordinary lines before, so the configs land mid-batch
            trace.sink.emit_nowait({"event": "tool.call", "n": 1})
        async with asynctrace.span("run", kind="run", agent_id="a1", agent_config={"model": "m1"}):
            trace.sink.emit_nowait({"event": "note", "agent_id": "a2", "agent_config": {"model": "m2"}})

            def from_thread() -> None:
                trace.sink.emit_nowait(
                    {"event": "note", "agent_id": "a3", "agent_config": {"model": "m3"}}
                )

            await asyncio.to_thread(from_thread)
            with asynctrace.span("again", kind="run", agent_id="a1", agent_config={"model": "m1"}):
                pass
    events = list(asynctrace.read(trace.result.path))
    configs = [(e.agent_id, e.data) for e in events if e.event == "agent.config"]
    assert configs == [("a1", {"model": "m1"}), ("a2", {"model": "m2"}), ("a3", {"model": "m3"})]
    assert not any("agent_config" in e.data for e in events)
    seqs = [e.seq for e in events]
    assert seqs == list(range(len(seqs)))
