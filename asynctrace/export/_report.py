"""The self-contained HTML report: one file, no network, opens anywhere.

Python gathers the data (spans on the same lanes as the Perfetto export,
point events, the summary, collector health, captured LLM requests) and
embeds it as JSON beside the report's own script and stylesheet, which are
package data (``_assets/``).  The page draws the timeline on a canvas and
virtualizes the span tree, so large traces stay responsive.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Final

from .._events._codec import ENCODER
from .._events._schema import Event
from .._reading._detail import error_text
from .._reading._summaryview import latency_stats
from .._reading._tree import SpanNode, TraceTree, load_tree
from .._version import __version__
from ._chrome import wall_clock
from ._layout import TraceLayout, event_title, layouts, span_label

_HEALTH_KEYS: Final = (
    "emitted",
    "written",
    "shed",
    "oversize",
    "write_errors",
    "filtered",
    "processor_errors",
    "export_errors",
    "export_dropped",
)
# Keys under which an llm span may carry what was sent and received, and
# event names that carry captures of their own: shown in the requests section.
_CAPTURE_KEYS: Final = (
    "request",
    "request_body",
    "messages",
    "response",
    "response_body",
    "disclosure",
    "curl",
)
_CAPTURE_WORDS: Final = ("request", "response", "disclosure", "capture")


def _is_capture_event(name: str) -> bool:
    kind, _, rest = name.partition(".")
    if rest in ("start", "stop", "call"):
        return False
    return kind == "llm" or any(word in name for word in _CAPTURE_WORDS)


def _model_of(node: SpanNode) -> str:
    model = node.data.get("model")
    return model if isinstance(model, str) and model else node.name


class _Collect:
    """Walks the layouts once and builds the report's tables."""

    def __init__(self, tree: TraceTree) -> None:
        self.tree = tree
        self.layouts, self.t0 = layouts(tree)
        self.lane_base: list[int] = []
        self.lanes: list[dict[str, Any]] = []
        for index, lay in enumerate(self.layouts):
            self.lane_base.append(len(self.lanes))
            ordered = sorted(lay.lanes, key=lambda lane: lane.rank)
            self.lanes.extend(
                {"proc": index, "name": lane.name, "thread_id": lane.thread_id} for lane in ordered
            )
        self.spans: list[list[Any]] = []
        self.events: list[list[Any]] = []
        self.index: dict[int, int] = {}
        self._spans()
        self._events()

    def _lane(self, index: int, lay: TraceLayout, lane: int) -> int:
        return self.lane_base[index] + lay.lanes[lane].rank

    def _ordered(self) -> Iterable[tuple[int, SpanNode]]:
        proc_of = {id(lay.tree): i for i, lay in enumerate(self.layouts)}
        seen: set[int] = set()
        for node in self.tree.walk(into_child_traces=True):
            seen.add(id(node))
            yield proc_of.get(_trace_of(self.layouts, node), 0), node
        for i, lay in enumerate(self.layouts):
            for node in lay.tree.spans.values():
                if id(node) not in seen:
                    yield i, node

    def _spans(self) -> None:
        where = {}
        for i, lay in enumerate(self.layouts):
            for node_key, p in lay.where.items():
                where[id(lay.tree.spans[node_key])] = (i, lay, p)
        ordered = list(self._ordered())
        for n, (_, node) in enumerate(ordered):
            self.index[id(node)] = n
        for proc, node in ordered:
            i, lay, p = where[id(node)]
            parent = node.parent if node.parent is not None else lay.tree.parent_node
            self.spans.append(
                [
                    node.span_id or node.key,
                    self.index.get(id(parent), -1) if parent is not None else -1,
                    self._lane(i, lay, p.lane),
                    p.depth,
                    p.start_ns - self.t0,
                    p.end_ns - self.t0,
                    node.kind,
                    span_label(node),
                    node.status,
                    proc,
                    node.data,
                    node.agent_id,
                    lay.lanes[p.lane].thread_id,
                ]
            )

    def _events(self) -> None:
        for i, lay in enumerate(self.layouts):
            for p in lay.placed:
                ev = p.event
                if ev is None:
                    continue
                owner = self.index.get(id(p.owner), -1) if p.owner is not None else -1
                self.events.append(
                    [
                        ev.seq,
                        ev.event,
                        event_title(ev),
                        p.start_ns - self.t0,
                        owner,
                        self._lane(i, lay, p.lane),
                        p.depth,
                        ev.data,
                        i,
                        ev.status,
                    ]
                )

    def procs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for lay in self.layouts:
            sub = lay.tree
            stop = sub.stop
            counts = stop.data.get("counts") if stop is not None else None
            health: dict[str, Any] = {}
            if isinstance(counts, dict):
                health = {k: counts[k] for k in _HEALTH_KEYS if k in counts}
                by_reason = counts.get("shed_by_reason")
                if isinstance(by_reason, dict):
                    health["shed_by_reason"] = {k: v for k, v in by_reason.items() if v}
            parent = sub.parent_node
            out.append(
                {
                    "label": sub.label,
                    "trace_id": sub.trace_id,
                    "file": sub.path.name,
                    "started": wall_clock(sub.t0_ns),
                    "offset_ns": sub.t0_ns - self.t0,
                    "parent": self.index.get(id(parent), -1) if parent is not None else -1,
                    "closed": stop is not None,
                    "status": stop.status if stop is not None else None,
                    "reason": stop.data.get("reason") if stop is not None else None,
                    "health": health,
                    "torn_tail": sub.torn_tail,
                    "problems": [str(p) for p in sub.problems],
                    "meta": _start_meta(sub.start),
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        durations: dict[tuple[str, str], list[int]] = {}
        failures: dict[tuple[str, str], int] = {}
        models: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        status_counts = {"error": 0, "cancelled": 0, "open": 0}
        last = 0
        for n, row in enumerate(self.spans):
            kind, status, data = row[6], row[8], row[10]
            last = max(last, row[5])
            by_kind[kind] = by_kind.get(kind, 0) + 1
            if status is None:
                status_counts["open"] += 1
            elif status in status_counts:
                status_counts[status] += 1
            if status == "error":
                errors.append({"span": n, "what": row[7], "message": error_text(data) or "error"})
            if kind not in ("tool", "llm") or status is None:
                continue
            name = data.get("model") if kind == "llm" else None
            label = name if isinstance(name, str) and name else row[7].partition(" ")[2] or kind
            key = (kind, label)
            durations.setdefault(key, []).append(row[5] - row[4])
            if status == "error":
                failures[key] = failures.get(key, 0) + 1
            if kind == "llm":
                _add_usage(models.setdefault(label, _usage()), data)
        for n, row in enumerate(self.events):
            last = max(last, row[3])
            if row[1] == "error" or row[9] == "error":
                errors.append({"event": n, "what": row[1], "message": error_text(row[7]) or row[2]})
        latency = [
            {"kind": kind, "name": label, **latency_stats(values, failures.get((kind, label), 0))}
            for (kind, label), values in sorted(durations.items())
        ]
        totals = _usage()
        for usage in models.values():
            _merge_usage(totals, usage)
        return {
            "traces": len(self.layouts),
            "spans": len(self.spans),
            "events": len(self.events),
            "spans_by_kind": dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
            "duration_ns": last,
            **status_counts,
            "error_count": len(errors),
            "latency": latency,
            "models": [{"model": m, **u} for m, u in sorted(models.items())],
            "totals": totals,
            "errors": errors,
        }

    def captures(self) -> list[dict[str, Any]]:
        """What the trace recorded of LLM requests: capture events and the
        request/response fields of llm spans, in time order."""
        found: list[tuple[int, dict[str, Any]]] = []
        for n, row in enumerate(self.events):
            if _is_capture_event(row[1]):
                found.append((row[3], {"event": n, "title": row[2], "body": row[7]}))
        for n, row in enumerate(self.spans):
            if row[6] != "llm":
                continue
            body = {k: row[10][k] for k in _CAPTURE_KEYS if k in row[10]}
            if body:
                found.append((row[4], {"span": n, "title": row[7], "body": body}))
        found.sort(key=lambda item: item[0])
        return [item for _, item in found]


def _trace_of(layouts: list[TraceLayout], node: SpanNode) -> int:
    for lay in layouts:
        if lay.tree.spans.get(node.key) is node:
            return id(lay.tree)
    return 0


def _start_meta(start: Event | None) -> dict[str, Any]:
    if start is None:
        return {}
    keep = ("model", "query", "host", "pid", "producer", "trace_kind", "meta")
    return {k: start.data[k] for k in keep if k in start.data}


def _usage() -> dict[str, Any]:
    return {
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "unpriced": 0,
    }


def _add_usage(usage: dict[str, Any], data: dict[str, Any]) -> None:
    usage["calls"] += 1
    for key in ("input_tokens", "output_tokens", "cached_tokens"):
        value = data.get(key)
        if type(value) is int:
            usage[key] += value
    cost = data.get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        usage["cost_usd"] += float(cost)
    else:
        usage["unpriced"] += 1


def _merge_usage(into: dict[str, Any], usage: dict[str, Any]) -> None:
    for key, value in usage.items():
        into[key] += value


def report_data(source: str | os.PathLike[str] | TraceTree) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data.

    Times are nanoseconds from ``start_unix_ns`` (the earliest event).
    ``spans`` rows are ``[span_id, parent row, lane, depth, start, end, kind,
    label, status, process, data, agent_id, thread_id]``; ``events`` rows are
    ``[seq, event, title, ts, owner span row, lane, depth, data, process,
    status]``.
    """
    tree = source if isinstance(source, TraceTree) else load_tree(source)
    c = _Collect(tree)
    return {
        "producer": f"asynctrace {__version__}",
        "title": f"{tree.label} {tree.short_id}".strip(),
        "trace_id": tree.trace_id,
        "source": str(tree.path),
        "start_time": wall_clock(c.t0),
        "start_unix_ns": c.t0,
        "procs": c.procs(),
        "lanes": c.lanes,
        "spans": c.spans,
        "events": c.events,
        "summary": c.summary(),
        "captures": c.captures(),
    }


def _asset(name: str) -> str:
    return (resources.files(__package__) / "_assets" / name).read_text(encoding="utf-8")


def render_report(source: str | os.PathLike[str] | TraceTree) -> str:
    """The report as one HTML document (inline script, style and data)."""
    data = report_data(source)
    # Inside <script>, "<" could close the element or open a comment: JSON
    # allows it escaped, and it only ever occurs inside strings.
    payload = ENCODER.encode(data).decode().replace("<", "\\u003c")
    page = _asset("report.html")
    head, sep, tail = page.partition("__DATA__")
    if not sep:
        raise RuntimeError("report template has no __DATA__ slot")
    head = head.replace("__TITLE__", html.escape(f"asynctrace · {data['title']}"))
    head = head.replace("/*__CSS__*/", _asset("report.css"))
    tail = tail.replace("/*__JS__*/", _asset("report.js"))
    return head + payload + tail


def write_report(
    source: str | os.PathLike[str] | TraceTree, out_path: str | os.PathLike[str]
) -> Path:
    """Write :func:`render_report` to ``out_path``; return the path."""
    out = Path(out_path)
    out.write_text(render_report(source), encoding="utf-8")
    return out
