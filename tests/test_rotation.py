"""collector(max_file_bytes=): a real collector rotates its trace into parts."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from test_shutdown import start as start_script

import asynctrace

OWN = frozenset({"trace.start", "trace.stop", "agent.config"})


def lines_of(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f]


def chain(first: Path) -> list[Path]:
    """The part files from *first* on, following next_file_id by hand."""
    paths = [first]
    while True:
        stop = lines_of(paths[-1])[-1]
        assert stop["event"] == "trace.stop"
        if stop["data"]["reason"] != "rotated":
            return paths
        nxt = stop["data"]["next_file_id"]
        (found,) = [
            p for p in first.parent.iterdir()
            if p.suffix in (".jsonl", ".gz") and lines_of(p)[0]["data"].get("file_id") == nxt
        ]
        paths.append(found)


def producer(path: Path) -> list[dict[str, Any]]:
    return [ln for ln in lines_of(path) if ln["event"] not in OWN]


def assert_one_trace(first: Path, n_events: int) -> list[Path]:
    parts = chain(first)
    everything = [ln for p in parts for ln in lines_of(p)]
    assert [ln["seq"] for ln in everything] == list(range(len(everything)))
    starts = [lines_of(p)[0] for p in parts]
    assert [s["data"].get("part", 1) for s in starts] == list(range(1, len(parts) + 1))
    for prev, start in itertools.pairwise(starts):
        assert start["data"]["prev_file_id"] == prev["data"]["file_id"]
    for p in parts:
        assert asynctrace.validate(p) == [], p
        assert len({ln["trace_id"] for ln in lines_of(p)}) == 1
    # Each rotated stop's counts are the totals so far; the last one's the whole trace.
    written = 0
    for p in parts:
        written += len(producer(p))
        assert lines_of(p)[-1]["data"]["counts"]["written"] == written
    final = lines_of(parts[-1])[-1]["data"]
    assert final["reason"] == "exit"
    assert final["counts"]["written"] == final["counts"]["emitted"] == n_events
    reader = asynctrace.read(first)
    assert [p.name for p in reader.parts] == [p.name for p in parts]
    assert asynctrace.validate(reader) == []
    assert sum(1 for ev in reader if ev.event not in OWN) == n_events
    return parts


@pytest.mark.anyio
async def test_no_max_file_bytes_writes_one_file(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path) as trace:
        for i in range(200):
            await asynctrace.emit("note", i=i)
    assert list(tmp_path.iterdir()) == [trace.result.path]
    assert "part" not in lines_of(trace.path)[0]["data"]


@pytest.mark.anyio
async def test_parts_stay_within_the_limit_and_read_as_one_trace(tmp_path: Path) -> None:
    limit = 4000
    async with asynctrace.collector(trace_dir=tmp_path, max_file_bytes=limit, batch_size=7) as trace:
        for i in range(300):
            await asynctrace.emit("note", i=i, text="x" * (i % 50))
        async with asynctrace.span("work", kind="tool"):
            await asynctrace.emit("note", inside=True)
    first = trace.path
    assert trace.result.path == first
    parts = assert_one_trace(first, 303)
    assert len(parts) > 5
    for p in parts:
        # The limit holds for everything but the part's own trace.stop.
        body = p.read_bytes().splitlines(keepends=True)[:-1]
        assert sum(map(len, body)) <= limit, p
    tree = asynctrace.load_tree(first)
    assert [s.name for s in tree.roots] == ["work"]
    assert asynctrace.summarize(asynctrace.read(parts[-1]))["tool_calls"] == 1
    assert lines_of(parts[-1])[-1]["data"]["summary"] == asynctrace.summarize(first)


async def _three_notes(path: Path, max_file_bytes: int | None) -> None:
    async with asynctrace.collector(path, max_file_bytes=max_file_bytes, trace_id="ab" * 16):
        for name, size in (("a", 10), ("b", 3000), ("c", 10)):
            await asynctrace.emit(name, s="y" * size)


@pytest.mark.anyio
async def test_rotation_cuts_exactly_at_the_limit(tmp_path: Path) -> None:
    # The same lines, unrotated, tell the exact sizes (only the values of
    # ts_ns and ids differ between runs, never their lengths).
    await _three_notes(tmp_path / "plain.jsonl", None)
    start, a, b, _c, _stop = (tmp_path / "plain.jsonl").read_bytes().splitlines(keepends=True)
    exact = len(start) + len(a) + len(b)

    await _three_notes(tmp_path / "exact.jsonl", exact)
    parts = assert_one_trace(tmp_path / "exact.jsonl", 3)
    assert [[e["event"] for e in producer(p)] for p in parts] == [["a", "b"], ["c"]]
    assert parts[1].name == "exact.part2.jsonl"
    body = parts[0].read_bytes().splitlines(keepends=True)[:-1]
    assert sum(map(len, body)) == exact

    # One byte less: b is larger than the room left, so it opens part 2
    # (whose trace.start is longer than part 1's, so c no longer fits there).
    await _three_notes(tmp_path / "less.jsonl", exact - 1)
    parts = assert_one_trace(tmp_path / "less.jsonl", 3)
    assert [[e["event"] for e in producer(p)] for p in parts] == [["a"], ["b"], ["c"]]


@pytest.mark.anyio
async def test_a_limit_below_one_event_writes_one_event_per_part(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, max_file_bytes=1, batch_size=3) as trace:
        for i in range(10):
            trace.sink.emit_nowait({"event": "note", "i": i})
    parts = assert_one_trace(trace.path, 10)
    assert [[e["data"]["i"] for e in producer(p)] for p in parts] == [[i] for i in range(10)]


@pytest.mark.anyio
async def test_agent_config_is_written_again_in_each_part(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, max_file_bytes=1) as trace:
        for _ in range(3):
            await trace.sink.emit(
                {"event": "agent.step", "agent_id": "a1", "agent_config": {"model": "m"}}
            )
    parts = assert_one_trace(trace.path, 3)
    for p in parts:
        assert [e["event"] for e in lines_of(p)] == [
            "trace.start", "agent.config", "agent.step", "trace.stop"
        ]


@pytest.mark.anyio
async def test_gzip_compresses_every_part_at_close(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, max_file_bytes=1, compress="gzip") as trace:
        for i in range(3):
            await asynctrace.emit("note", i=i)
    assert trace.result.path == trace.path.with_name(trace.path.name + ".gz")
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".gz"] * 3
    reader = asynctrace.read(trace.result.path)
    assert len(reader.parts) == 3
    assert [ev.data["i"] for ev in reader if ev.event == "note"] == [0, 1, 2]


def test_max_file_bytes_is_checked_at_the_call() -> None:
    for bad in (0, -1, 1.5, "1", True):
        with pytest.raises(ValueError, match="max_file_bytes"):
            asynctrace.collector(max_file_bytes=bad)  # type: ignore[arg-type]


ROTATING_COLLECTOR = """
import asyncio, sys
import asynctrace

async def main(path):
    async with asynctrace.collector(path, max_file_bytes=2000) as trace:
        for i in range(200):
            trace.sink.emit_nowait({"event": "work", "i": i})
        async with asynctrace.span("forever", kind="run"):
            await trace.flush()
            print("ready", flush=True)
            while True:
                await trace.sink.emit({"event": "tick"})
                await asyncio.sleep(0.001)

asyncio.run(main(sys.argv[1]))
"""


def test_sigterm_ends_the_current_part_with_trace_stop(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    proc = start_script(ROTATING_COLLECTOR, path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    parts = chain(path)
    assert len(parts) > 2
    last = lines_of(parts[-1])[-1]
    assert last["event"] == "trace.stop" and last["data"]["reason"] == "signal"
    for p in parts:
        assert asynctrace.validate(p) == [], p
    reader = asynctrace.read(path)
    assert asynctrace.validate(reader) == []
    events = list(reader)
    assert [e.data["i"] for e in events if e.event == "work"] == list(range(200))
    (run_stop,) = [e for e in events if e.event == "run.stop"]
    assert run_stop.status == "cancelled"
    assert last["data"]["counts"]["written"] == sum(len(producer(p)) for p in parts)


@pytest.mark.anyio
async def test_a_next_part_that_cannot_be_created_is_counted_never_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    planted = tmp_path / "run.part2.jsonl"
    planted.write_text("someone else's file\n")
    async with asynctrace.collector(tmp_path / "run.jsonl", max_file_bytes=1) as trace:
        for i in range(4):
            await asynctrace.emit("note", i=i)
    assert planted.read_text() == "someone else's file\n"
    counts = trace.result.counts
    assert (counts.emitted, counts.written, counts.write_errors) == (4, 1, 3)
    assert "refusing to write the trace" in caplog.text
    # Part 1 is complete and names the part that is missing.
    assert [e["event"] for e in producer(tmp_path / "run.jsonl")] == ["note"]
    assert lines_of(tmp_path / "run.jsonl")[-1]["data"]["reason"] == "rotated"


@pytest.mark.anyio
async def test_gzip_compresses_a_rotated_part_while_the_trace_goes_on(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, max_file_bytes=1, compress="gzip") as trace:
        await asynctrace.emit("note", i=0)
        await asynctrace.emit("note", i=1)
        await trace.flush()  # part 1 (trace.start + note 0) is closed: part 2 is open
        first_gz = trace.path.with_name(trace.path.name + ".gz")
        # Bounded wait for the last step of the background compression: the
        # plain part is removed only after its .gz is complete and synced.
        deadline = asyncio.get_running_loop().time() + 30
        while trace.path.exists() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert not trace.path.exists()
        assert first_gz.exists()
        # The part being written stays plain, so tail -f and crash recovery work.
        plain = [p for p in tmp_path.iterdir() if p.suffix == ".jsonl"]
        assert len(plain) == 1
        await asynctrace.emit("note", i=2)
    assert trace.result.path == first_gz
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".gz"] * 3
    reader = asynctrace.read(first_gz)
    assert [ev.data["i"] for ev in reader if ev.event == "note"] == [0, 1, 2]
