"""What each provider API puts where: request parameters, usage, finish reason.

Pure functions over decoded JSON, shared by the OpenAI and Anthropic taps.
Usage the provider did not send stays ``None``: a missing count is unknown,
not zero.
"""

from __future__ import annotations

from typing import Any, Final

# Request keys recorded as span parameters (``tools`` becomes their names).
_PARAM_KEYS: Final = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stream",
    "n",
    "seed",
    "stop",
    "stop_sequences",
    "presence_penalty",
    "frequency_penalty",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "service_tier",
    "stream_options",
    "store",
    "truncation",
)


def endpoint_of(path: str) -> str:
    """``chat.completions``, ``responses``, ``messages``, ... from a URL path."""
    p = path.rstrip("/")
    for suffix, name in (
        ("/chat/completions", "chat.completions"),
        ("/responses", "responses"),
        ("/messages/count_tokens", "messages.count_tokens"),
        ("/messages", "messages"),
        ("/completions", "completions"),
        ("/embeddings", "embeddings"),
    ):
        if p.endswith(suffix):
            return name
    tail = [s for s in p.split("/") if s and not s.startswith("v1")]
    return ".".join(tail) or "/"


def tool_names(tools: Any) -> list[str]:
    """Names of the tools offered in a request, in order (any of the three APIs)."""
    if not isinstance(tools, list):
        return []
    out: list[str] = []
    for t in tools:
        if not isinstance(t, dict):
            continue
        fn = t.get("function")
        name = fn.get("name") if isinstance(fn, dict) else t.get("name")
        if not isinstance(name, str):
            name = t.get("type")  # built-in tools: web_search, code_interpreter...
        if isinstance(name, str):
            out.append(name)
    return out


def request_params(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in _PARAM_KEYS:
        if key in body:
            params[key] = body[key]
    if "tools" in body:
        params["tools"] = tool_names(body["tools"])
    return params


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _get(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


class Usage:
    """Token counts as the asynctrace vocabulary has them (``cached`` is part of ``input``)."""

    __slots__ = ("cached", "input", "output", "reasoning")

    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None
        self.cached: int | None = None
        self.reasoning: int | None = None

    def openai(self, usage: Any) -> None:
        """Chat Completions (prompt/completion) or Responses (input/output) usage."""
        if not isinstance(usage, dict):
            return
        self.input = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        self.output = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
        self.cached = _int(_get(details, "cached_tokens"))
        out_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
        self.reasoning = _int(_get(out_details, "reasoning_tokens"))

    def anthropic(self, usage: Any) -> None:
        """Anthropic usage; ``input_tokens`` there excludes cache reads and writes."""
        if not isinstance(usage, dict):
            return
        inp = _int(usage.get("input_tokens"))
        read = _int(usage.get("cache_read_input_tokens"))
        written = _int(usage.get("cache_creation_input_tokens"))
        if inp is not None:
            self.input = inp + (read or 0) + (written or 0)
        if read is not None:
            self.cached = read
        out = _int(usage.get("output_tokens"))
        if out is not None:
            self.output = out  # message_delta carries the cumulative count

    def fields(self) -> dict[str, int | None]:
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cached_tokens": self.cached,
            "reasoning_tokens": self.reasoning,
        }


class Outcome:
    """What a response said, filled from one JSON body or from stream events."""

    __slots__ = ("content_seen", "finish_reason", "model", "response_id", "usage")

    def __init__(self) -> None:
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.response_id: str | None = None
        self.usage = Usage()
        self.content_seen = False

    def _model(self, obj: Any) -> None:
        if isinstance(obj, dict):
            if isinstance(obj.get("model"), str):
                self.model = obj["model"]
            if isinstance(obj.get("id"), str) and self.response_id is None:
                self.response_id = obj["id"]

    # ----------------------------------------------------------- whole bodies

    def body(self, endpoint: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        self._model(obj)
        if endpoint == "messages":
            self.usage.anthropic(obj.get("usage"))
            if isinstance(obj.get("stop_reason"), str):
                self.finish_reason = obj["stop_reason"]
        elif endpoint == "responses":
            self._response_object(obj)
        else:
            self.usage.openai(obj.get("usage"))
            choices = obj.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                reason = choices[0].get("finish_reason")
                if isinstance(reason, str):
                    self.finish_reason = reason

    def _response_object(self, obj: dict[str, Any]) -> None:
        self._model(obj)
        self.usage.openai(obj.get("usage"))
        reason = _get(obj, "incomplete_details", "reason")
        status = obj.get("status")
        if isinstance(reason, str):
            self.finish_reason = reason
        elif isinstance(status, str) and status != "in_progress":
            self.finish_reason = status

    # ----------------------------------------------------------- stream events

    def event(self, endpoint: str, obj: Any) -> bool:
        """Take one decoded stream event; True when it carries content (a token)."""
        if not isinstance(obj, dict):
            return False
        if endpoint == "messages":
            return self._anthropic_event(obj)
        if endpoint == "responses":
            kind = obj.get("type")
            if isinstance(obj.get("response"), dict):
                self._response_object(obj["response"])
            return isinstance(kind, str) and kind.endswith(".delta")
        self._model(obj)
        if "usage" in obj and obj["usage"] is not None:
            self.usage.openai(obj["usage"])
        content = False
        choices = obj.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict):
                    continue
                if isinstance(choice.get("finish_reason"), str):
                    self.finish_reason = choice["finish_reason"]
                delta = choice.get("delta")
                if isinstance(delta, dict) and any(
                    delta.get(k) for k in ("content", "tool_calls", "refusal", "reasoning_content")
                ):
                    content = True
        return content

    def _anthropic_event(self, obj: dict[str, Any]) -> bool:
        kind = obj.get("type")
        if kind == "message_start":
            msg = obj.get("message")
            self._model(msg)
            self.usage.anthropic(_get(msg, "usage"))
        elif kind == "message_delta":
            self.usage.anthropic(obj.get("usage"))
            reason = _get(obj, "delta", "stop_reason")
            if isinstance(reason, str):
                self.finish_reason = reason
        return kind == "content_block_delta"
