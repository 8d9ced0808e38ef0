"""One measurement of a span and an ``emit_nowait`` event, for A/B runs of two checkouts.

The harness compares asynctrace with its peers; this compares asynctrace
with itself.  Run it alternately against two trees, for example main
exported to /tmp/main and this checkout, and compare the pairs::

    git archive main asynctrace | tar -x -C /tmp/main
    for i in 1 2 3 4 5 6 7; do
        PYTHONPATH=/tmp/main python benchmarks/ab.py; python benchmarks/ab.py
    done

It prints one JSON line: wall-clock and process CPU microseconds per span
(scenario 1's span, start and stop on disk) and per event (scenario 2's
event, ``emit_nowait`` yielding every 256), and what was shed.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import asynctrace

N = 20_000
EVENT = {
    "event": "tool.call",
    "name": "search",
    "query": "weather in Paris tomorrow",
    "n": 3,
    "ok": True,
}


async def main() -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with asynctrace.collector(Path(tmp) / "spans.jsonl") as trace:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(N):
                async with asynctrace.span("op", kind="tool", a=1, b="x", c=2.0):
                    pass
            await trace.flush()
            out["span_us"] = (time.perf_counter() - t0) / N * 1e6
            out["span_cpu_us"] = (time.process_time() - c0) / N * 1e6
        async with asynctrace.collector(Path(tmp) / "emit.jsonl") as trace:
            emit = trace.sink.emit_nowait
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(4 * N):
                emit(EVENT)
                if i % 256 == 255:
                    await asyncio.sleep(0)
            await trace.flush()
            out["emit_us"] = (time.perf_counter() - t0) / (4 * N) * 1e6
            out["emit_cpu_us"] = (time.process_time() - c0) / (4 * N) * 1e6
            out["shed"] = trace.stats().counts.shed
    return out


if __name__ == "__main__":
    print(json.dumps({k: round(v, 3) for k, v in asyncio.run(main()).items()}))
