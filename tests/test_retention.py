"""Retention: the oldest traces go, whole; foreign files, open traces and their links stay."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _partgen import write_parts
from _tracegen import TraceFile, research_trace
from test_cli import PACKAGE_ROOT, run

import asynctrace
from asynctrace._storage._compress import compress_part
from asynctrace._storage._retention import cleanup, cleanup_in_thread, resolve_retention

DAY_NS = 86_400 * 1_000_000_000
NOW_NS = 1_800_000_000 * 1_000_000_000


def trace_id(n: int) -> str:
    return f"{n:032x}"


def closed(n: int, **start: object) -> TraceFile:
    t = TraceFile(trace_id(n), label=f"run {n}", **start)
    t.call("tool", 5, 4, None, name="search")
    t.close(10)
    return t


def put(folder: Path, trace: TraceFile, *, age_days: float, name: str | None = None) -> Path:
    path = trace.write(folder, name=name)
    age(path, age_days)
    return path


def age(path: Path, days: float) -> None:
    ts = NOW_NS - round(days * DAY_NS)
    os.utime(path, ns=(ts, ts))


def names(paths: list[Path]) -> list[str]:
    return sorted(p.name for p in paths)


def test_max_files_keeps_the_newest_traces(tmp_path: Path) -> None:
    paths = [put(tmp_path, closed(n), age_days=10 - n) for n in range(1, 6)]
    removed = cleanup(tmp_path, asynctrace.Retention(max_files=2), now_ns=NOW_NS)
    assert removed == paths[:3]  # oldest first
    assert sorted(tmp_path.iterdir()) == paths[3:]


def test_max_age_deletes_traces_last_written_before_it(tmp_path: Path) -> None:
    old = put(tmp_path, closed(1), age_days=31)
    young = put(tmp_path, closed(2), age_days=29)
    assert cleanup(tmp_path, asynctrace.Retention(max_age_days=30), now_ns=NOW_NS) == [old]
    assert list(tmp_path.iterdir()) == [young]


def test_dry_run_lists_the_same_files_and_deletes_none(tmp_path: Path) -> None:
    paths = [put(tmp_path, closed(n), age_days=40) for n in range(1, 4)]
    retention = asynctrace.Retention(max_files=1)
    would = cleanup(tmp_path, retention, dry_run=True, now_ns=NOW_NS)
    assert sorted(tmp_path.iterdir()) == paths
    assert cleanup(tmp_path, retention, now_ns=NOW_NS) == would
    assert len(would) == 2


def test_files_that_are_not_asynctraces_own_are_never_touched(tmp_path: Path) -> None:
    foreign = {
        "notes.txt": b"hello\n",
        # The writer's name pattern, but not a trace inside.
        f"2026-01-01_00-00-00_{trace_id(7)}.jsonl": b'{"event": "log", "msg": "mine"}\n',
        # A trace, but its name and its first line disagree on the trace id.
        f"2026-01-01_00-00-00_{trace_id(8)}.jsonl": closed(9).encoded(),
        f"2026-01-01_00-00-00_{trace_id(10)}.jsonl.gz": b"not gzip at all",
        "empty_2026-01-01_00-00-00.jsonl": b"",
    }
    for name, data in foreign.items():
        (tmp_path / name).write_bytes(data)
        age(tmp_path / name, 400)
    custom = put(tmp_path, closed(11), age_days=400, name="my-own-name.jsonl")
    ours = put(tmp_path, closed(12), age_days=400)
    removed = cleanup(tmp_path, asynctrace.Retention(max_files=1, max_age_days=1), now_ns=NOW_NS)
    assert removed == [ours]
    assert names(list(tmp_path.iterdir())) == sorted([*foreign, custom.name])


def test_a_trace_still_being_written_is_kept_past_every_limit(tmp_path: Path) -> None:
    fresh = TraceFile(trace_id(1), label="fresh, no stop yet")
    fresh.call("tool", 5, 4, None, name="search")
    fresh_path = put(tmp_path, fresh, age_days=0.1)
    alive = TraceFile(
        trace_id(2), label="idle but alive", host=socket.gethostname(), pid=os.getpid()
    )
    alive_path = put(tmp_path, alive, age_days=90)
    crashed = TraceFile(trace_id(3), label="crashed long ago", host="elsewhere", pid=1)
    crashed_path = put(tmp_path, crashed, age_days=90)
    removed = cleanup(tmp_path, asynctrace.Retention(max_files=1, max_age_days=1), now_ns=NOW_NS)
    assert removed == [crashed_path]
    assert sorted(tmp_path.iterdir()) == sorted([fresh_path, alive_path])


def test_a_closed_child_of_an_open_trace_is_kept_with_it(tmp_path: Path) -> None:
    parent = TraceFile(trace_id(1), label="parent, open")
    span = parent.start("span", 1, name="delegate")
    child = TraceFile(trace_id(2), label="child", parent=(trace_id(1), span))
    child.call("tool", 5, 4, None, name="search")
    child.close(6)
    parent_path = put(tmp_path, parent, age_days=0)
    child_path = put(tmp_path, child, age_days=60)
    assert cleanup(tmp_path, asynctrace.Retention(max_age_days=1), now_ns=NOW_NS) == []
    assert sorted(tmp_path.iterdir()) == sorted([parent_path, child_path])


def test_a_trace_goes_with_its_parts_and_children_together(tmp_path: Path) -> None:
    parent, child = research_trace()
    parts = write_parts(parent, tmp_path, [5, 12])
    child_path = child.write(tmp_path)
    compress_part(parts[0], sync=False)
    gz = parts[0].with_name(parts[0].name + ".gz")
    # A crash between compressing and removing: both copies of part 1.
    parts[0].write_bytes(__import__("gzip").decompress(gz.read_bytes()))
    group = [gz, *parts, child_path]
    for path in group:
        age(path, 50)
    keep = put(tmp_path, closed(99), age_days=1)
    removed = cleanup(tmp_path, asynctrace.Retention(max_files=1), now_ns=NOW_NS)
    assert sorted(removed) == sorted(group)
    assert list(tmp_path.iterdir()) == [keep]


def test_the_newest_part_decides_a_rotated_traces_age(tmp_path: Path) -> None:
    parent, _ = research_trace(child=False)
    parts = write_parts(parent, tmp_path, [5])
    age(parts[0], 90)
    age(parts[1], 2)
    assert cleanup(tmp_path, asynctrace.Retention(max_age_days=30), now_ns=NOW_NS) == []


def test_a_missing_directory_is_nothing_to_clean(tmp_path: Path) -> None:
    assert cleanup(tmp_path / "nope", asynctrace.Retention(max_files=1)) == []


def test_cleanup_in_thread_runs_from_async_code(tmp_path: Path) -> None:
    paths = [put(tmp_path, closed(n), age_days=10 - n) for n in range(1, 4)]
    removed = asyncio.run(cleanup_in_thread(tmp_path, asynctrace.Retention(max_files=1)))
    assert removed == paths[:2]


def test_retention_is_public_and_checks_its_arguments() -> None:
    assert asynctrace.Retention.__module__ == "asynctrace"
    assert asynctrace.Retention(max_files=100, max_age_days=30).max_files == 100
    for bad in (
        {},
        {"max_files": 0},
        {"max_files": True},
        {"max_files": 1.5},
        {"max_age_days": -1},
        {"max_age_days": "30"},
    ):
        with pytest.raises(ValueError):
            asynctrace.Retention(**bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Retention"):
        cleanup(".", {"max_files": 1})  # type: ignore[arg-type]


def test_the_environment_format() -> None:
    parse = asynctrace.Retention.parse
    assert parse("max_files=100,max_age=30d") == asynctrace.Retention(100, 30.0)
    assert parse(" max_age = 12h ") == asynctrace.Retention(max_age_days=0.5)
    assert parse("max_age_days=7") == asynctrace.Retention(max_age_days=7.0)
    assert parse("max_files=5") == asynctrace.Retention(max_files=5)
    for off in ("", "off", "0", "none"):
        assert parse(off) is None
    for bad in ("max_files", "max_files=x", "max_age=soon", "keep=3", "max_files=0"):
        with pytest.raises(ValueError):
            parse(bad)
    from_env = asynctrace.Retention.from_env
    assert from_env({}) is None
    assert from_env({"ASYNCTRACE_RETENTION": "max_files=3"}) == asynctrace.Retention(max_files=3)
    with pytest.raises(ValueError, match="ASYNCTRACE_RETENTION"):
        from_env({"ASYNCTRACE_RETENTION": "max_files=lots"})


def test_clean_on_the_command_line(tmp_path: Path) -> None:
    paths = [put(tmp_path, closed(n), age_days=100 - n) for n in range(1, 4)]
    (tmp_path / "notes.txt").write_text("mine")
    dry = run("clean", str(tmp_path), "--max-files", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"would remove {p}" for p in paths[:2]]
    assert len(list(tmp_path.iterdir())) == 4
    real = run("--json", "clean", str(tmp_path), "--max-age", "30d")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout) == {"dry_run": False, "removed": [str(p) for p in paths]}
    assert names(list(tmp_path.iterdir())) == ["notes.txt"]


def test_clean_usage_errors() -> None:
    for args in (
        ["clean", "."],
        ["clean", ".", "--max-age", "soon"],
        ["clean", ".", "--max-files", "0"],
    ):
        result = run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


def test_the_collector_argument_falls_back_to_the_environment() -> None:
    explicit = asynctrace.Retention(max_files=3)
    assert resolve_retention(explicit, {"ASYNCTRACE_RETENTION": "max_files=9"}) is explicit
    assert resolve_retention(None, {"ASYNCTRACE_RETENTION": "max_files=9"}) == asynctrace.Retention(
        max_files=9
    )
    assert resolve_retention(None, {}) is None
    with pytest.raises(TypeError, match="Retention"):
        resolve_retention({"max_files": 3}, {})


def test_a_malformed_environment_variable_is_logged_once_and_means_off() -> None:
    code = (
        "import logging; logging.basicConfig(format='%(message)s')\n"
        "from asynctrace._storage._retention import resolve_retention\n"
        "print(resolve_retention(None), resolve_retention(None))\n"
    )
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT, "ASYNCTRACE_RETENTION": "keep everything"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "None None\n"
    assert result.stderr.splitlines() == [
        "asynctrace: ASYNCTRACE_RETENTION: expected key=value in 'keep everything', "
        "got 'keep everything'; retention is off"
    ]


@pytest.mark.anyio
async def test_a_cleanup_while_a_real_collector_writes_keeps_its_file(tmp_path: Path) -> None:
    old = [put(tmp_path, closed(n), age_days=60 + n) for n in range(1, 4)]
    async with asynctrace.collector(trace_dir=tmp_path, label="live") as trace:
        await asynctrace.emit("note", text="written, not closed yet")
        await trace.flush()
        removed = await cleanup_in_thread(tmp_path, asynctrace.Retention(max_files=1))
    assert sorted(removed) == sorted(old)
    assert trace.path is not None and Path(trace.path).exists()
    assert list(tmp_path.iterdir()) == [Path(trace.path)]
