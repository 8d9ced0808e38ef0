"""Progressive disclosure: how each model call's context differs from the previous one.

Per captured call (in order): the tools offered, which were added and which
removed since the previous call, the number of messages, the context size
(request body bytes; input tokens where the provider reported them) with
the growth since the previous call, and the system prompt when it changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec

from ._requests import LLMRequest, requests
from ._view import Line, View

__all__ = ["DisclosureStep", "disclosure", "disclosure_view"]


class DisclosureStep(msgspec.Struct, kw_only=True):
    """One model call in the disclosure timeline."""

    index: int
    model: str | None
    endpoint: str | None
    tools: list[str]
    tools_added: list[str]
    tools_removed: list[str]
    messages: int | None
    messages_added: int | None
    context_bytes: int | None
    context_bytes_growth: int | None
    input_tokens: int | None
    input_tokens_growth: int | None
    system_prompt: str | None
    """The system prompt, on the first call and whenever it changed; else None."""
    system_changed: bool


DisclosureStep.__module__ = "asynctrace"


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return None


def _tool_names(tools: Any) -> list[str]:
    out: list[str] = []
    for t in tools if isinstance(tools, list) else []:
        if isinstance(t, dict):
            fn = t.get("function")
            name = fn.get("name") if isinstance(fn, dict) else t.get("name", t.get("type"))
            if isinstance(name, str):
                out.append(name)
    return out


def _shape(body: Any) -> tuple[list[str], int | None, str | None]:
    """(tools, number of messages, system prompt) of a request in any of the three APIs."""
    if not isinstance(body, dict):
        return [], None, None
    tools = _tool_names(body.get("tools"))
    system = _text(body.get("system")) if "system" in body else _text(body.get("instructions"))
    msgs = body.get("messages", body.get("input"))
    count: int | None = None
    if isinstance(msgs, list):
        count = len(msgs)
        for m in msgs:
            if isinstance(m, dict) and m.get("role") in ("system", "developer") and system is None:
                system = _text(m.get("content"))
    elif isinstance(msgs, str):
        count = 1
    return tools, count, system


def _growth(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


def steps(reqs: list[LLMRequest]) -> list[DisclosureStep]:
    out: list[DisclosureStep] = []
    prev_tools: list[str] = []
    prev_count: int | None = None
    prev_bytes: int | None = None
    prev_tokens: int | None = None
    prev_system: str | None = None
    for r in reqs:
        tools, count, system = _shape(r.json())
        size = None if r.body is None else len(r.body)
        first = not out
        changed = not first and system != prev_system
        out.append(
            DisclosureStep(
                index=r.index,
                model=r.model,
                endpoint=r.endpoint,
                tools=tools,
                tools_added=[t for t in tools if t not in prev_tools] if not first else list(tools),
                tools_removed=[t for t in prev_tools if t not in tools],
                messages=count,
                messages_added=_growth(count, prev_count),
                context_bytes=size,
                context_bytes_growth=_growth(size, prev_bytes),
                input_tokens=r.input_tokens,
                input_tokens_growth=_growth(r.input_tokens, prev_tokens),
                system_prompt=system if first or changed else None,
                system_changed=changed,
            )
        )
        prev_tools, prev_count, prev_bytes, prev_tokens, prev_system = tools, count, size, r.input_tokens, system
    return out


def disclosure(path: str | os.PathLike[str]) -> list[DisclosureStep]:
    """The disclosure timeline of the captured calls in the trace at *path*."""
    return steps(requests(path))


def _signed(n: int | None, unit: str = "") -> str:
    return "" if n is None else f" ({'+' if n >= 0 else ''}{n}{unit})"


def _clip(s: str, n: int = 100) -> str:
    one = " ".join(s.split())
    return one if len(one) <= n else one[: n - 1] + "…"


def disclosure_view(path: str | os.PathLike[str]) -> View:
    items = disclosure(path)

    def lines() -> Iterator[Line]:
        if not items:
            yield [("(no captured model calls in this trace)", "dim")]
        for s in items:
            yield [(f"#{s.index} ", "dim"), (s.model or "?", "name"), (f"  {s.endpoint}", "dim")]
            ctx = f"  messages {s.messages}{_signed(s.messages_added)}" if s.messages is not None else "  messages ?"
            size = f"  context {s.context_bytes} B{_signed(s.context_bytes_growth, ' B')}" if s.context_bytes is not None else ""
            tok = f"  {s.input_tokens} tokens{_signed(s.input_tokens_growth)}" if s.input_tokens is not None else ""
            yield [(ctx + size + tok, "num")]
            tools: Line = [(f"  tools {len(s.tools)}", "")]
            if s.tools_added:
                tools.append(("  + " + ", ".join(s.tools_added), "ok"))
            if s.tools_removed:
                tools.append(("  - " + ", ".join(s.tools_removed), "error"))
            yield tools
            if s.system_prompt is not None:
                label = "  system changed: " if s.system_changed else "  system: "
                yield [(label, "warn" if s.system_changed else "dim"), (_clip(s.system_prompt), "")]
            elif s.system_changed:
                yield [("  system prompt removed", "warn")]

    return View(lines, lambda: [msgspec.structs.asdict(s) for s in items])
