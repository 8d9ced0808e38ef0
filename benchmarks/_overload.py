"""Scenario 4: a producer far faster than a deliberately slowed writer.

The trace file's ``write`` sleeps before writing, so the writer falls behind
and the mailbox (``max_mailbox_len=10_000``) fills.  What must hold: memory
stays bounded by the mailbox and flat over time, and every event the
producer emitted is accounted for exactly, ``written + shed == emitted``.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import asynctrace

from ._common import Case, Config, Sample, Scenario, Target, metric, now, rss_bytes, settle

MAILBOX = 10_000
WRITE_DELAY_S = 0.02
YIELD_EVERY = 256
SAMPLE_EVERY_S = 0.02
EVENT: dict[str, Any] = {
    "event": "tool.call",
    "name": "fetch",
    "url": "https://example.org/page",
    "body": "lorem ipsum dolor sit amet " * 8,
}
MB = 1024 * 1024


def _slow_down(trace: Any) -> bool:
    """Make the trace file's writes slow; False if the internals moved."""
    file = getattr(trace, "_file", None) or getattr(getattr(trace, "_writer", None), "file", None)
    if file is None or not callable(getattr(file, "write", None)):
        return False
    fast = file.write

    def slow_write(blob: Any) -> int:
        time.sleep(WRITE_DELAY_S)
        return int(fast(blob))

    file.write = slow_write
    return True


def _case(cfg: Config) -> Case:
    duration = 3.0 if not cfg.quick else 0.4
    path = cfg.workdir / "overload.jsonl"

    async def run() -> Sample:
        settle()
        samples: list[tuple[float, int, int]] = []
        stop = asyncio.Event()

        async def sampler() -> None:
            while not stop.is_set():
                heap, _ = tracemalloc.get_traced_memory()
                samples.append((now(), heap, rss_bytes() or 0))
                await asyncio.sleep(SAMPLE_EVERY_S)

        async with asynctrace.collector(path, max_mailbox_len=MAILBOX) as trace:
            if not _slow_down(trace):
                raise RuntimeError("cannot slow the trace file down: Collector._file moved")
            emit = trace.sink.emit_nowait
            ev = EVENT
            base_rss = rss_bytes() or 0
            tracemalloc.start()
            task = asyncio.create_task(sampler())
            t0 = now()
            emitted = 0
            while now() - t0 < duration:
                for _ in range(YIELD_EVERY):
                    emit(ev)
                emitted += YIELD_EVERY
                await asyncio.sleep(0)
            stop.set()
            await task
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        counts = trace.result.counts
        path.unlink(missing_ok=True)
        half = t0 + duration / 2
        first = max((h for t, h, _ in samples if t < half), default=0)
        second = max((h for t, h, _ in samples if t >= half), default=0)
        rss_peak = max((r for _, _, r in samples), default=base_rss)
        balanced = counts.emitted == counts.written + counts.shed + counts.write_errors
        return {
            "value": heap_peak / MB,
            "late_growth_mb": (second - first) / MB,
            "rss_growth_mb": (rss_peak - base_rss) / MB,
            "emitted": counts.emitted,
            "written": counts.written,
            "shed": counts.shed,
            "producer_emitted": emitted,
            "balanced": 1.0 if balanced and counts.emitted == emitted else 0.0,
        }

    return Case("asynctrace, slowed writer", "MB peak heap", run, warmup=False)


def build(cfg: Config) -> Scenario:
    case = _case(cfg)
    return Scenario(
        "overload",
        "4. Overload (slowed writer, mailbox 10k)",
        cases=[case],
        targets=[
            Target(
                "written + shed == emitted (1 = exact)",
                "",
                ">=",
                1.0,
                metric(case.name, "balanced"),
            ),
            Target(
                "heap growth, 2nd half of the run vs 1st (flat)",
                "MB",
                "<=",
                2.0,
                metric(case.name, "late_growth_mb"),
            ),
            Target("peak heap (bounded by the mailbox)", "MB", "<=", 64.0, metric(case.name)),
        ],
        notes=[
            f"Each write of the trace file sleeps {WRITE_DELAY_S * 1000:.0f} ms first; the producer "
            f"calls emit_nowait as fast as it can (yielding every {YIELD_EVERY} events); "
            f"Python heap (tracemalloc, started with the producer) and RSS sampled every "
            f"{SAMPLE_EVERY_S * 1000:.0f} ms.",
        ],
    )
