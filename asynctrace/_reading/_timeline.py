"""The timeline view: one line per event, in file order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, Final

from .._events._schema import Event
from . import _format as F
from ._detail import StartMemory, detail
from ._filter import Selection, selection
from ._reader import TraceReader, read
from ._tree import build_tree
from ._view import Line, View, plain

NAME_WIDTH: Final = 12


def timeline_line(ev: Event, t0_ns: int) -> Line:
    """``[+12ms] llm.stop     gpt-x 1.2k→340 tok $0.004 350ms ok``."""
    name = ev.event
    line: Line = [(F.offset_cell(ev.ts_ns - t0_ns), "dim"), (" ", ""), (name, "event")]
    line.append((" " * max(NAME_WIDTH - len(name), 0) + " ", ""))
    line.extend(detail(ev))
    if ev.agent_id:
        line.append((f" @{ev.agent_id}", "dim"))
    return line


def timeline_item(ev: Event, t0_ns: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "seq": ev.seq,
        "offset_ns": ev.ts_ns - t0_ns,
        "event": ev.event,
    }
    for key in ("span_id", "parent_span_id", "duration_ns", "status", "agent_id"):
        value = getattr(ev, key)
        if value is not None:
            item[key] = value
    item["detail"] = plain(detail(ev))
    return item


def _t0(reader: TraceReader) -> int | None:
    return reader.start.ts_ns if reader.start is not None else None


def _selected(reader: TraceReader, sel: Selection) -> Iterator[tuple[Event, int]]:
    t0 = _t0(reader)
    everything = sel.is_everything
    memory = StartMemory()
    for batch in reader.batches():
        for ev in batch:
            if t0 is None:
                t0 = ev.ts_ns
            if ev.span_id is not None:
                ev = memory.fill(ev)
            if everything or sel.event(ev):
                yield ev, t0


def timeline_view(
    source: str | os.PathLike[str] | TraceReader,
    *,
    kinds: Iterable[str] = (),
    span: str | None = None,
    min_duration_ns: int | None = None,
) -> View:
    """One line per event, offsets from the trace start.

    ``kinds`` keeps events of those kinds or names, ``span`` (an id or a
    unique prefix) keeps the events of that span's subtree, and
    ``min_duration_ns`` keeps events with at least that duration.  The view
    is lazy: the file is read each time the view is rendered.
    """
    reader = source if isinstance(source, TraceReader) else read(source)
    tree = build_tree(reader) if span is not None else None
    sel = selection(kinds=kinds, span=span, min_duration_ns=min_duration_ns, tree=tree)

    def lines() -> Iterator[Line]:
        for ev, t0 in _selected(reader, sel):
            yield timeline_line(ev, t0)

    def items() -> Iterator[dict[str, Any]]:
        for ev, t0 in _selected(reader, sel):
            yield timeline_item(ev, t0)

    return View(lines, items, is_list=True)
