"""collector(retention=, compress=): housekeeping wired into a real collector."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import time
from pathlib import Path

import pytest

import asynctrace
from asynctrace._runtime import _ops
from asynctrace._storage._retention import Retention

DAY_NS = 86_400 * 1_000_000_000


async def _old_traces(folder: Path, n: int) -> list[Path]:
    """n closed traces written by the collector itself, aged 40+ days."""
    paths = []
    for i in range(n):
        async with asynctrace.collector(folder / f"2026-01-0{i + 1}_{i + 1:032x}.jsonl",
                                        trace_id=f"{i + 1:032x}") as trace:
            await asynctrace.emit("note", i=i)
        assert trace.result.path is not None
        ts = time.time_ns() - (40 + i) * DAY_NS
        os.utime(trace.result.path, ns=(ts, ts))
        paths.append(trace.result.path)
    return paths


@pytest.mark.anyio
async def test_retention_at_open_removes_old_traces_but_never_the_new_one(tmp_path: Path) -> None:
    old = await _old_traces(tmp_path, 3)
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text("not a trace\n")
    async with asynctrace.collector(trace_dir=tmp_path, retention=Retention(max_files=1)) as trace:
        # Done before the block is entered: the open trace itself stayed.
        assert trace.path is not None and trace.path.exists()
        assert not any(p.exists() for p in old)
        await asynctrace.emit("note", text="after the cleanup")
    assert sorted(tmp_path.iterdir()) == sorted([trace.result.path, foreign])


@pytest.mark.anyio
async def test_retention_by_age_keeps_young_traces(tmp_path: Path) -> None:
    old = await _old_traces(tmp_path, 2)
    async with asynctrace.collector(trace_dir=tmp_path) as young:
        pass
    async with asynctrace.collector(trace_dir=tmp_path, retention=Retention(max_age_days=30)) as trace:
        pass
    assert sorted(tmp_path.iterdir()) == sorted([young.result.path, trace.result.path])
    assert not any(p.exists() for p in old)


@pytest.mark.anyio
async def test_a_failing_cleanup_is_counted_logged_once_and_the_trace_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(directory: object, retention: object) -> list[Path]:
        raise PermissionError("no")

    monkeypatch.setattr(_ops, "cleanup_in_thread", broken)
    monkeypatch.setattr(_ops, "ERRORS", _ops.OpsErrors())
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        for _ in range(2):
            async with asynctrace.collector(trace_dir=tmp_path, retention=Retention(max_files=1)) as trace:
                await asynctrace.emit("note", ok=True)
            assert trace.result.counts.written == 1
    assert _ops.ERRORS.counts[_ops.RETENTION] == 2
    assert sum("retention cleanup" in r.message for r in caplog.records) == 1


@pytest.mark.anyio
async def test_cancelled_during_the_cleanup_the_new_file_still_ends_with_its_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def slow(directory: object, retention: object) -> list[Path]:
        started.set()
        await asyncio.Event().wait()
        return []

    monkeypatch.setattr(_ops, "cleanup_in_thread", slow)

    async def enter() -> None:
        async with asynctrace.collector(trace_dir=tmp_path, retention=Retention(max_files=1)):
            raise AssertionError("never entered")

    task = asyncio.ensure_future(enter())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (path,) = tmp_path.iterdir()
    stop = list(asynctrace.read(path))[-1]
    assert stop.event == "trace.stop" and stop.data["reason"] == "cancelled"


@pytest.mark.anyio
async def test_compress_gzip_leaves_only_a_readable_gz(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, compress="gzip") as trace:
        async with asynctrace.span("op", kind="tool", q="x"):
            pass
    gz = trace.result.path
    assert gz is not None and gz.name.endswith(".jsonl.gz")
    assert list(tmp_path.iterdir()) == [gz]
    lines = [json.loads(line) for line in gzip.decompress(gz.read_bytes()).splitlines()]
    assert [ev["event"] for ev in lines] == ["trace.start", "tool.start", "tool.stop", "trace.stop"]
    assert [ev.event for ev in asynctrace.read(gz)][-1] == "trace.stop"


@pytest.mark.anyio
async def test_a_failed_compression_keeps_the_plain_file_and_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(path: object) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(_ops, "compress_part", broken)
    monkeypatch.setattr(_ops, "ERRORS", _ops.OpsErrors())
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        for _ in range(2):
            async with asynctrace.collector(trace_dir=tmp_path, compress="gzip") as trace:
                await asynctrace.emit("note", ok=True)
            plain = trace.result.path
            assert plain is not None and plain.name.endswith(".jsonl") and plain.exists()
            assert [ev.event for ev in asynctrace.read(plain)][-1] == "trace.stop"
    assert _ops.ERRORS.counts[_ops.COMPRESS] == 2
    assert sum("compressing" in r.message for r in caplog.records) == 1


def test_bad_arguments_raise_at_the_api_boundary(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compress"):
        asynctrace.collector(trace_dir=tmp_path, compress="zstd")
    with pytest.raises(ValueError, match="compress"):
        asynctrace.collector(trace_dir=tmp_path, compress=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retention"):
        asynctrace.collector(trace_dir=tmp_path, retention={"max_files": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_files"):
        asynctrace.collector(trace_dir=tmp_path, retention=Retention(max_files=0))
