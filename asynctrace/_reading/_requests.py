"""The model calls an integration captured, read back from a trace file.

Each ``llm`` span that has an ``llm.request`` event (written by
``asynctrace.integrations.openai`` / ``.anthropic``) becomes one
``LLMRequest``, in the order the calls started.  Hand-written ``llm`` spans
have no request event and are not listed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec

from .._events._llmbody import LLM_REQUEST, LLM_RESPONSE, join_body, route
from . import _format as F
from ._reader import read
from ._view import Line, View

__all__ = ["LLMRequest", "requests", "requests_view"]


class LLMRequest(msgspec.Struct, kw_only=True):
    """One captured HTTP call of a model SDK (one attempt, retries are their own)."""

    index: int
    """0-based position among the captured calls of the file."""
    span_id: str
    ts_ns: int
    provider: str | None
    model: str | None
    """The model asked for; ``response_model`` is the one that answered."""
    response_model: str | None = None
    endpoint: str | None = None
    method: str = "POST"
    base_url: str = ""
    path: str = ""
    headers: dict[str, str] = {}
    """Request headers as recorded (never the key-bearing ones)."""
    key_in: str | None = None
    """Which header carried the API key (its value is never recorded)."""
    body: bytes | None = None
    """The request body, exactly as sent when ``body_problem`` is None."""
    body_problem: str | None = None
    """Why ``body`` is not byte for byte what was sent (truncated, redacted, missing)."""
    stream: bool = False
    attempt: int | None = None
    http_status: int | None = None
    status: str | None = None
    duration_ns: int | None = None
    ttft_ns: int | None = None
    chunks: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    request_id: str | None = None
    response_end: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    response_headers: dict[str, str] = {}
    response_body: bytes | None = None
    response_problem: str | None = None

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def json(self) -> Any:
        """The request body decoded as JSON (None when there is none or it is not JSON)."""
        if self.body is None:
            return None
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None

    def summary(self) -> dict[str, Any]:
        """The JSON-ready listing row (no bodies)."""
        out = msgspec.structs.asdict(self)
        for key in ("body", "response_body"):
            out.pop(key)
        out["body_bytes"] = None if self.body is None else len(self.body)
        return out


LLMRequest.__module__ = "asynctrace"

_INT_KEYS = (
    "http_status",
    "ttft_ns",
    "chunks",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
)
_STR_KEYS = ("response_model", "finish_reason", "request_id", "response_end", "error_type", "error_message")


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _stop_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What the stop says, each value of the type the field has (else None)."""
    out: dict[str, Any] = {k: _int(data.get(k)) for k in _INT_KEYS}
    out.update({k: _str(data.get(k)) for k in _STR_KEYS})
    cost = data.get("cost_usd")
    out["cost_usd"] = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
    return out


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def requests(path: str | os.PathLike[str]) -> list[LLMRequest]:
    """The captured model calls of the trace at *path*, in the order they started."""
    starts: dict[str, tuple[int, dict[str, Any]]] = {}
    found: dict[str, dict[str, Any]] = {}
    for ev in read(path):
        name = ev.event
        if name == "llm.start" and ev.span_id:
            starts[ev.span_id] = (ev.ts_ns, ev.data)
        elif name == LLM_REQUEST and ev.parent_span_id in starts:
            sid = ev.parent_span_id
            ts, start = starts[sid]
            d = ev.data
            body, problem = join_body(d)
            found[sid] = {
                "span_id": sid,
                "ts_ns": ts,
                "provider": _str(d.get("provider")) or _str(start.get("provider")),
                "model": _str(start.get("model")),
                "endpoint": _str(start.get("endpoint")),
                "method": _str(d.get("method")) or "POST",
                "base_url": _str(d.get("base_url")) or "",
                "path": route(_str(d.get("url")) or "", _str(d.get("base_url")) or ""),
                "headers": {k: v for k, v in (d.get("headers") or {}).items() if isinstance(v, str)},
                "key_in": _str(d.get("key_in")),
                "body": body,
                "body_problem": problem,
                "stream": start.get("stream") is True,
                "attempt": _int(start.get("attempt")),
            }
        elif name == LLM_RESPONSE and ev.parent_span_id in found:
            d = ev.data
            body, problem = join_body(d)
            row = found[ev.parent_span_id]
            row["response_body"] = body
            row["response_problem"] = problem
            row["response_headers"] = {k: v for k, v in (d.get("headers") or {}).items() if isinstance(v, str)}
        elif name == "llm.stop" and ev.span_id in found:
            row = found[ev.span_id]
            row["status"] = ev.status
            row["duration_ns"] = ev.duration_ns
            row.update(_stop_fields(ev.data))
    out: list[LLMRequest] = []
    for i, row in enumerate(sorted(found.values(), key=lambda r: r["ts_ns"])):
        out.append(LLMRequest(index=i, **row))
    return out


def requests_view(path: str | os.PathLike[str]) -> View:
    """One line per captured call: index, time, provider, model, endpoint,
    tokens, cost, duration, status."""
    reqs = requests(path)

    def lines() -> Iterator[Line]:
        if not reqs:
            yield [("(no captured model calls in this trace)", "dim")]
            return
        t0 = reqs[0].ts_ns
        for r in reqs:
            status = r.status or "open"
            if r.http_status is not None:
                status += f" {r.http_status}"
            if r.response_end not in (None, "complete"):
                status += f" {r.response_end}"
            tokens = f"{F.tokens(r.input_tokens)}→{F.tokens(r.output_tokens)}"
            line: Line = [
                (f"#{r.index:<3}", "dim"),
                (f"{F.offset_cell(r.ts_ns - t0)} ", "dim"),
                (f"{r.provider or '?':<9} ", ""),
                (f"{r.model or '?':<22} ", "name"),
                (f"{r.endpoint or '?':<16} ", "dim"),
                (f"{tokens:>13} ", "num"),
                (f"{F.cost(r.cost_usd) if r.cost_usd is not None else '-':>9} ", "cost"),
                (f"{F.duration(r.duration_ns):>8} ", "num"),
                (status, "ok" if r.status == "ok" else "error" if r.status == "error" else "warn"),
            ]
            if r.attempt:
                line.append((f"  retry {r.attempt}", "warn"))
            yield line

    return View(lines, lambda: [r.summary() for r in reqs], is_list=True)
