"""Rotated traces: part files read, viewed, validated and followed as one trace."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

import pytest
from _partgen import COLLECTOR, file_id, split, write_parts
from _tracegen import research_trace
from test_cli import PACKAGE_ROOT, run, tail_follow

import asynctrace
from asynctrace._events._codec import encode_line
from asynctrace._reading import _problems as P
from asynctrace._storage._compress import compress_part
from asynctrace._storage._parts import find_parts
from asynctrace._storage._rotation import check_max_file_bytes, next_part_path, part_is_full
from asynctrace.export import to_chrome_trace

CUTS = [5, 12, 18]


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[list[Path], Path]:
    """The research trace in four parts in one folder, and unrotated in another."""
    parent, _ = research_trace(child=False)
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    whole_dir = tmp_path / "whole"
    whole_dir.mkdir()
    parts = write_parts(parent, parts_dir, CUTS)
    # The unrotated copy is the same v2 file: one file id, that of the first part.
    parent.lines[0].data.update(schema_version=2, file_id=file_id(parent.trace_id, 1))
    return parts, parent.write(whole_dir)


def test_any_part_finds_every_part_in_order(rotated: tuple[list[Path], Path]) -> None:
    parts, _ = rotated
    for part in parts:
        assert find_parts(part) == parts
        reader = asynctrace.read(part)
        assert reader.path == parts[0]
        assert reader.parts == parts
        assert reader.start is not None and reader.start.data["part"] == 1


def test_a_trace_that_was_never_rotated_is_its_own_only_part(
    rotated: tuple[list[Path], Path],
) -> None:
    _, whole = rotated
    assert find_parts(whole) == [whole]
    assert asynctrace.read(whole).parts == [whole]


def test_seq_runs_on_across_parts_and_the_last_stop_carries_the_totals(
    rotated: tuple[list[Path], Path],
) -> None:
    parts, whole = rotated
    reader = asynctrace.read(parts[2])
    events = list(reader)
    assert [ev.seq for ev in events] == list(range(len(events)))
    boundaries = [ev for ev in events if ev.event == "trace.stop"][:-1]
    assert [ev.data["reason"] for ev in boundaries] == ["rotated"] * len(CUTS)
    assert reader.stop is not None and reader.stop.data["reason"] == "exit"
    assert reader.problems == []
    whole_stop = asynctrace.read(whole).stop
    assert whole_stop is not None
    assert reader.stop.data["summary"] == whole_stop.data["summary"]
    assert asynctrace.summarize(reader) == whole_stop.data["summary"]


def test_every_part_is_valid_on_its_own_and_the_chain_is_valid_together(
    rotated: tuple[list[Path], Path],
) -> None:
    parts, _ = rotated
    for part in parts:
        assert asynctrace.validate(part) == [], part.name
    assert asynctrace.validate(asynctrace.read(parts[0])) == []
    result = run("--json", "validate", *map(str, parts))
    assert result.returncode == 0, result.stderr
    assert all(item["valid"] for item in json.loads(result.stdout))


def test_validation_of_the_chain_finds_a_summary_that_does_not_add_up(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    lines = split(parent, [6])
    lines[-1][-1].data = {
        **lines[-1][-1].data,
        "summary": {**lines[-1][-1].data["summary"], "tool_calls": 99},
    }
    paths = []
    for part in lines:
        path = tmp_path / f"2026-01-01_00-00-00_{parent.trace_id}_{part[0].data['file_id']}.jsonl"
        path.write_bytes(b"".join(encode_line(ev) for ev in part))
        paths.append(path)
    assert asynctrace.validate(paths[1]) == []  # on its own it cannot tell
    problems = asynctrace.validate(asynctrace.read(paths[0]))
    assert [p.kind for p in problems] == ["summary"]


def test_a_missing_next_part_is_reported_not_raised(rotated: tuple[list[Path], Path]) -> None:
    parts, _ = rotated
    parts[-1].unlink()
    reader = asynctrace.read(parts[0])
    assert reader.parts == parts[:-1]
    list(reader)
    assert [p.kind for p in reader.problems] == [P.MISSING_PART]


def test_views_and_the_chrome_export_match_the_unrotated_trace(
    rotated: tuple[list[Path], Path],
) -> None:
    parts, whole = rotated
    rotated_tree = asynctrace.load_tree(parts[-1])
    whole_tree = asynctrace.load_tree(whole)
    assert str(asynctrace.tree_view(rotated_tree)) == str(asynctrace.tree_view(whole_tree))
    assert str(asynctrace.trajectory_view(rotated_tree)) == str(
        asynctrace.trajectory_view(whole_tree)
    )
    assert rotated_tree.problems == []
    rot_summary = asynctrace.summary_view(asynctrace.read(parts[1])).data()
    whole_summary = asynctrace.summary_view(asynctrace.read(whole)).data()
    for key in ("summary", "latency", "status", "duration_ns", "warnings"):
        assert rot_summary[key] == whole_summary[key], key
    # The same errors; their seq is later by the boundary lines before them.
    strip = [{k: v for k, v in e.items() if k != "seq"} for e in rot_summary["errors"]]
    assert strip == [{k: v for k, v in e.items() if k != "seq"} for e in whole_summary["errors"]]
    chrome_rot = to_chrome_trace(rotated_tree)
    chrome_whole = to_chrome_trace(whole_tree)
    assert len(chrome_rot["traceEvents"]) == len(chrome_whole["traceEvents"])
    # The timeline shows every producer event once, plus the part boundaries.
    shown = [line.split()[2] for line in asynctrace.timeline_view(asynctrace.read(parts[0]))]
    assert shown.count("trace.start") == len(parts)
    assert shown.count("trace.stop") == len(parts)


def test_the_cli_views_take_any_part_or_the_folder(rotated: tuple[list[Path], Path]) -> None:
    parts, whole = rotated
    for command in ("tree", "summary", "trajectory"):
        via_part = run("--no-color", command, str(parts[1]))
        via_dir = run("--no-color", command, str(parts[0].parent))
        assert via_part.returncode == 0 and via_dir.returncode == 0, via_part.stderr
        assert via_part.stdout == via_dir.stdout
    tree_whole = run("--no-color", "tree", str(whole))
    assert run("--no-color", "tree", str(parts[2])).stdout == tree_whole.stdout


def _reader_thread(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_event(lines: queue.Queue[str]) -> str:
    return lines.get(timeout=60).split()[2]


def test_tail_follow_goes_on_into_the_next_part_once_it_appears(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    parts = split(parent, [8])
    first = tmp_path / f"2026-01-01_00-00-00_{parent.trace_id}_{parts[0][0].data['file_id']}.jsonl"
    second = tmp_path / f"2026-01-01_00-00-00_{parent.trace_id}_{parts[1][0].data['file_id']}.jsonl"
    first.write_bytes(b"".join(encode_line(ev) for ev in parts[0]))
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    env.pop("NO_COLOR", None)
    proc = tail_follow(first, interval_s=0.02, env=env)
    try:
        lines = _reader_thread(proc)
        seen = [_next_event(lines) for _ in parts[0]]
        assert seen == [ev.event for ev in parts[0]]
        assert seen[-1] == "trace.stop"
        # The closed part is compressed away (plain file removed) while followed.
        compress_part(first, sync=False)
        # Only now does the next part appear, first with half of its lines.
        encoded = [encode_line(ev) for ev in parts[1]]
        half = len(encoded) // 2
        second.write_bytes(b"".join(encoded[:half]))
        assert [_next_event(lines) for _ in range(half)] == [ev.event for ev in parts[1][:half]]
        with second.open("ab") as f:
            f.write(b"".join(encoded[half:]))
        assert proc.wait(timeout=60) == 0
        rest = [_next_event(lines) for _ in encoded[half:]]
        assert rest == [ev.event for ev in parts[1][half:]]
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        proc.kill()
        proc.communicate()


# -- rotation by size, at the boundaries ----------------------------------------


def test_a_part_is_full_only_when_the_next_line_would_pass_the_limit() -> None:
    assert not part_is_full(90, 10, 3, 100)  # exactly at the limit still fits
    assert part_is_full(90, 11, 3, 100)
    assert not part_is_full(10, 500, 0, 100)  # an empty part takes any line
    assert not part_is_full(10**9, 10**9, 5, None)
    assert check_max_file_bytes(None) is None and check_max_file_bytes(1) == 1
    for bad in (0, -5, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_file_bytes"):
            check_max_file_bytes(bad)


def _stop_len(path: Path) -> int:
    return len(path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]) + 1


@pytest.mark.parametrize("max_file_bytes", [1, 700, 1500, 4000])
def test_rotation_by_size_keeps_every_part_within_the_limit_and_loses_nothing(
    tmp_path: Path, max_file_bytes: int
) -> None:
    parent, _ = research_trace(child=False)
    (tmp_path / "whole").mkdir()
    whole = parent.write(tmp_path / "whole")
    parts = write_parts(parent, tmp_path, max_file_bytes=max_file_bytes)
    assert len(parts) > 1
    for part in parts:
        producer = [ev for ev in asynctrace.read(part, parts=False) if ev.event not in COLLECTOR]
        body = part.stat().st_size - _stop_len(part)
        # Over the limit only when a single line is larger than the limit.
        assert body <= max_file_bytes or len(producer) == 1, (part.name, body)
        assert asynctrace.validate(part) == [], part.name
    if max_file_bytes == 1:
        assert len(parts) == parent.written  # one event per part
    reader = asynctrace.read(parts[0])
    events = list(reader)
    assert [ev.seq for ev in events] == list(range(len(events)))
    produced = [ev for ev in events if ev.event not in COLLECTOR]
    original = [ev for ev in asynctrace.read(whole) if ev.event not in COLLECTOR]
    assert [(ev.event, ev.ts_ns, ev.span_id) for ev in produced] == [
        (ev.event, ev.ts_ns, ev.span_id) for ev in original
    ]
    assert asynctrace.validate(reader) == []
    assert reader.stop is not None and reader.stop.data["counts"]["written"] == len(produced)


def test_an_event_larger_than_the_room_left_opens_the_next_part(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    lines = split(parent)[0]
    # Room for the start line and the first two producer lines, and 1 byte.
    room = sum(len(encode_line(ev)) for ev in lines[:3]) + 1
    parts = split(parent, max_file_bytes=room)
    assert [ev.event for ev in parts[0]] == [
        lines[0].event,
        lines[1].event,
        lines[2].event,
        "trace.stop",
    ]
    assert parts[1][0].data["part"] == 2 and parts[1][1].event == lines[3].event


def test_the_next_part_is_named_beside_the_first(tmp_path: Path) -> None:
    trace_id, fid = "ab" * 16, "cd" * 8
    first = tmp_path / f"2026-03-04_05-06-07_{trace_id}_{'11' * 8}.jsonl"
    assert next_part_path(first, trace_id=trace_id, file_id=fid, part=2).name == (
        f"2026-03-04_05-06-07_{trace_id}_{fid}.jsonl"
    )
    custom = tmp_path / "run.jsonl"
    assert next_part_path(custom, trace_id=trace_id, file_id=fid, part=2).name == "run.part2.jsonl"
    again = tmp_path / "run.part2.jsonl"
    assert next_part_path(again, trace_id=trace_id, file_id=fid, part=3).name == "run.part3.jsonl"


def test_parts_with_custom_names_are_found_too(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    paths = []
    for n, lines in enumerate(split(parent, [6, 14]), start=1):
        name = "run.jsonl" if n == 1 else f"run.part{n}.jsonl"
        path = tmp_path / name
        path.write_bytes(b"".join(encode_line(ev) for ev in lines))
        paths.append(path)
    (tmp_path / "other.jsonl").write_bytes(encode_line(research_trace()[1].lines[0]))
    assert asynctrace.read(paths[1]).parts == paths
    assert asynctrace.validate(asynctrace.read(paths[2])) == []


def test_a_missing_first_part_is_reported_too(rotated: tuple[list[Path], Path]) -> None:
    parts, _ = rotated
    parts[0].unlink()
    reader = asynctrace.read(parts[2])
    assert reader.parts == parts[1:]
    list(reader)
    assert [p.kind for p in reader.problems] == [P.MISSING_PART]
    assert asynctrace.read(parts[1], parts=False).problems == []


def test_a_directory_means_the_parts_of_its_newest_trace(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    parts = write_parts(parent, tmp_path, [5, 12])
    older = research_trace()[1].write(tmp_path)
    os.utime(older, ns=(1, 1))
    assert find_parts(tmp_path) == parts
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_parts(empty) == []
