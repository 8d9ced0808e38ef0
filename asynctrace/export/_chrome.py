"""Trace Event Format (Chrome, Perfetto) export.

Spans become complete events (``ph: "X"``), point events instants
(``ph: "i"``).  Each trace file is a process; within it, spans are laid out
on tracks (threads) so that spans sharing a track are always properly
nested or disjoint, which is what the viewers assume: a span goes on its
parent's track when it fits there under its parent, else on the first free
track, else on a new one.  Concurrent siblings thus land side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from .._events._codec import ENCODER
from .._reading._tree import SpanNode, TraceTree, load_tree
from .._version import __version__

_NS_PER_US: Final = 1000.0


def _us(ns: int) -> float:
    # Microseconds with nanosecond precision kept as decimals.
    return round(ns / _NS_PER_US, 3)


def _label(node: SpanNode) -> str:
    if node.kind == "turn":
        turn = node.data.get("turn")
        return f"turn {turn}" if turn is not None else "turn"
    if node.name and node.name != node.kind:
        return f"{node.kind} {node.name}"
    return node.kind


def _depth(node: SpanNode) -> int:
    depth = 0
    parent = node.parent
    while parent is not None:
        depth += 1
        parent = parent.parent
    return depth


def _is_ancestor(candidate: SpanNode, node: SpanNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is candidate:
            return True
        parent = parent.parent
    return False


class _Track:
    __slots__ = ("name", "stack")

    def __init__(self, name: str) -> None:
        self.name = name
        # Spans still open at the current start time, outermost first; each
        # contains the ones above it.
        self.stack: list[tuple[int, SpanNode]] = []

    def fits(self, node: SpanNode, start: int, end: int) -> bool:
        stack = self.stack
        while stack and stack[-1][0] <= start:
            stack.pop()
        if not stack:
            return True
        top_end, top = stack[-1]
        return end <= top_end and _is_ancestor(top, node)


def layout(tree: TraceTree) -> tuple[list[tuple[SpanNode, int, int, int]], list[str]]:
    """Spans of one trace (not its children) as ``(node, start_ns, end_ns, track)``,
    in the order to emit them, and the tracks' names (track i is index i)."""
    horizon = max(tree.last_ts_ns, tree.t0_ns)
    placed: list[tuple[SpanNode, int, int, int]] = []
    spans: list[tuple[int, int, int, int, SpanNode]] = []
    for node in tree.spans.values():
        end = node.end_ts_ns
        if end is None:
            end = max(horizon, node.start_ts_ns)
        spans.append((node.start_ts_ns, -end, _depth(node), node.order, node))
    spans.sort(key=lambda s: s[:4])
    tracks: list[_Track] = []
    track_of: dict[str, int] = {}
    for start, neg_end, _, _, node in spans:
        end = -neg_end
        chosen: int | None = None
        preferred = track_of.get(node.parent.key) if node.parent is not None else None
        if preferred is not None and tracks[preferred].fits(node, start, end):
            chosen = preferred
        else:
            for i, track in enumerate(tracks):
                if i != preferred and track.fits(node, start, end):
                    chosen = i
                    break
        if chosen is None:
            chosen = len(tracks)
            tracks.append(_Track(_label(node)))
        tracks[chosen].stack.append((end, node))
        track_of[node.key] = chosen
        placed.append((node, start, end, chosen))
    return placed, [t.name for t in tracks]


def _span_args(node: SpanNode) -> dict[str, Any]:
    args: dict[str, Any] = dict(node.data)
    args["span_id"] = node.span_id if node.span_id is not None else node.key
    if node.parent_span_id is not None:
        args["parent_span_id"] = node.parent_span_id
    args["status"] = node.status if node.status is not None else "open"
    if node.agent_id is not None:
        args["agent_id"] = node.agent_id
    if node.recorded:
        args["recorded"] = True
    return args


def _trace_events(tree: TraceTree, pid: int, t0: int) -> Iterator[dict[str, Any]]:
    placed, track_names = layout(tree)
    name = f"{tree.label} {tree.short_id}"
    if tree.parent_node is not None:
        name = f"{name} (child of {_label(tree.parent_node)})"
    yield {"ph": "M", "pid": pid, "tid": 0, "name": "process_name", "args": {"name": name}}
    yield {
        "ph": "M",
        "pid": pid,
        "tid": 0,
        "name": "process_sort_index",
        "args": {"sort_index": pid},
    }
    if not track_names:
        track_names = ["main"]
    for i, track_name in enumerate(track_names):
        tid = i + 1
        yield {
            "ph": "M",
            "pid": pid,
            "tid": tid,
            "name": "thread_name",
            "args": {"name": track_name},
        }
        yield {
            "ph": "M",
            "pid": pid,
            "tid": tid,
            "name": "thread_sort_index",
            "args": {"sort_index": tid},
        }
    tid_of: dict[str, int] = {}
    for node, start, end, track in placed:
        tid = track + 1
        tid_of[node.key] = tid
        yield {
            "ph": "X",
            "name": _label(node),
            "cat": node.kind,
            "pid": pid,
            "tid": tid,
            "ts": _us(start - t0),
            "dur": _us(end - start),
            "args": _span_args(node),
        }
    for node in tree.spans.values():
        for ev in node.events:
            yield _instant(ev.event, ev.ts_ns - t0, pid, tid_of.get(node.key, 1), ev.data)
    for ev in tree.events:
        yield _instant(ev.event, ev.ts_ns - t0, pid, 1, ev.data)


def _instant(name: str, offset_ns: int, pid: int, tid: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "ph": "i",
        "s": "t",
        "name": name,
        "cat": name.partition(".")[0],
        "pid": pid,
        "tid": tid,
        "ts": _us(offset_ns),
        "args": data,
    }


def to_chrome_trace(source: str | os.PathLike[str] | TraceTree) -> dict[str, Any]:
    """A trace (with its child traces) as a Trace Event Format object.

    Open the JSON written by :func:`write_chrome_trace` in
    https://ui.perfetto.dev or chrome://tracing.  Times are microseconds
    from the root trace's start; each trace file is one process.
    """
    tree = source if isinstance(source, TraceTree) else load_tree(source)
    t0 = tree.t0_ns
    events: list[dict[str, Any]] = []
    for pid, sub in enumerate(tree.traces(), start=1):
        events.extend(_trace_events(sub, pid, t0))
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "producer": f"asynctrace {__version__}",
            "trace_id": tree.trace_id,
            "source": str(tree.path),
        },
    }


def write_chrome_trace(
    source: str | os.PathLike[str] | TraceTree, out_path: str | os.PathLike[str]
) -> Path:
    """Write :func:`to_chrome_trace` as JSON to ``out_path``; return the path."""
    out = Path(out_path)
    data = to_chrome_trace(source)
    out.write_bytes(ENCODER.encode(data))
    return out
