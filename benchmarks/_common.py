"""What every scenario shares: cases, targets, statistics, memory probes."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Sample = dict[str, float]
"""One measurement: ``value`` is the headline number, other keys are extras."""

Repeat = dict[str, Sample]
"""Every case's sample from one round of the interleaved run, by case name."""


@dataclass(frozen=True)
class Config:
    quick: bool
    repeats: int
    workdir: Path

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Case:
    """One thing measured once per repeat."""

    name: str
    unit: str
    run: Callable[[], Awaitable[Sample]]
    lower_is_better: bool = True
    warmup: bool = True


@dataclass(frozen=True)
class Target:
    """A goal checked on every repeat; its median decides the verdict."""

    label: str
    unit: str
    op: Literal[">=", "<="]
    threshold: float
    per_repeat: Callable[[Repeat], float | None]

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


@dataclass
class Scenario:
    key: str
    title: str
    cases: list[Case] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    cleanup: Callable[[], None] | None = None
    # Measured once, outside the timed repeats (profiles, memory passes).
    once: Callable[[], Awaitable[dict[str, object]]] | None = None


def ratio(num_case: str, den_case: str, key: str = "value") -> Callable[[Repeat], float | None]:
    """Per-repeat ``num / den`` of one metric of two cases run side by side."""

    def compute(rep: Repeat) -> float | None:
        num = rep.get(num_case, {}).get(key)
        den = rep.get(den_case, {}).get(key)
        if num is None or den is None or den == 0:
            return None
        return num / den

    return compute


def metric(case: str, key: str = "value") -> Callable[[Repeat], float | None]:
    def compute(rep: Repeat) -> float | None:
        return rep.get(case, {}).get(key)

    return compute


@dataclass(frozen=True)
class Stat:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))


def fmt(value: float) -> str:
    """A number in at most four significant digits, thousands separated."""
    a = abs(value)
    if a >= 10_000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    if a == 0:
        return "0"
    return f"{value:.3g}"


# ---------------------------------------------------------------- timing


def settle() -> None:
    """Start each measurement from the same garbage-collector state."""
    gc.collect()


def per_item_us(elapsed_s: float, n: int) -> float:
    return elapsed_s * 1e6 / n


now = time.perf_counter
# CPU time of the whole process (every thread): less sensitive than the wall
# clock to other programs on a shared machine, reported beside it.
cpu = time.process_time


# ---------------------------------------------------------------- memory

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Resident set size now (Linux ``/proc``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark, so a later peak is this phase's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
