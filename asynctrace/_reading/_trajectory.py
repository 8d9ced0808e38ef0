"""The trajectory view: per turn, what the model decided, then what the tools returned."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Final

from . import _format as F
from ._detail import error_text, llm_usage, status_segment
from ._tree import SpanNode, TraceTree, load_tree
from ._view import Line, View

OUTPUT_CHARS: Final = 80


def _descendants(node: SpanNode, kind: str) -> list[SpanNode]:
    """Spans of ``kind`` below ``node`` (this trace only), not crossing nested turns."""
    found: list[SpanNode] = []
    stack = list(reversed(node.children))
    while stack:
        n = stack.pop()
        if n.kind == "turn":
            continue
        if n.kind == kind:
            found.append(n)
        stack.extend(reversed(n.children))
    found.sort(key=lambda n: (n.start_ts_ns, n.order))
    return found


def _action(n: SpanNode, t0: int) -> dict[str, Any]:
    d = n.data
    return {
        "span_id": n.span_id,
        "model": d.get("model") or n.name,
        "offset_ns": n.start_ts_ns - t0,
        "duration_ns": n.duration_ns,
        "status": n.status,
        "finish_reason": d.get("finish_reason"),
        "input_tokens": d.get("input_tokens"),
        "output_tokens": d.get("output_tokens"),
        "cost_usd": d.get("cost_usd"),
        "output": d.get("output"),
        "error": error_text(d) if n.status == "error" else None,
    }


def _observation(n: SpanNode, t0: int) -> dict[str, Any]:
    d = n.data
    return {
        "span_id": n.span_id,
        "tool": n.name,
        "offset_ns": n.start_ts_ns - t0,
        "duration_ns": n.duration_ns,
        "status": n.status,
        "args": d.get("args"),
        "result": d.get("result"),
        "error": error_text(d) if n.status == "error" else None,
    }


def _step(tree: TraceTree, turn: SpanNode | None, t0: int) -> dict[str, Any]:
    if turn is None:
        # No turns recorded: the whole trace is one step.
        llms = sorted(
            (n for n in tree.spans.values() if n.kind == "llm"),
            key=lambda n: (n.start_ts_ns, n.order),
        )
        tools = sorted(
            (n for n in tree.spans.values() if n.kind == "tool"),
            key=lambda n: (n.start_ts_ns, n.order),
        )
        head: dict[str, Any] = {"turn": None, "name": None, "span_id": None}
        head.update(offset_ns=tree.t0_ns - t0, duration_ns=None, status=None)
    else:
        llms = _descendants(turn, "llm")
        tools = _descendants(turn, "tool")
        head = {
            "turn": turn.data.get("turn"),
            "name": turn.data.get("name"),
            "span_id": turn.span_id,
            "offset_ns": turn.start_ts_ns - t0,
            "duration_ns": turn.duration_ns,
            "status": turn.status,
        }
    head["trace_id"] = tree.trace_id
    head["file_id"] = tree.file_id
    head["trace"] = tree.label
    head["actions"] = [_action(n, t0) for n in llms]
    head["observations"] = [_observation(n, t0) for n in tools]
    return head


def trajectory_data(tree: TraceTree) -> list[dict[str, Any]]:
    t0 = tree.t0_ns
    steps: list[dict[str, Any]] = []
    for sub in tree.traces():
        turns = [n for n in sub.walk() if n.kind == "turn"]
        if turns:
            steps.extend(_step(sub, turn, t0) for turn in turns)
        elif any(n.kind in ("llm", "tool") for n in sub.spans.values()):
            steps.append(_step(sub, None, t0))
    return steps


def trajectory_lines(steps: list[dict[str, Any]], root_file_id: str) -> Iterator[Line]:
    for i, step in enumerate(steps):
        if i:
            yield []
        head: Line = [(F.offset_cell(step["offset_ns"]), "dim"), (" ", "")]
        if step["turn"] is None and step["span_id"] is None:
            head.append(("(no turns recorded)", "head"))
        else:
            label = f"turn {step['turn']}" if step["turn"] is not None else "turn"
            head.append((label, "head"))
            if step["name"] and step["name"] != "turn":
                head.append((f" {step['name']}", "name"))
            head += [(" ", ""), (F.duration(step["duration_ns"]), "num"), (" ", "")]
            head.append(status_segment(step["status"]))
        if step["file_id"] != root_file_id:
            head.append((f"  in child trace {step['trace']} {step['file_id'][:8]}", "dim"))
        yield head
        if not step["actions"] and not step["observations"]:
            yield [("    (no llm or tool calls)", "dim")]
        for a in step["actions"]:
            line: Line = [("  action  ", "kind"), (str(a["model"]), "name")]
            if a["finish_reason"]:
                line.append((f" → {a['finish_reason']}", ""))
            usage = llm_usage(a)
            if usage:
                line.append((" ", ""))
                line.extend(usage)
            line += [(" ", ""), (F.duration(a["duration_ns"]), "num"), (" ", "")]
            line.append(status_segment(a["status"]))
            if a["error"]:
                line.append((f" {a['error']}", "error"))
            yield line
            if a["output"] is not None:
                yield [("          ", ""), (F.quoted(a["output"], OUTPUT_CHARS), "dim")]
        for o in step["observations"]:
            line = [("  observe ", "kind"), (str(o["tool"]), "name"), (" ", "")]
            line += [(F.duration(o["duration_ns"]), "num"), (" ", "")]
            line.append(status_segment(o["status"]))
            if o["error"]:
                line.append((f" {o['error']}", "error"))
            elif o["result"] is not None:
                line += [(" → ", "dim"), (F.quoted(o["result"], OUTPUT_CHARS - 20), "dim")]
            yield line


def trajectory_view(source: str | os.PathLike[str] | TraceTree) -> View:
    """Per turn: the action (llm calls: model, finish reason, output preview),
    then the tool observations with duration and ok/error.  Turns of joined
    child traces follow the parent's; a trace without turns is one step."""
    whole = source if isinstance(source, TraceTree) else load_tree(source)
    steps = trajectory_data(whole)
    return View(lambda: trajectory_lines(steps, whole.file_id), lambda: steps, is_list=True)
