"""Scenario 6: reading a big trace file back, and the memory that takes.

A synthetic trace (turns, llm and tool spans, point events) is written with
the package's own encoder, then read with ``asynctrace._reading``: iterating
every event, and ``summarize`` (read + the ``trace.stop`` summary).  Peak RSS
growth is measured for the full file and for one a quarter of its size; if
memory does not grow with the file, the two are about equal.
"""

from __future__ import annotations

import itertools
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

from asynctrace import Event
from asynctrace._agent._summary import SummaryBuilder
from asynctrace._events._codec import ENCODER

from ._common import (
    Case,
    Config,
    Sample,
    Scenario,
    Target,
    metric,
    now,
    peak_rss_bytes,
    ratio,
    reset_peak_rss,
    rss_bytes,
    settle,
)

MB = 1024 * 1024
UNIT = "events/s"


def write_trace(path: Path, n_events: int) -> int:
    """A plausible agent trace of ``n_events`` producer lines plus start/stop."""
    rng = random.Random(6)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    t = 1_767_225_600_000_000_000
    summary = SummaryBuilder()
    seq = itertools.count()

    def ev(name: str, **kw: Any) -> Event:
        nonlocal t
        t += rng.randrange(10_000, 2_000_000)
        e = Event(ts_ns=t, event=name, trace_id=trace_id, **kw)
        e.seq = next(seq)
        return e

    def span_id() -> str:
        return f"{rng.getrandbits(64):016x}"

    with open(path, "wb") as f:
        f.write(
            ENCODER.encode(ev("trace.start", data={"schema_version": 1, "label": "bench"})) + b"\n"
        )
        written = 0
        batch: list[Event] = []
        turn = 0
        while written < n_events:
            turn += 1
            sid = span_id()
            batch.append(ev("turn.start", span_id=sid, data={"name": f"turn {turn}", "turn": turn}))
            lid = span_id()
            batch.append(
                ev(
                    "llm.start",
                    span_id=lid,
                    parent_span_id=sid,
                    data={"name": "chat", "model": "gpt-4o"},
                )
            )
            batch.append(
                ev(
                    "llm.stop",
                    span_id=lid,
                    parent_span_id=sid,
                    duration_ns=rng.randrange(10**8, 2 * 10**9),
                    status="ok",
                    data={
                        "name": "chat",
                        "input_tokens": 1200,
                        "output_tokens": 180,
                        "cost_usd": 0.0042,
                    },
                )
            )
            for k in range(3):
                tid = span_id()
                batch.append(
                    ev(
                        "tool.start",
                        span_id=tid,
                        parent_span_id=sid,
                        data={"name": "search", "q": f"query {k}"},
                    )
                )
                batch.append(
                    ev(
                        "tool.stop",
                        span_id=tid,
                        parent_span_id=sid,
                        duration_ns=rng.randrange(10**6, 10**8),
                        status="error" if rng.random() < 0.05 else "ok",
                        data={"name": "search", "hits": rng.randrange(20)},
                    )
                )
            batch.append(
                ev("decision", parent_span_id=sid, data={"choice": "answer", "confidence": 0.8})
            )
            batch.append(
                ev(
                    "turn.stop",
                    span_id=sid,
                    duration_ns=10**9,
                    status="ok",
                    data={"name": f"turn {turn}"},
                )
            )
            if len(batch) >= 10_000 or written + len(batch) >= n_events:
                batch = batch[: n_events - written]
                for e in batch:
                    summary.add(e)
                f.write(ENCODER.encode_lines(batch))
                written += len(batch)
                batch = []
        stop = ev(
            "trace.stop",
            duration_ns=t,
            status="ok",
            data={"summary": summary.result(), "reason": "exit"},
        )
        f.write(ENCODER.encode(stop) + b"\n")
    return written


def _measure(fn: Any, path: Path) -> tuple[float, float, Any]:
    settle()
    base = rss_bytes() or 0
    can_peak = reset_peak_rss()
    t0 = now()
    out = fn(path)
    elapsed = now() - t0
    peak = peak_rss_bytes() if can_peak else None
    growth = ((peak or base) - base) / MB
    return elapsed, growth, out


def _traced_peak_mb(fn: Any, path: Path) -> tuple[float, Any]:
    """Peak Python heap allocated while ``fn`` runs (tracemalloc: slow, exact)."""
    settle()
    tracemalloc.start()
    try:
        out = fn(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MB, out


def build(cfg: Config) -> Scenario:
    try:
        from asynctrace._reading import read, summarize
    except ImportError as exc:
        return Scenario(
            "reader",
            "6. Reader (read + summarize)",
            skipped=f"asynctrace._reading has no read/summarize yet ({exc})",
        )
    n_big = cfg.n(1_000_000, 40_000)
    n_small = n_big // 4
    big = cfg.workdir / "reader-big.jsonl"
    small = cfg.workdir / "reader-small.jsonl"
    t0 = time.perf_counter()
    write_trace(big, n_big)
    write_trace(small, n_small)
    gen_s = time.perf_counter() - t0

    def read_all(path: Path) -> int:
        count = 0
        for _ in read(path):
            count += 1
        return count

    def summarize_all(path: Path) -> int:
        result = summarize(path)
        return int(result["events"])

    def case(name: str, fn: Any, path: Path, n: int) -> Case:
        async def run() -> Sample:
            elapsed, growth, got = _measure(fn, path)
            if got < n:
                raise RuntimeError(f"{name}: read {got} of {n} events")
            return {"value": n / elapsed, "peak_rss_growth_mb": growth}

        return Case(name, UNIT, run, lower_is_better=False)

    def memory_case(name: str, path: Path, n: int) -> Case:
        async def run() -> Sample:
            peak, got = _traced_peak_mb(summarize_all, path)
            if got < n:
                raise RuntimeError(f"{name}: read {got} of {n} events")
            return {"value": peak}

        return Case(name, "MB peak heap", run, warmup=False)

    big_label = f"{n_big:,}"
    small_label = f"{n_small:,}"
    read_big = case(f"read, {big_label} events", read_all, big, n_big)
    sum_big = case(f"read+summarize, {big_label} events", summarize_all, big, n_big)
    sum_small = case(f"read+summarize, {small_label} events", summarize_all, small, n_small)
    mem_big = memory_case(f"heap, read+summarize {big_label}", big, n_big)
    mem_small = memory_case(f"heap, read+summarize {small_label}", small, n_small)

    def cleanup() -> None:
        big.unlink(missing_ok=True)
        small.unlink(missing_ok=True)

    return Scenario(
        "reader",
        "6. Reader (read + summarize)",
        cases=[read_big, sum_big, sum_small, mem_big, mem_small],
        targets=[
            Target("read+summarize, big file", UNIT, ">=", 500_000, metric(sum_big.name)),
            Target(
                "peak heap, big file ÷ quarter-size file (flat ~1)",
                "x",
                "<=",
                1.5,
                ratio(mem_big.name, mem_small.name),
            ),
        ],
        notes=[
            f"Synthetic agent trace ({big.stat().st_size / MB:.0f} MB for {big_label} events, "
            f"generated in {gen_s:.1f} s, not timed).",
            "`heap` cases: peak Python heap under tracemalloc during summarize (slower, so "
            "separate from the timed cases); `peak_rss_growth_mb`: kernel peak RSS (reset "
            "through /proc/self/clear_refs) over RSS before, which under-counts memory the "
            "process had already freed and reuses.",
        ],
        cleanup=cleanup,
    )
