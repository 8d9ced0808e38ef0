"""The one-line description of an event, per kind, as styled segments."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .._events._llmbody import LLM_REQUEST, LLM_RESPONSE, route
from .._events._schema import AGENT_CONFIG, EVENT_OMITTED, TRACE_START, TRACE_STOP, Event
from . import _format as F
from ._view import Line

PREVIEW_CHARS: Final = 60
"""Longest preview of one value (args, results, messages) in a line."""


def status_segment(status: str | None) -> tuple[str, str]:
    if status is None:
        return ("open", "warn")
    if status == "ok":
        return ("ok", "ok")
    if status == "error":
        return ("error", "error")
    return (status, "warn")


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else F.preview(value, PREVIEW_CHARS)


def error_text(data: dict[str, Any]) -> str | None:
    """``Type: message`` from ``error_type``/``error_message`` (or ``message``)."""
    etype = _str(data, "error_type")
    message = _str(data, "error_message") or _str(data, "message")
    if etype and message:
        return F.clip(f"{etype}: {message}", PREVIEW_CHARS)
    if etype or message:
        return F.clip(etype or message or "", PREVIEW_CHARS)
    return None


def llm_usage(data: dict[str, Any]) -> Line:
    """``1.2k→340 tok $0.004`` (only the parts that are known)."""
    out: Line = []
    inp, outp = data.get("input_tokens"), data.get("output_tokens")
    if inp is not None or outp is not None:
        out.append((f"{F.tokens(inp)}→{F.tokens(outp)} tok", "num"))
    if "cost_usd" in data:
        out.append((" " if out else "", ""))
        out.append((F.cost(data["cost_usd"]), "cost"))
    return out


def captured_http(name: str, data: dict[str, Any]) -> Line:
    """``POST /chat/completions 1.2 kB`` / ``200 stream 3.4 kB complete`` for a captured call."""
    size = data.get("body_bytes")
    body: Line = [(F.size(size), "num")] if isinstance(size, int) else []
    if data.get("body_truncated"):
        body.append((" truncated", "warn"))
    if name == LLM_REQUEST:
        url, base = data.get("url"), data.get("base_url")
        path = route(url, base if isinstance(base, str) else "") if isinstance(url, str) else "?"
        head = f"{_str(data, 'method') or '?'} {path}"
        return _join([[(head, "name")], body])
    status = data.get("http_status")
    line: Line = [(str(status), "ok" if isinstance(status, int) and status < 400 else "error")]
    if data.get("stream"):
        line.append((" stream", "dim"))
    end = _str(data, "response_end")
    return _join([line, body, [(end, "dim" if end == "complete" else "warn")] if end else []])


def _join(parts: list[Line]) -> Line:
    line: Line = []
    for part in parts:
        if not part:
            continue
        if line:
            line.append((" ", ""))
        line.extend(part)
    return line


def _ending(ev: Event, data: dict[str, Any]) -> list[Line]:
    """Duration, status, error and child link of a ``*.stop`` / ``*.call``."""
    parts: list[Line] = []
    if ev.duration_ns is not None:
        parts.append([(F.duration(ev.duration_ns), "num")])
    if ev.status is not None:
        parts.append([status_segment(ev.status)])
    err = error_text(data) if ev.status == "error" else None
    if err:
        parts.append([(err, "error")])
    child = data.get("child_file_id", data.get("child_trace_id"))
    if isinstance(child, str):
        parts.append([("→ child trace ", "dim"), (child[:8], "name")])
    return parts


def _attrs(data: dict[str, Any], skip: frozenset[str]) -> Line:
    rest = {k: v for k, v in data.items() if k not in skip}
    return [(F.preview(rest, PREVIEW_CHARS), "dim")] if rest else []


_SPAN_SKIP: Final = frozenset(
    {
        "name",
        "error_type",
        "error_message",
        "child_trace_id",
        "child_file_id",
        "child_file_ids",
        "agent_config",
    }
)


def detail(ev: Event) -> Line:
    """What an event says, in a few words (no offset, no event name)."""
    name = ev.event
    data = ev.data
    kind, _, phase = name.partition(".")

    if name == TRACE_START:
        return _trace_start(ev)
    if name == TRACE_STOP:
        return _trace_stop(ev)
    if name == AGENT_CONFIG:
        return _join([[("agent ", "dim"), (ev.agent_id or "?", "name")], _attrs(data, _SPAN_SKIP)])
    if name == EVENT_OMITTED:
        return [
            (str(data.get("event", "?")), "event"),
            (
                f" omitted: {F.size(data.get('bytes'))} over the {F.size(data.get('cap'))} cap",
                "warn",
            ),
        ]
    if name in (LLM_REQUEST, LLM_RESPONSE):
        return captured_http(name, data)
    if kind == "llm":
        model = [(_str(data, "model") or "?", "name")]
        if phase == "start":
            return model
        return _join([model, llm_usage(data), *_ending(ev, data)])
    if kind == "tool":
        tool = [(_str(data, "name") or "?", "name")]
        if phase == "start":
            args = data.get("args")
            return _join([tool, [(F.preview(args, PREVIEW_CHARS), "dim")] if args else []])
        result: Line = []
        if ev.status != "error" and data.get("result") is not None:
            result = [("→ ", "dim"), (F.quoted(data["result"], PREVIEW_CHARS), "dim")]
        return _join([tool, result, *_ending(ev, data)])
    if name == "decision":
        line: Line = [(_str(data, "decision_type") or "decision", "name")]
        outcome = _str(data, "outcome")
        if outcome:
            line += [(" → ", "dim"), (outcome, "")]
        reason = _str(data, "reason")
        if reason:
            line.append((f" ({F.clip(reason, PREVIEW_CHARS)})", "dim"))
        return line
    if name == "error":
        return _join([[(error_text(data) or "error", "error")], _recovery(data.get("recovery"))])
    if name == "checkpoint":
        # ``status`` is a top-level key, so a checkpoint's status lands there.
        state = ev.status or _str(data, "status")
        mark = status_segment(state) if state in ("ok", "error") else (state or "?", "")
        return [(_str(data, "phase") or "?", "name"), (" ", ""), mark]
    if kind == "turn":
        turn = data.get("turn")
        head: Line = [(f"turn {turn}" if turn is not None else "turn", "name")]
        label = _str(data, "name")
        if label and label != "turn":
            head.append((f" {label}", ""))
        return _join([head, *_ending(ev, data)]) if phase != "start" else head
    if kind == "run":
        head = [(_str(data, "name") or "run", "name")]
        key = "input" if phase == "start" else "output"
        value = data.get(key)
        shown: Line = [(F.quoted(value, PREVIEW_CHARS), "dim")] if value is not None else []
        return (
            _join([head, shown, *_ending(ev, data)]) if phase != "start" else _join([head, shown])
        )
    if phase in ("start", "stop", "call") and (ev.span_id or phase == "call"):
        head = [(_str(data, "name") or kind, "name")]
        if phase == "start":
            return _join([head, _attrs(data, _SPAN_SKIP)])
        return _join([head, *_ending(ev, data)])
    # A point event: its data is all there is to say.
    return _join([_attrs(data, frozenset()), *_ending(ev, data)])


def _recovery(value: object) -> Line:
    if not isinstance(value, dict) or not value.get("attempted"):
        return []
    strategy = value.get("strategy")
    success = value.get("success")
    mark = ("✓", "ok") if success is True else ("✗", "error") if success is False else ("?", "warn")
    return [("recovery ", "dim"), (str(strategy or "?"), ""), (" ", ""), mark]


def _trace_start(ev: Event) -> Line:
    data = ev.data
    parts: list[Line] = [[(_str(data, "label") or _str(data, "trace_kind") or "trace", "name")]]
    parts.append([(ev.trace_id[:8], "dim")])
    model = _str(data, "model")
    if model:
        parts.append([(model, "")])
    query = data.get("query")
    if query:
        parts.append([(F.quoted(query, PREVIEW_CHARS), "dim")])
    parent = _str(data, "parent_file_id") or _str(data, "parent_trace_id")
    if parent:
        parts.append([("child of ", "dim"), (parent[:8], "name")])
    part = data.get("part")
    if type(part) is int and part > 1:
        parts.append([(f"part {part}", "dim")])
    return _join(parts)


def _trace_stop(ev: Event) -> Line:
    data = ev.data
    parts: list[Line] = [[status_segment(ev.status)]]
    reason = _str(data, "reason")
    if reason:
        parts.append([(f"({reason})", "dim")])
    if ev.duration_ns is not None:
        parts.append([(F.duration(ev.duration_ns), "num")])
    counts = data.get("counts")
    if isinstance(counts, dict):
        parts.append([(f"{counts.get('written', '?')} written", "dim")])
        for key in ("shed", "oversize", "write_errors"):
            n = counts.get(key)
            if isinstance(n, int) and n:
                parts.append([(f"{n} {key.replace('_', ' ')}", "warn")])
    return _join(parts)


class StartMemory:
    """Lends a ``*.stop`` the attributes its ``*.start`` had and it lacks.

    An llm span's model is usually given when it opens, but the stop line is
    the one described; this keeps, for open spans only, the few attributes
    a description needs.
    """

    CARRIED: Final[tuple[str, ...]] = ("model", "name", "provider", "turn")

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def fill(self, ev: Event) -> Event:
        sid = ev.span_id
        if sid is None:
            return ev
        name = ev.event
        if name.endswith(".start"):
            kept = {k: ev.data[k] for k in self.CARRIED if k in ev.data}
            if kept:
                self._open[sid] = kept
        elif name.endswith(".stop"):
            carried = self._open.pop(sid, None)
            if carried is not None and any(k not in ev.data for k in carried):
                return msgspec.structs.replace(ev, data={**carried, **ev.data})
        return ev
