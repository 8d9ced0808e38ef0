"""Per-model totals for the summary: calls, tokens, cost, time to first token."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._events._schema import Event
from . import _format as F
from ._view import Line


def _n(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


class ModelTotals:
    """Fed every ``llm.stop`` / ``llm.call`` (start attributes filled in)."""

    def __init__(self) -> None:
        self._by: dict[str, dict[str, Any]] = {}
        self._ttft: dict[str, list[int]] = {}

    def add(self, ev: Event) -> None:
        model = ev.data.get("model")
        key = model if isinstance(model, str) else "?"
        row = self._by.setdefault(
            key,
            {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": 0.0, "unpriced": 0},
        )
        row["calls"] += 1
        for k in ("input_tokens", "output_tokens", "cached_tokens"):
            row[k] += _n(ev.data.get(k)) or 0
        cost = ev.data.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            row["cost_usd"] += cost
        else:
            row["unpriced"] += 1
        ttft = _n(ev.data.get("ttft_ns"))
        if ttft is not None:
            self._ttft.setdefault(key, []).append(ttft)

    def result(self, percentile: Callable[[Sequence[int], float], int]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for model in sorted(self._by):
            row = dict(self._by[model])
            row["cost_usd"] = None if row["unpriced"] == row["calls"] else round(row["cost_usd"], 10)
            values = sorted(self._ttft.get(model, []))
            row["ttft_p50_ns"] = percentile(values, 0.5) if values else None
            row["ttft_p95_ns"] = percentile(values, 0.95) if values else None
            out[model] = row
        return out


def model_lines(models: dict[str, dict[str, Any]]) -> Iterator[Line]:
    if not models:
        return
    yield []
    width = min(max(max(len(m) for m in models), 5), 40)
    yield [(f"{'model':<{width}}  {'calls':>5} {'in':>7} {'out':>7} {'cost':>9} {'ttft p50':>8} {'p95':>7}", "head")]
    for model, r in models.items():
        cost = F.cost(r["cost_usd"]) if r["cost_usd"] is not None else "unknown"
        ttft50 = F.duration(r["ttft_p50_ns"]) if r["ttft_p50_ns"] is not None else "-"
        ttft95 = F.duration(r["ttft_p95_ns"]) if r["ttft_p95_ns"] is not None else "-"
        yield [
            (f"{F.clip(model, width):<{width}}  ", "name"),
            (f"{r['calls']:>5} {F.tokens(r['input_tokens']):>7} {F.tokens(r['output_tokens']):>7} ", "num"),
            (f"{cost:>9} ", "cost"),
            (f"{ttft50:>8} {ttft95:>7}", "num"),
        ]
