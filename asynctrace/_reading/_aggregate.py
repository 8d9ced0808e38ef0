"""The summary across many traces (``asynctrace summary --aggregate``).

Files are read one at a time, streaming, and folded into per-group totals
and latency sketches (``_sketch.Sketch``), so memory does not grow with the
number of files or events: only with the number of groups, tools and
models.  Each file is taken on its own:

* its tool and llm calls count in the group of its own day, label or model;
* a run is counted once, on the last part of a root trace (a file opened
  under no parent whose ``trace.stop`` is final, or that has none: open or
  crashed), with that stop's status;
* a part that exists both plain and compressed counts once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Literal

from .._events._schema import Event
from .._storage._names import plain_path
from .._storage._rotation import ROTATED
from . import _format as F
from ._catalog import OPEN
from ._open import looks_like_trace_name
from ._reader import COLLECTOR_LINES, read
from ._sketch import Sketch
from ._view import Line, View

GroupBy = Literal["day", "label", "model"]
GROUP_BY: Final = ("day", "label", "model")
ALL: Final = "all"


class _Calls:
    __slots__ = ("errors", "n", "sketch")

    def __init__(self) -> None:
        self.n = 0
        self.errors = 0
        self.sketch = Sketch()

    def add(self, ev: Event) -> None:
        self.n += 1
        if ev.status == "error":
            self.errors += 1
        if ev.duration_ns is not None:
            self.sketch.add(ev.duration_ns)

    def result(self) -> dict[str, Any]:
        s = self.sketch
        return {
            "calls": self.n,
            "errors": self.errors,
            "error_rate": self.errors / self.n if self.n else None,
            "p50_ns": s.quantile(0.5),
            "p95_ns": s.quantile(0.95),
            "max_ns": s.max,
        }


class _Group:
    __slots__ = (
        "cached_tokens",
        "cost_usd",
        "input_tokens",
        "llm",
        "models",
        "output_tokens",
        "runs",
        "tool",
        "tools",
        "unpriced",
    )

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}
        self.tool = _Calls()
        self.llm = _Calls()
        self.tools: dict[str, _Calls] = {}
        self.models: dict[str, _Calls] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_tokens = 0
        self.cost_usd = 0.0
        self.unpriced = 0

    def run(self, status: str) -> None:
        self.runs[status] = self.runs.get(status, 0) + 1

    def call(self, kind: str, name: str, ev: Event) -> None:
        if kind == "tool":
            self.tool.add(ev)
            calls = self.tools.get(name)
            if calls is None:
                calls = self.tools[name] = _Calls()
            calls.add(ev)
            return
        self.llm.add(ev)
        calls = self.models.get(name)
        if calls is None:
            calls = self.models[name] = _Calls()
        calls.add(ev)
        data = ev.data
        self.input_tokens += _int(data.get("input_tokens"))
        self.output_tokens += _int(data.get("output_tokens"))
        self.cached_tokens += _int(data.get("cached_tokens"))
        cost = data.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            self.cost_usd += cost
        else:
            self.unpriced += 1

    def result(self, key: str) -> dict[str, Any]:
        runs = sum(self.runs.values())
        finished = runs - self.runs.get(OPEN, 0)
        ok = self.runs.get("ok", 0)
        tool, llm = self.tool.result(), self.llm.result()
        return {
            "key": key,
            "runs": runs,
            "runs_by_status": dict(sorted(self.runs.items())),
            "success_rate": ok / finished if finished else None,
            "tool_calls": tool["calls"],
            "tool_errors": tool["errors"],
            "tool_error_rate": tool["error_rate"],
            "llm_calls": llm["calls"],
            "llm_errors": llm["errors"],
            "llm_error_rate": llm["error_rate"],
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            # As in a trace's summary: null when there were llm calls and none had a price.
            "cost_usd": None
            if llm["calls"] and self.unpriced == llm["calls"]
            else round(self.cost_usd, 10),
            "unpriced_llm_calls": self.unpriced,
            "tools": {n: c.result() for n, c in sorted(self.tools.items())},
            "models": {n: c.result() for n, c in sorted(self.models.items())},
        }


def _int(value: object) -> int:
    return value if type(value) is int else 0


def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for item in paths:
        path = Path(item)
        if path.is_dir():
            try:
                with os.scandir(path) as it:
                    names = sorted(e.name for e in it if not e.name.startswith("."))
            except OSError:
                continue
            for name in names:
                child = path / name
                if looks_like_trace_name(child) and child.is_file():
                    yield child
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(2, "no such trace file or directory", str(path))


def _label(start: Event) -> str:
    for key in ("label", "trace_kind", "producer"):
        value = start.data.get(key)
        if isinstance(value, str) and value:
            return value
    return "?"


def _day(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ns / 1e9))


def aggregate(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    by: GroupBy | None = None,
    since_ns: int | None = None,
) -> dict[str, Any]:
    """Totals across trace files: runs and success rate, tool and llm calls
    with error rates, p50/p95 latency per tool and per model (within 1 %),
    tokens and cost; overall or per ``by`` group (``day``, ``label`` or
    ``model``).

    ``paths`` is a file, a directory (its trace files) or an iterable of
    those.  ``since_ns``: only files whose trace started at or after that
    unix time.  Streaming: one file at a time, constant memory per file.
    Raises ``FileNotFoundError`` for a path that does not exist and
    ``ValueError`` for an unknown ``by``.
    """
    if by is not None and by not in GROUP_BY:
        raise ValueError(f"by must be one of {', '.join(GROUP_BY)} or None, got {by!r}")
    items: Iterable[str | os.PathLike[str]] = (
        [paths] if isinstance(paths, str | os.PathLike) else paths
    )
    groups: dict[str, _Group] = {}
    # by="model": the models each unfinished root trace has called so far.
    pending: dict[str, set[str]] = {}
    files = skipped = 0

    def group(key: str) -> _Group:
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group()
        return g

    for path in _files(items):
        if path.name.endswith(".gz") and plain_path(path).is_file():
            continue  # the same part, still there uncompressed
        try:
            reader = read(path, parts=False)
        except OSError:
            skipped += 1
            continue
        start = reader.start
        if start is None:
            skipped += 1
            continue
        if since_ns is not None and start.ts_ns < since_ns:
            continue
        files += 1
        file_key = ALL if by is None else _day(start.ts_ns) if by == "day" else _label(start)
        used: set[str] | None = pending.setdefault(start.trace_id, set()) if by == "model" else None
        # A stop's model (or tool name) is often only on its start: kept for
        # open spans only, so this stays as small as the spans in flight.
        started: dict[str, str] = {}
        for batch in reader.batches():
            for ev in batch:
                name = ev.event
                if name in COLLECTOR_LINES:
                    continue
                kind, _, phase = name.partition(".")
                if kind != "tool" and kind != "llm":
                    continue
                label = ev.data.get("name" if kind == "tool" else "model")
                if phase == "start":
                    if ev.span_id is not None and isinstance(label, str):
                        started[ev.span_id] = label
                    continue
                if phase != "stop" and phase != "call":
                    continue
                if ev.span_id is not None:
                    remembered = started.pop(ev.span_id, None)
                    if not isinstance(label, str):
                        label = remembered
                call_name = label if isinstance(label, str) else "?"
                if used is not None:
                    if kind == "tool":
                        continue
                    used.add(call_name)
                    group(call_name).call(kind, call_name, ev)
                else:
                    group(file_key).call(kind, call_name, ev)
        stop = reader.stop
        data = start.data
        is_child = bool(
            data.get("parent_trace_id") or data.get("parent_file_id") or data.get("parent_span_id")
        )
        final = stop is None or stop.data.get("reason") != ROTATED
        if is_child or not final:
            continue
        status = (stop.status or "?") if stop is not None else OPEN
        if by == "model":
            for model in sorted(pending.pop(start.trace_id, set())):
                group(model).run(status)
        else:
            group(file_key).run(status)
    if by is None:
        group(ALL)
    return {
        "by": by or ALL,
        "files": files,
        "skipped": skipped,
        "groups": [groups[k].result(k) for k in sorted(groups)],
    }


# -- the view -----------------------------------------------------------------


def aggregate_view(data: dict[str, Any]) -> View:
    """The aggregate as text (one block per group) or its JSON object."""

    def lines() -> Iterator[Line]:
        yield [
            ("across ", "dim"),
            (f"{data['files']} files", "num"),
            (f"  by {data['by']}" if data["by"] != ALL else "", "dim"),
        ]
        if not data["groups"]:
            yield [("(no traces)", "dim")]
        for g in data["groups"]:
            yield from _group_lines(g, data["by"])

    return View(lines, lambda: data)


def _group_lines(g: dict[str, Any], by: str) -> Iterator[Line]:
    yield []
    if by != ALL:
        yield [(g["key"], "head")]
    runs = g["runs_by_status"]
    status = ", ".join(f"{n} {s}" for s, n in runs.items())
    yield [
        ("runs ", "dim"),
        (str(g["runs"]), "num"),
        (f" ({status})" if status else "", "dim"),
        ("  success ", "dim"),
        (F.percent(g["success_rate"]), "ok"),
    ]
    yield [
        ("tool calls ", "dim"),
        (str(g["tool_calls"]), "num"),
        ("  errors ", "dim"),
        (
            f"{g['tool_errors']} ({F.percent(g['tool_error_rate'])})",
            "error" if g["tool_errors"] else "",
        ),
        ("  llm calls ", "dim"),
        (str(g["llm_calls"]), "num"),
        ("  errors ", "dim"),
        (
            f"{g['llm_errors']} ({F.percent(g['llm_error_rate'])})",
            "error" if g["llm_errors"] else "",
        ),
    ]
    yield [
        ("tokens ", "dim"),
        (f"{F.tokens(g['input_tokens'])} in, {F.tokens(g['output_tokens'])} out", "num"),
        ("  cost ", "dim"),
        (F.cost(g["cost_usd"]), "cost"),
        (
            f" (+{g['unpriced_llm_calls']} unpriced calls)" if g["unpriced_llm_calls"] else "",
            "warn",
        ),
    ]
    for title, table in (("model", g["models"]), ("tool", g["tools"])):
        if not table:
            continue
        width = max(len(n) for n in table)
        yield [(f"  {title:<{width}}  {'calls':>6}  {'errors':>6}  {'p50':>8}  {'p95':>8}", "head")]
        for name, c in table.items():
            yield [
                (f"  {name:<{width}}  ", "name"),
                (f"{c['calls']:>6}  ", "num"),
                (f"{c['errors']:>6}  ", "error" if c["errors"] else "dim"),
                (f"{F.duration(c['p50_ns']):>8}  {F.duration(c['p95_ns']):>8}", "num"),
            ]
