"""The tree view: spans nested under their parents, child traces joined in."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._events._schema import Event
from . import _format as F
from ._detail import detail, error_text, llm_usage, status_segment
from ._problems import Problem
from ._tree import SpanNode, TraceTree, load_tree
from ._view import Line, View

CONCURRENT = "∥ "


def span_label(node: SpanNode) -> Line:
    """``turn 0``, ``tool search``, ``llm gpt-x``, ``retrieval``."""
    if node.kind == "turn":
        turn = node.data.get("turn")
        return [("turn", "kind"), (f" {turn}" if turn is not None else "", "name")]
    line: Line = [(node.kind, "kind")]
    if node.name and node.name != node.kind:
        line.append((" ", ""))
        line.append((F.clip(node.name, 60), "name"))
    return line


def span_outcome(node: SpanNode) -> Line:
    """Duration, status and the few attributes worth a glance."""
    line: Line = [(" ", ""), (F.duration(node.duration_ns), "num"), (" ", "")]
    line.append(status_segment(node.status))
    if node.kind == "llm":
        usage = llm_usage(node.data)
        if usage:
            line.append((" · ", "dim"))
            line.extend(usage)
    if node.status == "error":
        err = error_text(node.data)
        if err:
            line.append((" ", ""))
            line.append((err, "error"))
    if node.data.get("omitted_bytes") is not None:
        line.append((" (stop omitted: over the size cap)", "warn"))
    return line


def overlapping(intervals: Sequence[tuple[int, int]]) -> list[bool]:
    """For each ``(start, end)``, whether it overlaps any other (touching is not)."""
    n = len(intervals)
    order = sorted(range(n), key=lambda i: intervals[i])
    result = [False] * n
    max_end: int | None = None
    for pos, i in enumerate(order):
        start, end = intervals[i]
        if max_end is not None and start < max_end:
            result[i] = True
        if pos + 1 < n and intervals[order[pos + 1]][0] < end:
            result[i] = True
        max_end = end if max_end is None else max(max_end, end)
    return result


def _interval(node: SpanNode, horizon_ns: int) -> tuple[int, int]:
    end = node.end_ts_ns
    # An open span is drawn as running until the end of what was recorded.
    return node.start_ts_ns, end if end is not None else max(horizon_ns, node.start_ts_ns)


@dataclass(frozen=True, slots=True)
class _Item:
    ts_ns: int
    order: int
    node: SpanNode | None = None
    event: Event | None = None
    child: TraceTree | None = None
    concurrent: bool = False


def _items(
    spans: Sequence[SpanNode],
    events: Sequence[Event],
    children: Sequence[TraceTree],
    horizon_ns: int,
    min_duration_ns: int | None,
    with_events: bool,
) -> list[_Item]:
    shown = [
        n
        for n in spans
        if min_duration_ns is None
        or n.duration_ns is None
        or n.duration_ns >= min_duration_ns
        or n.child_traces
    ]
    flags = overlapping([_interval(n, horizon_ns) for n in shown])
    items = [
        _Item(n.start_ts_ns, n.order, node=n, concurrent=f)
        for n, f in zip(shown, flags, strict=True)
    ]
    if with_events:
        items.extend(_Item(e.ts_ns, e.seq, event=e) for e in events)
    items.extend(_Item(c.t0_ns, -1, child=c) for c in children)
    items.sort(key=lambda it: (it.ts_ns, it.order))
    return items


class _Renderer:
    def __init__(self, t0_ns: int, min_duration_ns: int | None, with_events: bool) -> None:
        self.t0_ns = t0_ns
        self.min_duration_ns = min_duration_ns
        self.with_events = with_events

    def offset(self, ts_ns: int) -> Line:
        return [(F.offset_cell(ts_ns - self.t0_ns), "dim"), (" ", "")]

    def trace_lines(self, tree: TraceTree, guide: str, last: bool, top: bool) -> Iterator[Line]:
        """A joined child trace: a heading line, then its roots and loose events."""
        head: Line = self.offset(tree.t0_ns)
        if not top:
            head.append((guide + ("└─ " if last else "├─ "), "dim"))
        head.extend(trace_heading(tree))
        yield head
        inner = guide + ("   " if last else "│  ") if not top else ""
        horizon = tree.last_ts_ns
        items = _items(
            tree.roots,
            tree.events,
            [c for c in tree.children if c.parent_node is None],
            horizon,
            self.min_duration_ns,
            self.with_events,
        )
        yield from self.item_lines(items, inner, horizon)

    def item_lines(self, items: list[_Item], guide: str, horizon_ns: int) -> Iterator[Line]:
        for i, item in enumerate(items):
            last = i == len(items) - 1
            branch = "└─ " if last else "├─ "
            if item.child is not None:
                yield from self.trace_lines(item.child, guide, last, top=False)
                continue
            if item.event is not None:
                line = self.offset(item.event.ts_ns)
                line.append((guide + branch, "dim"))
                line.append(("• ", "dim"))
                line.append((item.event.event, "event"))
                rest = detail(item.event)
                if rest:
                    line.append((" ", ""))
                    line.extend(rest)
                yield line
                continue
            node = item.node
            assert node is not None
            yield from self.node_lines(node, guide, last, item.concurrent, horizon_ns)

    def node_lines(
        self,
        node: SpanNode,
        guide: str,
        last: bool,
        concurrent: bool,
        horizon_ns: int,
        top: bool = False,
    ) -> Iterator[Line]:
        line = self.offset(node.start_ts_ns)
        if not top:
            line.append((guide + ("└─ " if last else "├─ "), "dim"))
        if concurrent:
            line.append((CONCURRENT, "warn"))
        line.extend(span_label(node))
        line.extend(span_outcome(node))
        yield line
        inner = "" if top else guide + ("   " if last else "│  ")
        end = node.end_ts_ns
        horizon = end if end is not None else horizon_ns
        items = _items(
            node.children,
            node.events,
            node.child_traces,
            horizon,
            self.min_duration_ns,
            self.with_events,
        )
        yield from self.item_lines(items, inner, horizon)


def trace_heading(tree: TraceTree) -> Line:
    line: Line = [("trace ", "kind"), (tree.label, "name"), (f" {tree.short_id}", "dim")]
    stop = tree.stop
    if stop is not None:
        line += [(" ", ""), (F.duration(stop.duration_ns), "num"), (" ", "")]
        line.append(status_segment(stop.status))
    else:
        line.append((" no trace.stop", "warn"))
    return line


def _problem_lines(tree: TraceTree) -> Iterator[Line]:
    for owner, problem in tree.all_problems():
        where = "" if owner is tree else f"{owner.label} {owner.short_id}: "
        yield [("! ", "warn"), (where + str(problem), "warn")]


def _node_data(
    node: SpanNode, t0_ns: int, concurrent: bool, min_ns: int | None, events: bool
) -> dict[str, Any]:
    horizon = node.end_ts_ns if node.end_ts_ns is not None else node.start_ts_ns
    items = _items(node.children, node.events, node.child_traces, horizon, min_ns, events)
    out: dict[str, Any] = {
        "span_id": node.span_id,
        "kind": node.kind,
        "name": node.name,
        "offset_ns": node.start_ts_ns - t0_ns,
        "duration_ns": node.duration_ns,
        "status": node.status,
        "concurrent": concurrent,
        "recorded": node.recorded,
        "data": node.data,
    }
    out["children"] = [_item_data(it, t0_ns, min_ns, events) for it in items]
    return out


def _item_data(item: _Item, t0_ns: int, min_ns: int | None, events: bool) -> dict[str, Any]:
    if item.child is not None:
        return {"trace": tree_data(item.child, t0_ns, min_ns, events)}
    if item.event is not None:
        ev = item.event
        return {"event": ev.event, "offset_ns": ev.ts_ns - t0_ns, "seq": ev.seq, "data": ev.data}
    assert item.node is not None
    return _node_data(item.node, t0_ns, item.concurrent, min_ns, events)


def tree_data(
    tree: TraceTree, t0_ns: int | None = None, min_ns: int | None = None, events: bool = True
) -> dict[str, Any]:
    t0 = tree.t0_ns if t0_ns is None else t0_ns
    items = _items(
        tree.roots,
        tree.events,
        [c for c in tree.children if c.parent_node is None],
        tree.last_ts_ns,
        min_ns,
        events,
    )
    stop = tree.stop
    return {
        "trace_id": tree.trace_id,
        "file_id": tree.file_id,
        "label": tree.label,
        "path": str(tree.path),
        "offset_ns": tree.t0_ns - t0,
        "duration_ns": stop.duration_ns if stop is not None else None,
        "status": stop.status if stop is not None else None,
        "problems": [_problem_data(p) for p in tree.problems],
        "children": [_item_data(it, t0, min_ns, events) for it in items],
    }


def _problem_data(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "kind": problem.kind, "message": problem.message}


def tree_view(
    source: str | os.PathLike[str] | TraceTree,
    *,
    span: str | None = None,
    min_duration_ns: int | None = None,
    events: bool = True,
) -> View:
    """The span tree with durations and statuses.

    Siblings whose time intervals overlap are marked ``∥``; child traces
    appear under the span that spawned them.  ``span`` (an id or unique
    prefix) shows only that subtree; ``min_duration_ns`` hides shorter spans
    (open spans and spans that spawned child traces stay); ``events=False``
    hides point events.
    """
    whole = source if isinstance(source, TraceTree) else load_tree(source)
    renderer = _Renderer(whole.t0_ns, min_duration_ns, events)
    root = whole.find(span) if span is not None else None

    def lines() -> Iterator[Line]:
        if root is None:
            yield from renderer.trace_lines(whole, "", True, top=True)
            yield from _problem_lines(whole)
        else:
            horizon = root.end_ts_ns if root.end_ts_ns is not None else whole.last_ts_ns
            yield from renderer.node_lines(root, "", True, False, horizon, top=True)

    def data() -> dict[str, Any]:
        if root is None:
            return tree_data(whole, None, min_duration_ns, events)
        return _node_data(root, whole.t0_ns, False, min_duration_ns, events)

    return View(lines, data)
