"""Compressing closed parts: gzip beside, sync, rename, then remove; crashes leave a copy."""

from __future__ import annotations

import asyncio
import gzip
import threading
from pathlib import Path

import pytest
from _partgen import write_parts
from _tracegen import research_trace

import asynctrace
from asynctrace._storage._compress import (
    Stage,
    check_compress,
    compress_part,
    compress_part_in_thread,
)
from asynctrace._storage._names import parse_name, temp_path


class Crash(Exception):
    """Stands in for the process dying at a stage."""


def crash_at(stage: Stage):  # type: ignore[no-untyped-def]
    def hook(at: Stage) -> None:
        if at == stage:
            raise Crash(at)

    return hook


def test_a_part_becomes_a_gzip_file_with_the_same_bytes_and_the_plain_file_goes(
    tmp_path: Path,
) -> None:
    path = research_trace()[0].write(tmp_path)
    original = path.read_bytes()
    target = compress_part(path)
    assert target == path.with_name(path.name + ".gz")
    assert not path.exists()
    assert gzip.decompress(target.read_bytes()) == original
    assert parse_name(target.name) is not None and parse_name(target.name).compressed  # type: ignore[union-attr]
    assert not temp_path(target).exists()


def test_the_compressed_file_keeps_the_mtime_and_is_private(tmp_path: Path) -> None:
    path = research_trace()[0].write(tmp_path)
    path.chmod(0o600)
    import os

    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    target = compress_part(path, sync=False)
    assert target.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert target.stat().st_mode & 0o077 == 0


def test_a_crash_after_writing_leaves_the_plain_file_complete_and_no_trace_named_temp(
    tmp_path: Path,
) -> None:
    path = research_trace()[0].write(tmp_path)
    original = path.read_bytes()
    with pytest.raises(Crash):
        compress_part(path, on_stage=crash_at("written"))
    assert path.read_bytes() == original
    assert not path.with_name(path.name + ".gz").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if parse_name(p.name)) == [path.name]
    # The next attempt replaces the leftover and completes.
    target = compress_part(path)
    assert gzip.decompress(target.read_bytes()) == original
    assert not temp_path(target).exists()


def test_a_crash_between_renaming_and_removing_leaves_two_complete_copies_read_once(
    tmp_path: Path,
) -> None:
    trace = research_trace(child=False)[0]
    parts = write_parts(trace, tmp_path, [6])
    original = parts[0].read_bytes()
    with pytest.raises(Crash):
        compress_part(parts[0], on_stage=crash_at("renamed"))
    gz = parts[0].with_name(parts[0].name + ".gz")
    assert parts[0].read_bytes() == original
    assert gzip.decompress(gz.read_bytes()) == original
    # Readers see one trace, with each event once.
    reader = asynctrace.read(parts[1])
    assert len(reader.parts) == 2
    assert [ev.seq for ev in reader] == list(range(len(trace.lines) + 2))


def test_compressed_parts_read_as_one_trace_streaming(tmp_path: Path) -> None:
    trace = research_trace(child=False)[0]
    parts = write_parts(trace, tmp_path, [4, 10])
    expected = [(ev.seq, ev.event) for ev in asynctrace.read(parts[0])]
    compress_part(parts[0])
    compress_part(parts[1])
    reader = asynctrace.read(parts[2])
    assert [p.name.endswith(".gz") for p in reader.parts] == [True, True, False]
    assert [(ev.seq, ev.event) for ev in reader] == expected
    assert asynctrace.summarize(reader) == trace.lines[-1].data["summary"]
    assert asynctrace.validate(reader) == []


def test_compressing_twice_or_a_missing_file_is_an_error(tmp_path: Path) -> None:
    path = research_trace()[0].write(tmp_path)
    target = compress_part(path)
    with pytest.raises(ValueError, match="already compressed"):
        compress_part(target)
    with pytest.raises(FileNotFoundError):
        compress_part(path)
    with pytest.raises(ValueError, match="level"):
        compress_part(tmp_path / "x.jsonl", level=11)


def test_compress_part_in_thread_runs_off_the_event_loop(tmp_path: Path) -> None:
    path = research_trace()[0].write(tmp_path)
    loop_ran = threading.Event()

    def wait_for_the_loop(stage: Stage) -> None:
        # On the loop thread this would wait out its timeout and fail.
        if stage == "written" and not loop_ran.wait(timeout=30):
            raise AssertionError("the event loop did not run while compressing")

    async def main() -> Path:
        job = asyncio.create_task(compress_part_in_thread(path, on_stage=wait_for_the_loop))
        await asyncio.sleep(0)
        loop_ran.set()
        return await job

    target = asyncio.run(main())
    assert target.exists() and not path.exists()


def test_the_collector_argument_is_none_or_gzip() -> None:
    assert check_compress(None) is None
    assert check_compress("gzip") == "gzip"
    for bad in ("zstd", True, 1, "GZIP"):
        with pytest.raises(ValueError, match="compress"):
            check_compress(bad)


def test_cleanup_removes_the_temp_file_of_a_compression_cut_short_once_it_is_stale(
    tmp_path: Path,
) -> None:
    import os

    from asynctrace._storage._retention import cleanup

    path = research_trace()[0].write(tmp_path)
    with pytest.raises(Crash):
        compress_part(path, on_stage=crash_at("written"))
    partial = temp_path(path.with_name(path.name + ".gz"))
    (tmp_path / ".notes.gz.partial").write_bytes(b"someone else's")
    retention = asynctrace.Retention(max_files=10)
    assert cleanup(tmp_path, retention) == []  # fresh: a compression may be running
    old = partial.stat().st_mtime_ns - 2 * 86_400 * 10**9
    for p in (partial, tmp_path / ".notes.gz.partial"):
        os.utime(p, ns=(old, old))
    assert cleanup(tmp_path, retention) == [partial]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".notes.gz.partial", path.name])
