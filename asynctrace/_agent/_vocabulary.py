"""The agent vocabulary: llm, tool, turn and run spans; decision, error, checkpoint events.

Each helper is a thin layer over ``span()`` and the point-event routing, so
everything said about spans (pairing, cancellation, propagation) holds.
Spans are opened with ``async with`` / ``with``; point events come as an
async function that waits while a mailbox is full and a ``*_nowait`` twin.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic_ns
from typing import Any

from .._context._span import NOOP_SPAN, NoopSpan, Span, current_span, offer, offer_nowait
from .._context._state import get_collectors
from .._events import _clock
from .._events._schema import Event
from ._cost import DEFAULT_PRICES, PriceTable

# Tool results are previews: the full value belongs to the tool, not the trace.
DEFAULT_RESULT_CHARS = 2000


def _count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def _usage(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    prices: PriceTable | None,
) -> dict[str, Any]:
    i = _count("input_tokens", input_tokens)
    o = _count("output_tokens", output_tokens)
    c = _count("cached_tokens", cached_tokens)
    if c > i:
        raise ValueError(f"cached_tokens ({c}) cannot exceed input_tokens ({i})")
    table = DEFAULT_PRICES if prices is None else prices
    cost = None if model is None else table.cost_usd(model, i, o, c)
    return {"input_tokens": i, "output_tokens": o, "cached_tokens": c, "cost_usd": cost}


def clip(value: Any, limit: int = DEFAULT_RESULT_CHARS) -> Any:
    """A string longer than *limit* is cut, with a note of its full length."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}…[{len(value)} chars]"
    return value


class LLMSpan(Span):
    """An ``llm`` span: ``async with asynctrace.llm("gpt-4o", provider="openai") as call:``."""

    __slots__ = ("_model", "_prices")

    def __init__(
        self,
        name: str,
        attrs: dict[str, Any],
        collectors: tuple[Any, ...],
        model: str,
        prices: PriceTable | None,
    ) -> None:
        super().__init__(name, "llm", attrs, collectors)
        self._model = model
        self._prices = prices

    def first_token(self) -> None:
        """Mark the first streamed token: records ``ttft_ns`` from the span's start."""
        if self.span_id and "ttft_ns" not in self._attrs:
            self.set(ttft_ns=monotonic_ns() - self._start_mono)

    def usage(self, input_tokens: int = 0, output_tokens: int = 0, cached_tokens: int = 0) -> None:
        """Record token counts; the cost is computed now from the price table.

        ``cached_tokens`` is the part of ``input_tokens`` served from a cache.
        An unknown model gets ``cost_usd: null``, never 0.
        """
        self.set(**_usage(self._model, input_tokens, output_tokens, cached_tokens, self._prices))

    def finish(self, reason: str | None = None, output: Any = None) -> None:
        """Record the finish reason and (a preview of) the output."""
        if reason is not None:
            self.set(finish_reason=reason)
        if output is not None:
            self.set(output=clip(output))


class NoopLLMSpan(NoopSpan):
    __slots__ = ()

    def first_token(self) -> None:
        return None

    def usage(self, input_tokens: int = 0, output_tokens: int = 0, cached_tokens: int = 0) -> None:
        _usage(None, input_tokens, output_tokens, cached_tokens, None)  # same validation

    def finish(self, reason: str | None = None, output: Any = None) -> None:
        return None


class ToolSpan(Span):
    """A ``tool`` span: ``async with asynctrace.tool("search", args={"q": q}) as t:``."""

    __slots__ = ("_result_chars",)

    def __init__(
        self, name: str, attrs: dict[str, Any], collectors: tuple[Any, ...], result_chars: int
    ) -> None:
        super().__init__(name, "tool", attrs, collectors)
        self._result_chars = result_chars

    def result(self, value: Any) -> None:
        """Record (a clipped preview of) the tool's result."""
        self.set(result=clip(value, self._result_chars))


class NoopToolSpan(NoopSpan):
    __slots__ = ()

    def result(self, value: Any) -> None:
        return None


NOOP_LLM = NoopLLMSpan()
NOOP_TOOL = NoopToolSpan()


def llm(
    model: str,
    *,
    provider: str | None = None,
    params: Mapping[str, Any] | None = None,
    input: Any = None,
    name: str | None = None,
    prices: PriceTable | None = None,
    **attrs: Any,
) -> LLMSpan | NoopLLMSpan:
    """Open an ``llm`` span for one model call.

    ``call.first_token()`` when streaming starts, ``call.usage(...)`` with the
    token counts (computes ``cost_usd``), ``call.finish(reason, output)``.
    """
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    collectors = get_collectors()
    if not collectors:
        return NOOP_LLM
    data: dict[str, Any] = {"model": model, **attrs}
    if provider is not None:
        data["provider"] = provider
    if params is not None:
        data["params"] = dict(params)
    if input is not None:
        data["input"] = input
    return LLMSpan(name or model, data, collectors, model, prices)


def tool(
    name: str,
    *,
    args: Any = None,
    tool_call_id: str | None = None,
    result_chars: int = DEFAULT_RESULT_CHARS,
    **attrs: Any,
) -> ToolSpan | NoopToolSpan:
    """Open a ``tool`` span; an exception inside marks it ``error`` with its type and message."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool name must be a non-empty string, got {name!r}")
    collectors = get_collectors()
    if not collectors:
        return NOOP_TOOL
    data: dict[str, Any] = dict(attrs)
    if args is not None:
        data["args"] = args
    if tool_call_id is not None:
        data["tool_call_id"] = tool_call_id
    return ToolSpan(name, data, collectors, result_chars)


def turn(index: int, *, name: str | None = None, **attrs: Any) -> Span | NoopSpan:
    """Open a ``turn`` span: one step of the agent loop (model call + tool calls)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"turn index must be a non-negative int, got {index!r}")
    collectors = get_collectors()
    if not collectors:
        return NOOP_SPAN
    return Span(name or "turn", "turn", {"turn": index, **attrs}, collectors)


def run(name: str, *, input: Any = None, **attrs: Any) -> Span | NoopSpan:
    """Open a ``run`` span: one whole agent run."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"run name must be a non-empty string, got {name!r}")
    collectors = get_collectors()
    if not collectors:
        return NOOP_SPAN
    data = dict(attrs)
    if input is not None:
        data["input"] = input
    return Span(name, "run", data, collectors)


# ---------------------------------------------------------------- point events


def _point(name: str, data: dict[str, Any], *, duration_ns: int | None = None, status: str | None = None) -> Event:
    current = current_span()  # never a stopped span
    return Event(
        ts_ns=_clock.now_ns(),
        event=name,
        parent_span_id=None if current is None else current.span_id,
        duration_ns=duration_ns,
        status=status,
        data=data,
    )


def _status(ok: bool) -> str:
    return "ok" if ok else "error"


def _llm_call_event(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    duration_ns: int | None,
    ok: bool,
    prices: PriceTable | None,
    extra: dict[str, Any],
) -> Event:
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    data = {"model": model, **_usage(model, input_tokens, output_tokens, cached_tokens, prices)}
    data.update({k: v for k, v in extra.items() if v is not None})
    return _point("llm.call", data, duration_ns=duration_ns, status=_status(ok))


def _tool_call_event(
    name: str, args: Any, result: Any, duration_ns: int | None, ok: bool, extra: dict[str, Any]
) -> Event:
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool name must be a non-empty string, got {name!r}")
    data: dict[str, Any] = {"name": name}
    if args is not None:
        data["args"] = args
    if result is not None:
        data["result"] = clip(result)
    data.update({k: v for k, v in extra.items() if v is not None})
    return _point("tool.call", data, duration_ns=duration_ns, status=_status(ok))


def _decision_event(decision_type: str, outcome: Any, reason: str | None, extra: dict[str, Any]) -> Event:
    data: dict[str, Any] = {"decision_type": decision_type, "outcome": outcome, **extra}
    if reason is not None:
        data["reason"] = reason
    return _point("decision", data)


def _error_event(
    error_type: str,
    message: str,
    attempted: bool | None,
    strategy: str | None,
    success: bool | None,
    extra: dict[str, Any],
) -> Event:
    data: dict[str, Any] = {"error_type": error_type, "message": message, **extra}
    if attempted is not None or strategy is not None or success is not None:
        data["recovery"] = {"attempted": bool(attempted), "strategy": strategy, "success": success}
    return _point("error", data)


def _checkpoint_event(phase: str, status: str, extra: dict[str, Any]) -> Event:
    return _point("checkpoint", {"phase": phase, "status": status, **extra})


def _send_nowait(ev: Event) -> None:
    collectors = get_collectors()
    if collectors:
        offer_nowait(collectors, ev)


async def _send(ev: Event) -> None:
    collectors = get_collectors()
    if collectors:
        await offer(collectors, ev)


def llm_call_nowait(
    model: str,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    duration_ns: int | None = None,
    ok: bool = True,
    prices: PriceTable | None = None,
    **data: Any,
) -> None:
    """Record a finished model call as one ``llm.call`` event (cost computed now)."""
    _send_nowait(
        _llm_call_event(model, input_tokens, output_tokens, cached_tokens, duration_ns, ok, prices, data)
    )


async def llm_call(
    model: str,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    duration_ns: int | None = None,
    ok: bool = True,
    prices: PriceTable | None = None,
    **data: Any,
) -> None:
    """Like ``llm_call_nowait``, waiting while a mailbox is full."""
    await _send(
        _llm_call_event(model, input_tokens, output_tokens, cached_tokens, duration_ns, ok, prices, data)
    )


def tool_call_nowait(
    name: str,
    *,
    args: Any = None,
    result: Any = None,
    duration_ns: int | None = None,
    ok: bool = True,
    **data: Any,
) -> None:
    """Record a finished tool call as one ``tool.call`` event."""
    _send_nowait(_tool_call_event(name, args, result, duration_ns, ok, data))


async def tool_call(
    name: str,
    *,
    args: Any = None,
    result: Any = None,
    duration_ns: int | None = None,
    ok: bool = True,
    **data: Any,
) -> None:
    """Like ``tool_call_nowait``, waiting while a mailbox is full."""
    await _send(_tool_call_event(name, args, result, duration_ns, ok, data))


def decision_nowait(decision_type: str, outcome: Any, *, reason: str | None = None, **data: Any) -> None:
    """Record an agent decision point (which tool, whether to stop, ...)."""
    _send_nowait(_decision_event(decision_type, outcome, reason, data))


async def decision(decision_type: str, outcome: Any, *, reason: str | None = None, **data: Any) -> None:
    await _send(_decision_event(decision_type, outcome, reason, data))


def error_nowait(
    error_type: str,
    message: str,
    *,
    attempted: bool | None = None,
    strategy: str | None = None,
    success: bool | None = None,
    **data: Any,
) -> None:
    """Record an error and what was done about it (``recovery``); flushes at once."""
    _send_nowait(_error_event(error_type, message, attempted, strategy, success, data))


async def error(
    error_type: str,
    message: str,
    *,
    attempted: bool | None = None,
    strategy: str | None = None,
    success: bool | None = None,
    **data: Any,
) -> None:
    await _send(_error_event(error_type, message, attempted, strategy, success, data))


def checkpoint_nowait(phase: str, status: str = "done", **data: Any) -> None:
    """Record a phase checkpoint; the writer flushes the file at once after it."""
    _send_nowait(_checkpoint_event(phase, status, data))


async def checkpoint(phase: str, status: str = "done", **data: Any) -> None:
    await _send(_checkpoint_event(phase, status, data))
