"""Scenario 3: what a span costs when tracing is off.

``async with asynctrace.span("x", kind="tool", a=1): pass`` with no collector
open, and inside a collector disabled by ``ASYNCTRACE=0``, against the
OpenTelemetry API with no SDK installed (its no-op tracer) and against the
floor: an empty async context manager taking the same arguments.  Each
number includes the ``for`` loop around it, the same for every case.
"""

from __future__ import annotations

import os
from typing import Any

import asynctrace

from ._common import Case, Config, Sample, Scenario, Target, now, per_item_us, ratio, settle

UNIT = "ns/span"


class _Empty:
    __slots__ = ()

    async def __aenter__(self) -> _Empty:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


_EMPTY = _Empty()


def floor_span(name: str, *, kind: str = "span", **attrs: Any) -> _Empty:
    """The least a span API can do: take the arguments, return a shared no-op."""
    return _EMPTY


def _count(cfg: Config) -> int:
    return cfg.n(300_000, 30_000)


def _ns(elapsed: float, n: int) -> float:
    return per_item_us(elapsed, n) * 1000


def _floor_case(cfg: Config) -> Case:
    n = _count(cfg)

    async def run() -> Sample:
        settle()
        span = floor_span
        t0 = now()
        for _ in range(n):
            async with span("x", kind="tool", a=1):
                pass
        return {"value": _ns(now() - t0, n)}

    return Case("floor (empty async with)", UNIT, run)


def _no_collector_case(cfg: Config) -> Case:
    n = _count(cfg)

    async def run() -> Sample:
        settle()
        span = asynctrace.span
        t0 = now()
        for _ in range(n):
            async with span("x", kind="tool", a=1):
                pass
        return {"value": _ns(now() - t0, n)}

    return Case("asynctrace, no collector", UNIT, run)


def _env_off_case(cfg: Config) -> Case:
    n = _count(cfg)

    async def run() -> Sample:
        settle()
        old = os.environ.get("ASYNCTRACE")
        os.environ["ASYNCTRACE"] = "0"
        try:
            async with asynctrace.collector(cfg.workdir / "never-written.jsonl") as trace:
                assert trace.path is None, "ASYNCTRACE=0 should disable the collector"
                span = asynctrace.span
                t0 = now()
                for _ in range(n):
                    async with span("x", kind="tool", a=1):
                        pass
                elapsed = now() - t0
        finally:
            if old is None:
                del os.environ["ASYNCTRACE"]
            else:
                os.environ["ASYNCTRACE"] = old
        return {"value": _ns(elapsed, n)}

    return Case("asynctrace, ASYNCTRACE=0 collector", UNIT, run)


def _otel_case(cfg: Config) -> Case | str:
    try:
        from opentelemetry import trace as otel_trace
    except ImportError:
        return "opentelemetry-api is not installed (pip install -e '.[bench]')"
    n = _count(cfg)

    async def run() -> Sample:
        settle()
        # No SDK provider is ever installed globally in this process, so
        # this is the API's proxy tracer delegating to its no-op tracer.
        tracer = otel_trace.get_tracer("bench")
        start = tracer.start_as_current_span
        t0 = now()
        for _ in range(n):
            with start("x", attributes={"a": 1}):
                pass
        return {"value": _ns(now() - t0, n)}

    return Case("OpenTelemetry API, no SDK", UNIT, run)


def build(cfg: Config) -> Scenario:
    floor = _floor_case(cfg)
    off = _no_collector_case(cfg)
    env = _env_off_case(cfg)
    sc = Scenario(
        "disabled",
        "3. Disabled mode (span with tracing off)",
        cases=[floor, off, env],
        targets=[
            Target("no collector ÷ floor", "x", "<=", 1.3, ratio(off.name, floor.name)),
            Target("ASYNCTRACE=0 ÷ floor", "x", "<=", 1.3, ratio(env.name, floor.name)),
        ],
        notes=["Each number includes the loop around the span, identical for every case."],
    )
    otel = _otel_case(cfg)
    if isinstance(otel, str):
        sc.notes.append(f"OpenTelemetry skipped: {otel}")
    else:
        sc.cases.append(otel)
        sc.targets.append(
            Target(
                "OTel no-op API ÷ asynctrace off (informative)",
                "x",
                ">=",
                1.0,
                ratio(otel.name, off.name),
            )
        )
    return sc
