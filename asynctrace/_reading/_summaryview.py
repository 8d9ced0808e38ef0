"""The summary view: counts, latencies, tokens, cost, errors and collector health."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, Final

from .._agent._summary import SummaryBuilder
from .._events._schema import Event
from . import _format as F
from ._detail import StartMemory, error_text
from ._models import ModelTotals, model_lines
from ._reader import COLLECTOR_LINES, TraceReader, read
from ._tree import child_file_ids
from ._view import Line, View

MAX_ERRORS_SHOWN: Final = 10
_HEALTH_KEYS: Final = ("shed", "oversize", "write_errors", "filtered", "processor_errors")


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(math.ceil(q * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def latency_stats(durations: list[int], errors: int) -> dict[str, int]:
    values = sorted(durations)
    return {
        "n": len(values),
        "p50_ns": percentile(values, 0.50),
        "p95_ns": percentile(values, 0.95),
        "max_ns": values[-1],
        "errors": errors,
    }


def summary_data(source: str | os.PathLike[str] | TraceReader) -> dict[str, Any]:
    """Everything the summary view shows, as JSON-ready data (one pass over the file)."""
    reader = source if isinstance(source, TraceReader) else read(source)
    builder = SummaryBuilder()
    by_kind: dict[str, int] = {}
    durations: dict[tuple[str, str], list[int]] = {}
    failures: dict[tuple[str, str], int] = {}
    errors: list[dict[str, Any]] = []
    children: list[str] = []
    error_count = 0
    memory = StartMemory()
    models = ModelTotals()
    t0 = reader.start.ts_ns if reader.start is not None else None
    for batch in reader.batches():
        for ev in batch:
            name = ev.event
            if name in COLLECTOR_LINES:
                continue
            if t0 is None:
                t0 = ev.ts_ns
            builder.add(ev)
            kind, _, phase = name.partition(".")
            by_kind[kind] = by_kind.get(kind, 0) + 1
            if ev.span_id is not None:
                ev = memory.fill(ev)
            if phase == "stop":
                children.extend(c for c in child_file_ids(ev.data) if c not in children)
            failed = ev.status == "error" and phase in ("stop", "call")
            if (kind == "tool" or kind == "llm") and phase in ("stop", "call"):
                label = ev.data.get("name" if kind == "tool" else "model")
                key = (kind, label if isinstance(label, str) else "?")
                if ev.duration_ns is not None:
                    durations.setdefault(key, []).append(ev.duration_ns)
                if failed:
                    failures[key] = failures.get(key, 0) + 1
                if kind == "llm":
                    models.add(ev)
            if failed or name == "error":
                error_count += 1
                if len(errors) < MAX_ERRORS_SHOWN:
                    errors.append(_error_item(ev, t0))
    stop = reader.stop
    stored = stop.data.get("summary") if stop is not None else None
    counts = stop.data.get("counts") if stop is not None else None
    summary = builder.result()
    warnings: list[str] = []
    if not reader.is_trace:
        warnings.append("not a trace file: the first line is not trace.start")
    if stop is None and reader.is_trace:
        warnings.append(
            "no trace.stop: the trace was not closed (the process or its writer died);"
            " the summary below is recomputed from the lines that made it to disk"
        )
    if reader.torn_tail:
        warnings.append("the final line is torn (a crash mid-write); it was skipped")
    if isinstance(counts, dict):
        health = ", ".join(
            f"{counts[k]} {k.replace('_', ' ')}"
            for k in _HEALTH_KEYS
            if isinstance(counts.get(k), int) and counts[k]
        )
        if health:
            warnings.append(f"the collector reported {health}")
    if isinstance(stored, dict) and stored != summary:
        warnings.append("the summary stored in trace.stop differs from the file's contents")
    return {
        "path": str(reader.path),
        "trace_id": reader.trace_id,
        "label": _label(reader.start),
        "status": stop.status if stop is not None else None,
        "reason": stop.data.get("reason") if stop is not None else None,
        "duration_ns": stop.duration_ns if stop is not None else summary["duration_ns"],
        "complete": stop is not None,
        "torn_tail": reader.torn_tail,
        "summary": summary,
        "stored_summary": stored,
        "counts": counts,
        "events_by_kind": dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
        "latency": {
            kind: {
                label: latency_stats(durations[(k, label)], failures.get((k, label), 0))
                for (k, label) in sorted(durations)
                if k == kind
            }
            for kind in ("llm", "tool")
        },
        "models": models.result(percentile),
        "errors": errors,
        "error_count": error_count,
        "child_traces": children,
        "problems": [
            {"line": p.line, "kind": p.kind, "message": p.message} for p in reader.problems
        ],
        "warnings": warnings,
    }


def _label(start: Event | None) -> str:
    if start is None:
        return ""
    value = start.data.get("label") or start.data.get("trace_kind") or ""
    return value if isinstance(value, str) else ""


def _error_item(ev: Event, t0: int) -> dict[str, Any]:
    label = ev.data.get("name") or ev.data.get("model")
    return {
        "seq": ev.seq,
        "offset_ns": ev.ts_ns - t0,
        "event": ev.event,
        "name": label if isinstance(label, str) else None,
        "error": error_text(ev.data) or "error",
    }


def _kv(pairs: list[tuple[str, str]], style: str = "") -> Line:
    line: Line = []
    for i, (label, value) in enumerate(pairs):
        if i:
            line.append(("  ", ""))
        line.append((f"{label} ", "dim"))
        line.append((value, style))
    return line


def summary_lines(d: dict[str, Any]) -> Iterator[Line]:
    s = d["summary"]
    head: Line = [("trace ", "head"), (d["label"] or "?", "name"), (f" {d['trace_id']}", "dim")]
    yield head
    yield [("file ", "dim"), (d["path"], "")]
    status = d["status"]
    state: Line = [("status ", "dim")]
    if status is None:
        state.append(("not closed", "warn"))
    else:
        state.append((status, "ok" if status == "ok" else "error"))
        if d["reason"]:
            state.append((f" ({d['reason']})", "dim"))
    state += [("  duration ", "dim"), (F.duration(d["duration_ns"]), "num")]
    state += [("  events ", "dim"), (str(s["events"]), "num")]
    yield state
    for warning in d["warnings"]:
        yield [("⚠ ", "warn"), (warning, "warn")]
    counts = d["counts"]
    if isinstance(counts, dict):
        pairs = [(k.replace("_", " "), str(counts.get(k, "?"))) for k in ("emitted", "written")]
        pairs += [(k.replace("_", " "), str(counts.get(k, 0))) for k in _HEALTH_KEYS]
        bad = any(isinstance(counts.get(k), int) and counts[k] for k in _HEALTH_KEYS)
        yield [("collector ", "head"), *_kv(pairs, "warn" if bad else "")]
        by_reason = counts.get("shed_by_reason")
        if counts.get("shed") and isinstance(by_reason, dict):
            detail = ", ".join(f"{k} {v}" for k, v in by_reason.items() if v)
            yield [("  shed by reason: ", "dim"), (detail, "warn")]
    yield []
    kinds = "  ".join(f"{k} {n}" for k, n in d["events_by_kind"].items())
    yield [("events by kind ", "head"), (kinds or "none", "")]
    spans = "  ".join(f"{k} {n}" for k, n in sorted(s["spans_by_kind"].items()))
    yield [("spans by kind  ", "head"), (spans or "none", "")]
    yield [
        ("llm   ", "head"),
        *_kv(
            [
                ("calls", str(s["llm_calls"])),
                ("errors", str(s["llm_errors"])),
                ("success", F.percent(s["llm_success_rate"])),
            ]
        ),
    ]
    tokens: Line = [
        ("      ", ""),
        *_kv(
            [
                ("tokens in", F.tokens(s["input_tokens"])),
                ("out", F.tokens(s["output_tokens"])),
                ("cached", F.tokens(s["cached_tokens"])),
            ],
            "num",
        ),
        ("  cost ", "dim"),
        (F.cost(s["cost_usd"]) if s["cost_usd"] is not None else "unknown", "cost"),
    ]
    if s["unpriced_llm_calls"]:
        tokens.append((f" ({s['unpriced_llm_calls']} unpriced)", "warn"))
    yield tokens
    yield [
        ("tools ", "head"),
        *_kv(
            [
                ("calls", str(s["tool_calls"])),
                ("errors", str(s["tool_errors"])),
                ("success", F.percent(s["tool_success_rate"])),
            ]
        ),
    ]
    if d["child_traces"]:
        ids = "  ".join(c[:8] for c in d["child_traces"])
        yield [
            ("child traces ", "head"),
            (ids, "name"),
            ("  (joined in by tree, trajectory)", "dim"),
        ]
    rows = [
        (kind, label, stats)
        for kind in ("llm", "tool")
        for label, stats in d["latency"][kind].items()
    ]
    if rows:
        yield []
        width = max(len(f"{k} {label}") for k, label, _ in rows)
        width = min(max(width, 7), 40)
        header = f"{'latency':<{width}}  {'n':>5} {'p50':>7} {'p95':>7} {'max':>7} {'errors':>6}"
        yield [(header, "head")]
        for kind, label, st in rows:
            name = F.clip(f"{kind} {label}", width)
            line: Line = [(f"{name:<{width}}  ", "name")]
            line.append(
                (
                    f"{st['n']:>5} {F.duration(st['p50_ns']):>7} {F.duration(st['p95_ns']):>7}"
                    f" {F.duration(st['max_ns']):>7} ",
                    "num",
                )
            )
            line.append((f"{st['errors']:>6}", "error" if st["errors"] else ""))
            yield line
    yield from model_lines(d["models"])
    yield []
    errs: Line = [("errors ", "head"), (str(s["errors"]), "error" if s["errors"] else "")]
    yield errs
    for item in d["errors"]:
        yield [
            ("  ", ""),
            (F.offset_cell(item["offset_ns"]), "dim"),
            (f" {item['event']}", "event"),
            (f" {item['name']}" if item["name"] else "", "name"),
            (f" {item['error']}", "error"),
        ]
    if d["error_count"] > len(d["errors"]):
        yield [(f"  … {d['error_count'] - len(d['errors'])} more", "dim")]
    if d["problems"]:
        yield []
        yield [("problems", "head")]
        for p in d["problems"]:
            where = f"line {p['line']}: " if p["line"] else ""
            yield [("  ! ", "warn"), (where + p["message"], "warn")]


def summary_view(source: str | os.PathLike[str] | TraceReader) -> View:
    """Counts by kind, per-tool and per-model latency (p50/p95/max), tokens,
    cost, errors, the collector's shed/oversize/write-error counts and
    warnings for a trace that was not closed."""
    data = summary_data(source)
    return View(lambda: summary_lines(data), lambda: data)
