"""Scenario 1: the cost of one span, start and stop both written to disk.

Every case records N spans named ``op`` of kind ``tool`` with three
attributes (``a=1, b="x", c=2.0``) and then waits until its pipeline has
handed everything to the file (or exporter), and the time is divided by N.
Setup and teardown (opening the trace, the provider, the listener) are
outside the timed region.  The lean floor (``_lean``) is the least a tracer
with asynctrace's semantics can do: the limit to measure against.
"""

from __future__ import annotations

import cProfile
import io
import logging
import logging.handlers
import pstats
import queue
import time
from pathlib import Path
from typing import Any

import asynctrace

from ._common import (
    Case,
    Config,
    Sample,
    Scenario,
    Target,
    cpu,
    now,
    per_item_us,
    ratio,
    settle,
)
from ._lean import LeanCollector

SPAN_UNIT = "µs/span"
LEAN = "lean floor span"
OTEL = "OpenTelemetry SDK"
ATTRS = {"a": 1, "b": "x", "c": 2.0}


def _span_count(cfg: Config) -> int:
    return cfg.n(20_000, 3_000)


def _asynctrace_case(cfg: Config, *, redact: bool) -> Case:
    n = _span_count(cfg)
    path = cfg.workdir / f"spans-asynctrace-{'r' if redact else 'n'}.jsonl"

    async def run() -> Sample:
        settle()
        async with asynctrace.collector(path, redact=redact) as trace:
            t0, c0 = now(), cpu()
            for _ in range(n):
                async with asynctrace.span("op", kind="tool", a=1, b="x", c=2.0):
                    pass
            await trace.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        counts = trace.result.counts
        path.unlink(missing_ok=True)
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": per_item_us(elapsed, n),
            "written": counts.written,
            "shed": counts.shed,
        }

    name = "asynctrace" if redact else "asynctrace (redact=False)"
    return Case(name, SPAN_UNIT, run)


def _otel_case(cfg: Config) -> Case | str:
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        return "opentelemetry-sdk is not installed (pip install -e '.[bench]')"

    class CountingExporter(SpanExporter):
        """Exports nothing; counts what reached it, to report drops."""

        def __init__(self) -> None:
            self.count = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    n = _span_count(cfg)

    async def run() -> Sample:
        settle()
        exporter = CountingExporter()
        # The SDK's defaults: queue 2048, batches of 512, a worker thread.
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("bench")
        t0, c0 = now(), cpu()
        for _ in range(n):
            with tracer.start_as_current_span("op", attributes=ATTRS):
                pass
        provider.force_flush()
        elapsed, cpu_s = now() - t0, cpu() - c0
        provider.shutdown()
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": per_item_us(elapsed, n),
            "exported": exporter.count,
            "dropped": n - exporter.count,
        }

    return Case(OTEL, SPAN_UNIT, run)


def _lean_case(cfg: Config) -> Case:
    n = _span_count(cfg)
    path = cfg.workdir / "spans-lean.jsonl"

    async def run() -> Sample:
        settle()
        async with LeanCollector(path) as lean:
            span = lean.span
            t0, c0 = now(), cpu()
            for _ in range(n):
                async with span("op", kind="tool", a=1, b="x", c=2.0):
                    pass
            await lean.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        path.unlink(missing_ok=True)
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": per_item_us(elapsed, n),
            "written": lean.written,
        }

    return Case(LEAN, SPAN_UNIT, run)


def _logging_case(cfg: Config) -> Case:
    n = _span_count(cfg)
    path = cfg.workdir / "spans-logging.log"

    async def run() -> Sample:
        settle()
        q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        file_handler = logging.FileHandler(path, mode="w", encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        listener = logging.handlers.QueueListener(q, file_handler)
        logger = logging.getLogger("asynctrace.bench.stdlib")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = logging.handlers.QueueHandler(q)
        logger.addHandler(handler)
        listener.start()
        info = logger.info
        t0, c0 = now(), cpu()
        for _ in range(n):
            start = time.monotonic_ns()
            info("span.start name=%s kind=%s a=%s b=%s c=%s", "op", "tool", 1, "x", 2.0)
            info(
                "span.stop name=%s kind=%s status=%s duration_ns=%d",
                "op",
                "tool",
                "ok",
                time.monotonic_ns() - start,
            )
        listener.stop()  # joins the thread once the queue is drained
        file_handler.flush()
        elapsed, cpu_s = now() - t0, cpu() - c0
        logger.removeHandler(handler)
        file_handler.close()
        path.unlink(missing_ok=True)
        return {"cpu_us": per_item_us(cpu_s, n), "value": per_item_us(elapsed, n)}

    return Case("stdlib logging (Queue→File)", SPAN_UNIT, run)


def _structlog_case(cfg: Config) -> Case | str:
    try:
        import structlog
    except ImportError:
        return "structlog is not installed (pip install -e '.[bench]')"
    n = _span_count(cfg)
    path = cfg.workdir / "spans-structlog.jsonl"

    async def run() -> Sample:
        settle()
        with open(path, "w", encoding="utf-8") as f:  # noqa: ASYNC230 (timed peer)
            log = structlog.wrap_logger(
                structlog.WriteLogger(f),
                processors=[
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(),
                ],
            )
            info = log.info
            t0, c0 = now(), cpu()
            for _ in range(n):
                start = time.monotonic_ns()
                info("span.start", span="op", kind="tool", a=1, b="x", c=2.0)
                info(
                    "span.stop",
                    span="op",
                    kind="tool",
                    status="ok",
                    duration_ns=time.monotonic_ns() - start,
                )
            f.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        path.unlink(missing_ok=True)
        return {"cpu_us": per_item_us(cpu_s, n), "value": per_item_us(elapsed, n)}

    return Case("structlog JSON (file)", SPAN_UNIT, run)


async def _profile(cfg: Config) -> dict[str, object]:
    """cProfile of the asynctrace case: where a span's time goes."""
    n = _span_count(cfg)
    path = cfg.workdir / "spans-profile.jsonl"
    prof = cProfile.Profile()
    async with asynctrace.collector(path) as trace:
        prof.enable()
        for _ in range(n):
            async with asynctrace.span("op", kind="tool", a=1, b="x", c=2.0):
                pass
        await trace.flush()
        prof.disable()
    path.unlink(missing_ok=True)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(14)
    rows = []
    total = stats.total_tt  # type: ignore[attr-defined]
    for (file, line, func), (_cc, ncalls, tt, _ct, _callers) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: -kv[1][2],
    )[:14]:
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls_per_span": round(ncalls / n, 2),
                "share": round(tt / total, 3) if total else 0.0,
            }
        )
    return {"profile_spans": n, "profile_top_tottime": rows}


def build(cfg: Config) -> Scenario:
    sc = Scenario(
        "spans",
        "1. Span overhead (start + stop written to disk)",
        notes=[
            "asynctrace: `async with asynctrace.span('op', kind='tool', a=1, b='x', c=2.0)` inside "
            "one collector, default redaction and sanitizing on, timed until `await trace.flush()` "
            "returns.",
            "lean floor: benchmarks/_lean.py, the same two lines per span with the same semantics "
            "(bounded queue with awaitable backpressure, one writer task assigning seq, msgspec "
            "`encode_lines`, writes on a thread, ContextVar parenting, snapshot, redaction with a "
            "fast precheck) and nothing else.",
            "OpenTelemetry SDK: TracerProvider + BatchSpanProcessor (defaults) + a no-op exporter, "
            "timed until `force_flush()`; `dropped` counts spans the full queue threw away.",
            "stdlib logging and structlog write two records per span (start, stop).",
            "`cpu_us`: CPU time of the whole process (every thread) per span, less sensitive "
            "than the wall clock to other programs on a shared machine.",
        ],
    )
    sc.cases.append(_asynctrace_case(cfg, redact=True))
    sc.cases.append(_lean_case(cfg))
    sc.cases.append(_asynctrace_case(cfg, redact=False))
    sc.targets.append(
        Target("asynctrace span ÷ lean floor span", "x", "<=", 1.15, ratio("asynctrace", LEAN))
    )
    sc.targets.append(
        Target(
            "the same, in process CPU time (informative)",
            "x",
            "<=",
            1.15,
            ratio("asynctrace", LEAN, "cpu_us"),
        )
    )
    otel = _otel_case(cfg)
    if isinstance(otel, str):
        sc.notes.append(f"OpenTelemetry skipped: {otel}")
    else:
        sc.cases.append(otel)
        sc.targets.append(
            Target("OTel SDK span ÷ asynctrace span", "x", ">=", 5.0, ratio(OTEL, "asynctrace"))
        )
        sc.targets.append(
            Target(
                "the same, in process CPU time (informative)",
                "x",
                ">=",
                5.0,
                ratio(OTEL, "asynctrace", "cpu_us"),
            )
        )
        sc.targets.append(
            Target(
                "OTel SDK span ÷ lean floor span (informative: the limit)",
                "x",
                ">=",
                5.0,
                ratio(OTEL, LEAN),
            )
        )
    sc.cases.append(_logging_case(cfg))
    sc.targets.append(
        Target(
            "stdlib logging span ÷ asynctrace span (informative)",
            "x",
            ">=",
            1.0,
            ratio("stdlib logging (Queue→File)", "asynctrace"),
        )
    )
    slog = _structlog_case(cfg)
    if isinstance(slog, str):
        sc.notes.append(f"structlog skipped: {slog}")
    else:
        sc.cases.append(slog)
        sc.targets.append(
            Target(
                "structlog span ÷ asynctrace span (informative)",
                "x",
                ">=",
                1.0,
                ratio("structlog JSON (file)", "asynctrace"),
            )
        )
    if not cfg.quick:

        async def once() -> dict[str, object]:
            return await _profile(cfg)

        sc.once = once
    return sc
