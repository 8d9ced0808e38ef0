"""Scenario 7: views over many traces (``ls`` and ``aggregate``), and their memory.

A directory of many small agent traces (each a copy of one synthetic trace
under its own trace id, so generation is cheap and untimed) is listed with
``catalog`` and summarized with ``aggregate``.  ``aggregate`` streams one
file at a time, so its peak heap should not grow with the number of files:
it is measured for the full directory and for one a quarter of its size.
``ls`` keeps one small row per trace; its heap per trace is reported.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ._common import Case, Config, Sample, Scenario, Target, metric, now, ratio, settle
from ._reader import _traced_peak_mb, write_trace

MB = 1024 * 1024
_TEMPLATE_ID = b"4bf92f3577b34da6a3ce929d0e0e4736"  # the id write_trace uses


def write_directory(folder: Path, n_files: int, events_per_file: int) -> int:
    """``n_files`` traces of ``events_per_file`` events; returns the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    template_path = folder.parent / f"{folder.name}-template.jsonl"
    write_trace(template_path, events_per_file)
    template = template_path.read_bytes()
    template_path.unlink()
    assert _TEMPLATE_ID in template
    total = 0
    for i in range(n_files):
        trace_id = f"{i + 1:032x}"
        data = template.replace(_TEMPLATE_ID, trace_id.encode())
        day = 1 + i % 28
        (folder / f"2026-02-{day:02d}_00-00-00_{trace_id}.jsonl").write_bytes(data)
        total += len(data)
    return total


def build(cfg: Config) -> Scenario:
    try:
        from asynctrace import aggregate
        from asynctrace._reading._catalog import catalog
    except ImportError as exc:
        return Scenario("catalog", "7. Many traces (ls, aggregate)", skipped=str(exc))
    n_files = cfg.n(2_000, 200)
    n_quarter = n_files // 4
    per_file = cfg.n(500, 100)
    big = cfg.workdir / "catalog-big"
    small = cfg.workdir / "catalog-small"
    t0 = time.perf_counter()
    size = write_directory(big, n_files, per_file)
    write_directory(small, n_quarter, per_file)
    gen_s = time.perf_counter() - t0

    def ls(folder: Path) -> int:
        return len(catalog(folder))

    def agg(folder: Path) -> int:
        (group,) = aggregate(folder)["groups"]
        return int(group["runs"])

    def timed(name: str, fn: Any, folder: Path, n: int) -> Case:
        async def run() -> Sample:
            settle()
            t = now()
            got = fn(folder)
            elapsed = now() - t
            if got != n:
                raise RuntimeError(f"{name}: {got} traces, expected {n}")
            return {"value": n / elapsed}

        return Case(name, "traces/s", run, lower_is_better=False)

    def heap(name: str, fn: Any, folder: Path, n: int) -> Case:
        async def run() -> Sample:
            peak, got = _traced_peak_mb(fn, folder)
            if got != n:
                raise RuntimeError(f"{name}: {got} traces, expected {n}")
            return {"value": peak, "kb_per_trace": peak * 1024 / n}

        return Case(name, "MB peak heap", run, warmup=False)

    big_label, small_label = f"{n_files:,}", f"{n_quarter:,}"
    ls_big = timed(f"ls, {big_label} traces", ls, big, n_files)
    agg_big = timed(f"aggregate, {big_label} traces", agg, big, n_files)
    heap_ls_big = heap(f"heap, ls {big_label}", ls, big, n_files)
    heap_ls_small = heap(f"heap, ls {small_label}", ls, small, n_quarter)
    heap_agg_big = heap(f"heap, aggregate {big_label}", agg, big, n_files)
    heap_agg_small = heap(f"heap, aggregate {small_label}", agg, small, n_quarter)

    def cleanup() -> None:
        shutil.rmtree(big, ignore_errors=True)
        shutil.rmtree(small, ignore_errors=True)

    return Scenario(
        "catalog",
        "7. Many traces (ls, aggregate)",
        cases=[ls_big, agg_big, heap_ls_big, heap_ls_small, heap_agg_big, heap_agg_small],
        targets=[
            Target(
                "aggregate peak heap, all files ÷ a quarter of them (flat ~1)",
                "x",
                "<=",
                1.5,
                ratio(heap_agg_big.name, heap_agg_small.name),
            ),
            Target(
                "ls, traces listed per second",
                "traces/s",
                ">=",
                500,
                metric(ls_big.name),
            ),
        ],
        notes=[
            f"{big_label} traces of {per_file} events each ({size / MB:.0f} MB, generated in "
            f"{gen_s:.1f} s, not timed) and a directory of {small_label}.",
            "`heap` cases: peak Python heap under tracemalloc; `kb_per_trace` is that peak "
            "over the number of traces. `ls` keeps one row per trace; `aggregate` streams.",
        ],
        cleanup=cleanup,
    )
