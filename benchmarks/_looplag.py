"""Scenario 5: how long the event loop stalls while the writer works.

A ticker task sleeps 1 ms in a loop and records how late it wakes up.  A
producer emits 1 KiB events in bursts (yielding every ``CHUNK`` events), so
the writer drains big batches and flushes them to the file.  The baseline
runs the same producer loop with tracing off: what is left over is the
producer's own share of the stall.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import asynctrace

from ._common import Case, Config, Sample, Scenario, Target, metric, now, settle

CHUNK = 4
TICK_S = 0.001
EVENT: dict[str, Any] = {
    "event": "llm.call",
    "model": "gpt-4o",
    "prompt": "You are a helpful assistant. " * 35,
    "input_tokens": 1200,
}


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def _measure(duration: float, emit: Any, flush: Any) -> tuple[list[float], float]:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t = now()
            await asyncio.sleep(TICK_S)
            lags.append(max(0.0, now() - t - TICK_S) * 1000)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(TICK_S)  # let the ticker start
    t0 = now()
    ev = EVENT
    while now() - t0 < duration:
        for _ in range(CHUNK):
            emit(ev)
        await asyncio.sleep(0)
    await flush()
    elapsed = now() - t0
    done.set()
    await task
    return lags, elapsed


def _case(cfg: Config, *, traced: bool) -> Case:
    duration = 2.0 if not cfg.quick else 0.25
    path = cfg.workdir / "looplag.jsonl"

    async def run() -> Sample:
        settle()
        if traced:
            async with asynctrace.collector(path) as trace:
                lags, elapsed = await _measure(duration, trace.sink.emit_nowait, trace.flush)
            counts = trace.result.counts
            written, shed = counts.written, counts.shed
            size = path.stat().st_size
            path.unlink(missing_ok=True)
        else:

            def emit(ev: Any) -> None:
                return None

            async def flush() -> None:
                return None

            lags, elapsed = await _measure(duration, emit, flush)
            written = shed = size = 0
        return {
            "value": _p99(lags),
            "max_ms": max(lags, default=0.0),
            "p50_ms": statistics.median(lags) if lags else 0.0,
            "ticks": len(lags),
            "written": written,
            "shed": shed,
            "mb_per_s": size / 1024 / 1024 / elapsed,
        }

    name = "asynctrace writer busy" if traced else "baseline (same producer, no tracing)"
    return Case(name, "ms p99 lag", run, warmup=not cfg.quick)


def build(cfg: Config) -> Scenario:
    traced = _case(cfg, traced=True)
    base = _case(cfg, traced=False)
    return Scenario(
        "looplag",
        "5. Event-loop lag while the writer flushes big batches",
        cases=[traced, base],
        targets=[
            Target("p99 loop lag, writer busy", "ms", "<=", 1.0, metric(traced.name)),
            Target(
                "max loop lag, writer busy (informative: one stall in the run)",
                "ms",
                "<=",
                5.0,
                metric(traced.name, "max_ms"),
            ),
        ],
        notes=[
            f"~1 KiB events, emit_nowait in bursts of {CHUNK} then `await asyncio.sleep(0)`; "
            f"a ticker sleeps {TICK_S * 1000:.0f} ms and records its overshoot.",
        ],
    )
