"""Trace Event Format (Chrome, Perfetto) export.

Spans become complete events (``ph: "X"``), point events thread-scoped
instants (``ph: "i"``).  Each trace file is a process; its lanes (see
``_layout``) are its threads, with ids unique across the whole export and
never equal to a process id (Perfetto would call such a thread the main
one), named for what they hold and sorted in span-tree order.

Where the viewer cannot show a parent by nesting (a child on another lane,
a child trace in another process), a flow arrow links parent to child: a
``ph: "s"`` at the parent's start and a ``ph: "f"`` (``bp: "e"``: bound to
the enclosing slice) at the child's, each written right after its slice
(for a child that began before its parent, the arrow runs from the child:
Perfetto orders a flow's ends in time).  Perfetto binds a flow event to the
innermost slice open on its track once every slice starting at that time
is in, and the layout lets no other slice start on a lane at the same time
as one, so each flow binds to exactly its two slices (checked against
Perfetto v52's importer).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from .._events._codec import ENCODER
from .._reading._detail import error_text
from .._reading._tree import SpanNode, TraceTree, load_tree
from .._version import __version__
from ._layout import Placed, TraceLayout, event_title, layouts, span_label

_NS_PER_US: Final = 1000.0
FLOW_CATEGORY: Final = "link"

# chrome://tracing's reserved colour names (Perfetto colours by name, and
# the names carry the status too).
_CNAME: Final = {"error": "terrible", "cancelled": "bad", None: "grey"}


def _us(ns: int) -> float:
    # Microseconds with nanosecond precision kept as decimals.
    return round(ns / _NS_PER_US, 3)


def wall_clock(ns: int) -> str:
    """``2026-01-01T00:00:00.000000Z`` for a Unix time in nanoseconds."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def slice_name(node: SpanNode) -> str:
    """The span's label, marked when it failed, was cancelled or never ended."""
    label = span_label(node)
    if node.status == "error":
        etype = node.data.get("error_type")
        return f"✗ {label} ({etype})" if isinstance(etype, str) and etype else f"✗ {label}"
    if node.status == "cancelled":
        return f"⊘ {label} (cancelled)"
    if node.status is None:
        return f"{label} (open)"
    if node.status != "ok":
        return f"{label} ({node.status})"
    return label


def _span_args(node: SpanNode, thread_id: int | None) -> dict[str, Any]:
    args: dict[str, Any] = dict(node.data)
    args["span_id"] = node.span_id if node.span_id is not None else node.key
    if node.parent_span_id is not None:
        args["parent_span_id"] = node.parent_span_id
    args["status"] = node.status if node.status is not None else "open"
    if node.status == "error":
        err = error_text(node.data)
        if err:
            args["error"] = err
    if node.agent_id is not None:
        args["agent_id"] = node.agent_id
    if node.recorded:
        args["recorded"] = True
    if thread_id is not None:
        args["thread_id"] = thread_id
    return args


@dataclass(slots=True)
class _Track:
    pid: int
    tid: int


class _Export:
    def __init__(self, tree: TraceTree) -> None:
        self.tree = tree
        self.layouts, self.t0 = layouts(tree)
        self.tracks: list[list[_Track]] = []
        tids = itertools.count(len(self.layouts) + 1)
        for pid, lay in enumerate(self.layouts, start=1):
            by_rank = sorted(range(len(lay.lanes)), key=lambda i: lay.lanes[i].rank)
            tracks = [_Track(pid, 0) for _ in lay.lanes]
            for i in by_rank:
                tracks[i].tid = next(tids)
            self.tracks.append(tracks)
        self._link()

    def _track(self, index: int, p: Placed) -> _Track:
        return self.tracks[index][p.lane]

    def _link(self) -> None:
        # Where each span sits and in what order its slice is written: a
        # flow starts ("s") on the earlier of its two slices and ends ("f")
        # on the later, as Perfetto pairs them in time order.
        spans: dict[int, tuple[int, Placed, int]] = {}
        order = 0
        for index, lay in enumerate(self.layouts):
            for p in lay.placed:
                if p.node is not None:
                    spans[id(p.node)] = (index, p, order)
                order += 1
        self.flows: dict[int, list[tuple[str, int]]] = {}
        ids = itertools.count(1)
        order = 0
        for lay in self.layouts:
            for p in lay.placed:
                source = self._source(lay, p)
                found = spans.get(id(source)) if source is not None else None
                if found is not None and not p.nested:
                    _, src, src_order = found
                    flow = next(ids)
                    first, last = (
                        (src, p) if (src.start_ns, src_order) < (p.start_ns, order) else (p, src)
                    )
                    self.flows.setdefault(id(first), []).append(("s", flow))
                    self.flows.setdefault(id(last), []).append(("f", flow))
                order += 1

    @staticmethod
    def _source(lay: TraceLayout, p: Placed) -> SpanNode | None:
        if p.node is None:
            return p.owner
        if p.node.parent is not None:
            return p.node.parent
        return lay.tree.parent_node

    def events(self) -> Iterator[dict[str, Any]]:
        for index, lay in enumerate(self.layouts):
            yield from self._metadata(index, lay)
            for p in lay.placed:
                track = self._track(index, p)
                if p.node is not None:
                    yield self._slice(p, track, lay.lanes[p.lane].thread_id)
                else:
                    yield self._instant(p, track)
                for phase, flow in self.flows.get(id(p), ()):
                    yield self._flow(phase, flow, p.start_ns, track)

    def _metadata(self, index: int, lay: TraceLayout) -> Iterator[dict[str, Any]]:
        sub = lay.tree
        pid = index + 1
        name = f"{sub.label} {sub.short_id}"
        if sub.parent_node is not None:
            name = f"{name} (child of {span_label(sub.parent_node)})"

        def meta(tid: int, what: str, **args: Any) -> dict[str, Any]:
            return {"ph": "M", "pid": pid, "tid": tid, "name": what, "args": args}

        yield meta(0, "process_name", name=name)
        yield meta(0, "process_sort_index", sort_index=pid)
        yield meta(0, "process_labels", labels=f"started {wall_clock(sub.t0_ns)}")
        for lane, track in zip(lay.lanes, self.tracks[index], strict=True):
            yield meta(track.tid, "thread_name", name=lane.name)
            yield meta(track.tid, "thread_sort_index", sort_index=lane.rank)

    def _slice(self, p: Placed, track: _Track, thread_id: int | None) -> dict[str, Any]:
        node = p.node
        assert node is not None
        event: dict[str, Any] = {
            "ph": "X",
            "name": slice_name(node),
            "cat": node.kind,
            "pid": track.pid,
            "tid": track.tid,
            "ts": _us(p.start_ns - self.t0),
            "dur": _us(p.end_ns - p.start_ns),
            "args": _span_args(node, thread_id),
        }
        cname = _CNAME.get(node.status)
        if cname is not None:
            event["cname"] = cname
        return event

    def _instant(self, p: Placed, track: _Track) -> dict[str, Any]:
        ev = p.event
        assert ev is not None
        args: dict[str, Any] = dict(ev.data)
        args["event"] = ev.event
        args["seq"] = ev.seq
        if ev.parent_span_id is not None:
            args["parent_span_id"] = ev.parent_span_id
        if ev.status is not None:
            args["status"] = ev.status
        out: dict[str, Any] = {
            "ph": "i",
            "s": "t",
            "name": event_title(ev),
            "cat": ev.event.partition(".")[0],
            "pid": track.pid,
            "tid": track.tid,
            "ts": _us(p.start_ns - self.t0),
            "args": args,
        }
        if ev.event == "error" or ev.status == "error":
            out["cname"] = "terrible"
        return out

    def _flow(self, phase: str, flow: int, at_ns: int, track: _Track) -> dict[str, Any]:
        event: dict[str, Any] = {
            "ph": phase,
            "id": flow,
            "name": "child",
            "cat": FLOW_CATEGORY,
            "pid": track.pid,
            "tid": track.tid,
            "ts": _us(at_ns - self.t0),
        }
        if phase == "f":
            event["bp"] = "e"
        return event


def to_chrome_trace(source: str | os.PathLike[str] | TraceTree) -> dict[str, Any]:
    """A trace (with its child traces) as a Trace Event Format object.

    Open the JSON written by :func:`write_chrome_trace` in
    https://ui.perfetto.dev or chrome://tracing.  Times are microseconds
    from the earliest event; ``otherData.start_time`` is that moment's
    wall-clock time (UTC).  Each trace file is one process.
    """
    tree = source if isinstance(source, TraceTree) else load_tree(source)
    export = _Export(tree)
    events = list(export.events())
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "producer": f"asynctrace {__version__}",
            "trace_id": tree.trace_id,
            "source": str(tree.path),
            "start_time": wall_clock(export.t0),
            "start_unix_ns": export.t0,
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
