"""The slowest spans, with the same filters as the timeline."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from typing import Any

from . import _format as F
from ._detail import status_segment
from ._filter import selection
from ._tree import SpanNode, TraceTree, load_tree
from ._treeview import span_label
from ._view import Line, View


def slowest_spans(
    tree: TraceTree,
    n: int = 10,
    *,
    kinds: Iterable[str] = (),
    span: str | None = None,
    min_duration_ns: int | None = None,
) -> list[SpanNode]:
    """The ``n`` longest closed spans (child traces included), longest first."""
    if n < 0:
        raise ValueError("n must not be negative")
    sel = selection(kinds=kinds, span=span, min_duration_ns=min_duration_ns, tree=tree)
    closed = (
        node
        for node in tree.walk(into_child_traces=True)
        if node.duration_ns is not None and sel.span(node)
    )
    return heapq.nlargest(n, closed, key=lambda node: node.duration_ns or 0)


def _item(node: SpanNode, t0: int) -> dict[str, Any]:
    return {
        "span_id": node.span_id,
        "trace_id": node.trace_id,
        "file_id": node.file_id,
        "kind": node.kind,
        "name": node.name,
        "offset_ns": node.start_ts_ns - t0,
        "duration_ns": node.duration_ns,
        "status": node.status,
    }


def slowest_view(
    source: str | os.PathLike[str] | TraceTree,
    n: int = 10,
    *,
    kinds: Iterable[str] = (),
    span: str | None = None,
    min_duration_ns: int | None = None,
) -> View:
    """The ``n`` slowest spans, filtered by kind, subtree and minimum duration."""
    whole = source if isinstance(source, TraceTree) else load_tree(source)
    nodes = slowest_spans(whole, n, kinds=kinds, span=span, min_duration_ns=min_duration_ns)
    t0 = whole.t0_ns

    def lines() -> Iterator[Line]:
        for node in nodes:
            line: Line = [(f"{F.duration(node.duration_ns):>8}", "num"), ("  ", "")]
            line.extend(span_label(node))
            line.append((" ", ""))
            line.append(status_segment(node.status))
            line.append((f"  {F.offset_cell(node.start_ts_ns - t0)}", "dim"))
            line.append((f" {node.key}", "dim"))
            if node.file_id != whole.file_id:
                line.append((f" (child trace {node.file_id[:8]})", "dim"))
            yield line

    return View(lines, lambda: [_item(node, t0) for node in nodes], is_list=True)
