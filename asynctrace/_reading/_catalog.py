"""``asynctrace ls``: one row per trace of a directory, parts and children folded in.

A row's totals come from each part chain's last ``trace.stop`` (which carries
the totals of the whole chain); a chain that was never closed is recomputed
from its lines, streaming.  Only headers and last lines are read otherwise,
so a directory of many closed plain traces lists quickly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from .._storage._header import read_stop
from .._storage._parts import TraceGroup, group_traces
from .._storage._rotation import ROTATED
from .._storage._scan import TraceFileInfo, scan
from . import _format as F
from ._reader import read
from ._summarize import summarize
from ._view import Line, View

OPEN: Final = "open"
"""The status of a trace whose root chain has no final ``trace.stop``."""


@dataclass(slots=True)
class TraceRow:
    """One trace as ``asynctrace ls`` lists it."""

    trace_id: str
    path: str
    """The first part of the root chain."""
    label: str
    status: str
    start_ts_ns: int
    duration_ns: int | None
    events: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    errors: int
    shed: int
    files: int
    parts: int
    """Part files of the root chain."""
    children: int
    """Child part chains folded into this row."""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _label(info: TraceFileInfo) -> str:
    for key in ("label", "trace_kind", "producer"):
        value = info.data.get(key)
        if isinstance(value, str) and value:
            return value
    return info.trace_id[:8]


def _chain_totals(chain: list[TraceFileInfo]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(summary, counts, final stop or None) of one part chain."""
    stop = read_stop(chain[-1].path)
    if stop is not None and stop.data.get("reason") != ROTATED:
        summary = stop.data.get("summary")
        counts = stop.data.get("counts")
        if isinstance(summary, dict):
            return summary, counts if isinstance(counts, dict) else {}, stop
    # Not closed (or closed without a summary): recompute from the lines.
    return summarize(read(chain[0].path)), {}, None


def _row(group: TraceGroup) -> TraceRow:
    root = group.root
    head = root[0]
    events = llm = tin = tout = errors = shed = 0
    cost: float | None = None
    priced = False
    status = OPEN
    duration: int | None = None
    for i, chain in enumerate(group.chains):
        summary, counts, stop = _chain_totals(chain)
        events += _int(summary.get("events"))
        llm += _int(summary.get("llm_calls"))
        tin += _int(summary.get("input_tokens"))
        tout += _int(summary.get("output_tokens"))
        errors += _int(summary.get("errors"))
        shed += _int(counts.get("shed"))
        c = summary.get("cost_usd")
        if isinstance(c, int | float) and not isinstance(c, bool):
            cost = (cost or 0.0) + c
            priced = True
        if i == 0:
            if stop is not None:
                status = stop.status or "?"
                duration = stop.ts_ns - head.start_ts_ns
            else:
                duration = None
    if not priced and llm == 0:
        cost = 0.0
    return TraceRow(
        trace_id=group.trace_id,
        path=str(head.path),
        label=_label(head),
        status=status,
        start_ts_ns=head.start_ts_ns,
        duration_ns=duration,
        events=events,
        llm_calls=llm,
        input_tokens=tin,
        output_tokens=tout,
        cost_usd=round(cost, 10) if cost is not None else None,
        errors=errors,
        shed=shed,
        files=len(group.files),
        parts=len(root),
        children=len(group.chains) - 1,
    )


def _int(value: object) -> int:
    return value if type(value) is int else 0


SORT_KEYS: Final[dict[str, Callable[[TraceRow], Any]]] = {
    "start": lambda r: r.start_ts_ns,
    "duration": lambda r: r.duration_ns if r.duration_ns is not None else -1,
    "events": lambda r: r.events,
    "llm": lambda r: r.llm_calls,
    "tokens": lambda r: r.tokens,
    "cost": lambda r: r.cost_usd if r.cost_usd is not None else -1.0,
    "errors": lambda r: r.errors,
    "shed": lambda r: r.shed,
    "label": lambda r: r.label.lower(),
    "status": lambda r: r.status,
}
"""``--sort`` keys; numbers and start time sort largest (newest) first, text A to Z."""


def catalog(
    directory: str | os.PathLike[str],
    *,
    since_ns: int | None = None,
    status: str | None = None,
    label: str | None = None,
    sort: str = "start",
) -> list[TraceRow]:
    """The traces of ``directory``, one row each (see :class:`TraceRow`).

    ``since_ns``: only traces started at or after this unix time;
    ``status``: only this status (``ok``, ``error``, ``cancelled``,
    ``aborted`` or ``open``); ``label``: only labels containing this text
    (case-insensitive).  Raises ``ValueError`` for an unknown ``sort`` key.
    """
    key = SORT_KEYS.get(sort)
    if key is None:
        raise ValueError(f"unknown sort key {sort!r} (one of {', '.join(SORT_KEYS)})")
    folder = Path(directory)
    files = scan(folder)
    rows: list[TraceRow] = []
    needle = label.lower() if label else None
    for group in group_traces(files):
        head = group.root[0]
        if since_ns is not None and head.start_ts_ns < since_ns:
            continue
        if needle is not None and needle not in _label(head).lower():
            continue
        row = _row(group)
        if status is not None and row.status != status:
            continue
        rows.append(row)
    rows.sort(key=key, reverse=sort not in ("label", "status"))
    return rows


def since_ns_ago(age_s: float, *, now_ns: int | None = None) -> int:
    return (time.time_ns() if now_ns is None else now_ns) - round(age_s * 1e9)


# -- the view -----------------------------------------------------------------

_HEADER: Final = (
    "started (UTC)",
    "label",
    "status",
    "duration",
    "events",
    "llm",
    "tokens",
    "cost",
    "errors",
    "shed",
    "trace",
)


def _cells(row: TraceRow) -> list[tuple[str, str]]:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.start_ts_ns / 1e9))
    status_style = "ok" if row.status == "ok" else "warn" if row.status == OPEN else "error"
    trace = row.trace_id[:8]
    extra = []
    if row.parts > 1:
        extra.append(f"{row.parts} parts")
    if row.children:
        extra.append(f"+{row.children} child" + ("ren" if row.children > 1 else ""))
    if extra:
        trace += f" ({', '.join(extra)})"
    return [
        (started, "dim"),
        (F.clip(row.label, 24), "name"),
        (row.status, status_style),
        (F.duration(row.duration_ns), "num"),
        (str(row.events), "num"),
        (str(row.llm_calls), "num"),
        (F.tokens(row.tokens), "num"),
        (F.cost(row.cost_usd), "cost"),
        (str(row.errors), "error" if row.errors else "dim"),
        (str(row.shed), "warn" if row.shed else "dim"),
        (trace, "dim"),
    ]


def _table(header: tuple[str, ...], rows: list[list[tuple[str, str]]]) -> Iterator[Line]:
    widths = [len(h) for h in header]
    for cells in rows:
        for i, (text, _) in enumerate(cells):
            widths[i] = max(widths[i], len(text))
    numeric = {3, 4, 5, 6, 7, 8, 9}

    def pad(i: int, text: str) -> str:
        return text.rjust(widths[i]) if i in numeric else text.ljust(widths[i])

    yield [("  ".join(pad(i, h) for i, h in enumerate(header)).rstrip(), "head")]
    for cells in rows:
        line: Line = []
        for i, (text, style) in enumerate(cells):
            if i:
                line.append(("  ", ""))
            line.append((pad(i, text) if i < len(cells) - 1 else text, style))
        yield line


def ls_view(rows: list[TraceRow]) -> View:
    """The rows as a table, or as a JSON list (one object per trace)."""

    def lines() -> Iterator[Line]:
        if not rows:
            yield [("(no traces)", "dim")]
            return
        yield from _table(_HEADER, [_cells(r) for r in rows])

    def data() -> list[dict[str, Any]]:
        return [{**asdict(r), "tokens": r.tokens} for r in rows]

    return View(lines, data, is_list=True)
