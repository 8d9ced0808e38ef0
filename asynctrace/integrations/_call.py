"""One captured HTTP call: the ``llm`` span, the request and response events.

Sans-IO: the transports (``_transport``) feed it the request, the response
head and each body chunk as the SDK pulls it, and tell it how the body
ended.  It never raises into the SDK: a failure to understand a body is
recorded as such and the bytes pass on untouched.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import threading
import zlib
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from .._agent._cost import DEFAULT_PRICES, PriceTable
from .._agent._vocabulary import llm
from .._context._span import NoopSpan, Span, span
from .._events._llmbody import LLM_REQUEST, LLM_RESPONSE, body_fields
from .._processing._redact import redact_text
from ._providers import Outcome, endpoint_of, request_params

ENV_CAPTURE: Final = "ASYNCTRACE_CAPTURE_CONTENT"
DEFAULT_MAX_BODY_BYTES: Final = 1_048_576
DEFAULT_MAX_RESPONSE_BYTES: Final = 262_144
# Room in an event for everything but the body (url, headers, keys).
_EVENT_OVERHEAD: Final = 8192
# The full non-streamed body is kept (beside the recorded prefix) up to this
# size to read its usage: the SDK holds the same bytes in memory anyway.
_PARSE_LIMIT: Final = 16 * 1_048_576

# Never recorded, whatever the redactor says.
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
# Transport details that curl and the replay set themselves.
_NOISE_HEADERS: Final = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "transfer-encoding", "keep-alive"}
)
_RESPONSE_HEADERS: Final = ("content-type", "x-request-id", "request-id", "openai-processing-ms")

# How a body ended; the span's status follows from it.
COMPLETE: Final = "complete"
CLOSED_EARLY: Final = "closed_early"
GARBAGE_COLLECTED: Final = "garbage_collected"
CANCELLED: Final = "cancelled"
ERROR: Final = "error"


_PENDING: set[asyncio.Task[None]] = set()


async def _aexit(sp: Span | NoopSpan, exc: BaseException) -> None:
    sp.__exit__(type(exc), exc, None)


def end_span(sp: Span | NoopSpan, exc: BaseException | None) -> None:
    """``sp.__exit__`` with *exc*, from wherever the body ended.

    A span's status is classified with anyio, which needs to run inside an
    async task; a body may end in a loop callback (garbage collection) or a
    plain thread (sync clients).  There the exit runs in a task of its own.
    """
    if exc is None:
        sp.__exit__(None, None, None)
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_aexit(sp, exc))
        return
    if asyncio.current_task(loop) is not None:
        sp.__exit__(type(exc), exc, None)
        return
    task = loop.create_task(_aexit(sp, exc))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_TERMINAL_EVENTS: Final = frozenset(
    {"message_stop", "response.completed", "response.failed", "response.incomplete", "error"}
)


class HTTPStatusError(Exception):
    """The reason recorded on the span of a call answered with HTTP >= 400."""


def capture_default() -> bool:
    value = os.environ.get(ENV_CAPTURE, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError):
        return None


class TapConfig:
    """What ``instrument()`` / ``http_client()`` were asked to record."""

    __slots__ = (
        "base_url",
        "capture_content",
        "include_usage",
        "max_body_bytes",
        "max_response_bytes",
        "prices",
        "provider",
    )

    def __init__(
        self,
        provider: str,
        *,
        base_url: object = None,
        capture_content: bool | None = None,
        include_usage: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prices: PriceTable | None = None,
    ) -> None:
        for name, value in (("max_body_bytes", max_body_bytes), ("max_response_bytes", max_response_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if prices is not None and not isinstance(prices, PriceTable):
            raise TypeError(f"prices must be a PriceTable, got {type(prices).__name__}")
        self.provider = provider
        self.base_url = None if base_url is None else str(base_url).rstrip("/")
        self.capture_content = capture_default() if capture_content is None else bool(capture_content)
        self.include_usage = bool(include_usage)
        self.max_body_bytes = max_body_bytes
        self.max_response_bytes = max_response_bytes
        self.prices = prices


def add_include_usage(body: bytes, parsed: Any) -> bytes | None:
    """A chat stream request that does not ask for usage, asking for it; else None."""
    if not (isinstance(parsed, dict) and parsed.get("stream") is True):
        return None
    options = parsed.get("stream_options")
    if isinstance(options, dict) and "include_usage" in options:
        return None
    parsed["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    # The SDKs' own encoding (compact, UTF-8 as is).
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()


class _Decoder:
    """Content-Encoding undone incrementally for reading (the SDK gets the raw bytes)."""

    __slots__ = ("_z", "encoding")

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z: Any = None
        if encoding == "gzip":
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()

    @property
    def readable(self) -> bool:
        return self.encoding in ("", "identity") or self._z is not None

    def __call__(self, chunk: bytes) -> bytes:
        if self._z is None:
            return chunk
        try:
            out: bytes = self._z.decompress(chunk)
            return out
        except zlib.error:
            self._z = None
            self.encoding = "undecodable"
            return b""


class Call:
    """The state of one HTTP request/response, from the request to the body's end."""

    __slots__ = (
        "_buf",
        "_content_ok",
        "_decoder",
        "_endpoint",
        "_full",
        "_head",
        "_lock",
        "_loop",
        "_model",
        "_outcome",
        "_recorded",
        "_response_bytes",
        "_sse",
        "_sse_data",
        "_status_code",
        "_terminal",
        "cfg",
        "chunks",
        "done",
        "span",
        "stream",
    )

    def __init__(
        self, cfg: TapConfig, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> None:
        self.cfg = cfg
        self.done = False
        self._lock = threading.Lock()
        self._outcome = Outcome()
        self._decoder = _Decoder("")
        self._recorded = bytearray()
        self._full = bytearray()
        self._response_bytes = 0
        self._sse = bytearray()
        self._sse_data: list[bytes] = []
        self._buf: list[bytes] = []
        self._status_code = 0
        # The stream's last event arrived: closing it now is not abandoning it
        # (some SDK releases stop reading at [DONE] and close).
        self._terminal = False
        self._head: dict[str, str] = {}
        self._content_ok = True
        self.chunks = 0
        self.stream = False
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        base, path = self._split(url)
        self._endpoint = endpoint_of(path.split("?", 1)[0])
        parsed = _json(body) if body is not None else None
        model = parsed.get("model") if isinstance(parsed, dict) else None
        self._model = model if isinstance(model, str) and model else None
        params = request_params(parsed) if isinstance(parsed, dict) else {}
        attrs: dict[str, Any] = {
            "provider": cfg.provider,
            "endpoint": self._endpoint,
            "base_url": base,
            "stream": params.get("stream") is True,
        }
        attempt = headers.get("x-stainless-retry-count")
        if attempt is not None and attempt.isdigit():
            attrs["attempt"] = int(attempt)
        # Started in a copy of the caller's context: the call's span is the
        # parent of its own events only, never of what the agent does while
        # it reads the stream.
        ctx = contextvars.copy_context()
        if self._model is not None:
            opened: Span | NoopSpan = ctx.run(llm, self._model, params=params, **attrs)
        else:
            opened = ctx.run(span, f"{cfg.provider} {self._endpoint}", kind="llm", params=params, **attrs)
        self.span = opened
        ctx.run(opened.__enter__)
        self._request_event(method, base, path, headers, body)

    def _split(self, url: str) -> tuple[str, str]:
        base = self.cfg.base_url
        if base and url.startswith(base + "/"):
            return base, url[len(base) :]
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        return f"{scheme}://{host}", slash + path

    def _request_event(
        self, method: str, base: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> None:
        if not self.span.is_recording:
            return
        kept: dict[str, str] = {}
        auth = None
        for name, value in headers.items():
            low = name.lower()
            if low in SECRET_HEADERS:
                auth = auth or low
            elif low not in _NOISE_HEADERS:
                kept[low] = value
        data: dict[str, Any] = {
            "provider": self.cfg.provider,
            "method": method,
            "base_url": base,
            # The whole URL, not the path alone: a string starting with "/"
            # is a file path to the redactor.
            "url": base + path,
            "headers": kept,
            "key_in": auth,
        }
        if not self.cfg.capture_content:
            data["body_omitted"] = "capture_content is off"
        elif body is None:
            data["body_omitted"] = "the request body was streamed"
        else:
            text = body.decode("utf-8", "replace")
            redacted = redact_text(text)
            if redacted != text:
                body = redacted.encode()
                data["body_redacted"] = True
            limit = max(0, self.cfg.max_body_bytes - _EVENT_OVERHEAD)
            fields = body_fields(body, limit)
            # JSON escaping makes the line longer than the body: keep it whole
            # only if the encoded chunks fit the event cap.
            chunks = fields.get("body")
            while chunks and len(msgspec.json.encode(chunks)) + _EVENT_OVERHEAD > self.cfg.max_body_bytes:
                limit = limit * 3 // 4
                fields = body_fields(body, limit)
                chunks = fields.get("body")
            data.update(fields)
        self.span.event(LLM_REQUEST, **data)

    # ------------------------------------------------------------------ response

    def response(self, status_code: int, headers: Mapping[str, str]) -> None:
        """The response head arrived."""
        self._status_code = status_code
        ctype = headers.get("content-type", "")
        self.stream = ctype.startswith("text/event-stream")
        self._decoder = _Decoder(headers.get("content-encoding", "").strip().lower())
        self.span.set(http_status=status_code)
        rid = headers.get("x-request-id") or headers.get("request-id")
        if rid:
            self.span.set(request_id=rid)
        self._head = {k: headers[k] for k in _RESPONSE_HEADERS if k in headers}

    def feed(self, raw: bytes) -> None:
        """A body chunk, as the SDK is about to receive it."""
        try:
            self._feed(raw)
        except Exception:  # a body we cannot read must not break the call
            self._content_ok = False

    def _feed(self, raw: bytes) -> None:
        chunk = self._decoder(raw)
        if not chunk:
            return
        self._response_bytes += len(chunk)
        room = self.cfg.max_response_bytes - len(self._recorded)
        if room > 0:
            self._recorded += chunk[:room]
        if not self.stream:
            if len(self._full) + len(chunk) <= _PARSE_LIMIT:
                self._full += chunk
            return
        self._sse += chunk
        while True:
            nl = self._sse.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._sse[:nl]).rstrip(b"\r")
            del self._sse[: nl + 1]
            if not line:
                self._dispatch()
            elif line.startswith(b"data:"):
                value = line[5:]
                self._sse_data.append(value[1:] if value.startswith(b" ") else value)

    def _dispatch(self) -> None:
        if not self._sse_data:
            return
        payload = b"\n".join(self._sse_data)
        self._sse_data = []
        if payload.strip() == b"[DONE]":
            self._terminal = True
            return
        self.chunks += 1
        obj = _json(payload)
        if isinstance(obj, dict) and obj.get("type") in _TERMINAL_EVENTS:
            self._terminal = True
        if self._outcome.event(self._endpoint, obj):
            first = getattr(self.span, "first_token", None)
            if first is not None:
                first()

    # ------------------------------------------------------------------ the end

    def finish(self, end: str, exc: BaseException | None = None) -> None:
        """End the span: once, whichever path gets here first, from any thread."""
        with self._lock:
            if self.done:
                return
            self.done = True
        try:
            self._finish(end, exc)
        except Exception:  # the observer never breaks the observed
            end_span(self.span, None)

    def finish_from_gc(self) -> None:
        """``__del__`` of an abandoned body: end the span outside the finalizer."""
        if self.done:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.finish, GARBAGE_COLLECTED)
                return
            except RuntimeError:
                pass
        threading.Thread(target=self.finish, args=(GARBAGE_COLLECTED,), daemon=True).start()

    def _finish(self, end: str, exc: BaseException | None) -> None:
        sp = self.span
        if end == CLOSED_EARLY and self._terminal:
            end = COMPLETE
        if self.stream and end == COMPLETE:
            self._dispatch()  # a last event without its blank line
        if not self.stream and self._full and self._content_ok:
            self._outcome.body(self._endpoint, _json(bytes(self._full)))
        out = self._outcome
        usage = out.usage.fields()
        attrs: dict[str, Any] = {"response_model": out.model, **usage}
        attrs["cost_usd"] = self._cost(out)
        attrs["finish_reason"] = out.finish_reason
        if self.stream:
            attrs["chunks"] = self.chunks
        if self._status_code:
            attrs["response_end"] = end
        sp.set(**attrs)
        if self._status_code and sp.is_recording:
            self._response_event(end)
        if exc is None and end in (CLOSED_EARLY, GARBAGE_COLLECTED, CANCELLED):
            exc = asyncio.CancelledError(f"the response body was not read to its end ({end})")
        if exc is None and self._status_code >= 400:
            exc = HTTPStatusError(self._error_message())
        end_span(sp, exc)

    def _cost(self, out: Outcome) -> float | None:
        u = out.usage
        if u.input is None or u.output is None:
            return None
        table = self.cfg.prices or DEFAULT_PRICES
        cached = min(u.cached or 0, u.input)
        for model in (out.model, self._model):
            if model:
                cost = table.cost_usd(model, u.input, u.output, cached)
                if cost is not None:
                    return cost
        return None

    def _error_message(self) -> str:
        detail = _json(bytes(self._full)) if self._full else None
        msg = None
        if isinstance(detail, dict):
            err = detail.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
        return f"HTTP {self._status_code}" + (f": {msg}" if isinstance(msg, str) else "")

    def _response_event(self, end: str) -> None:
        data: dict[str, Any] = {
            "http_status": self._status_code,
            "headers": self._head,
            "stream": self.stream,
            "response_end": end,
        }
        if not self.cfg.capture_content:
            data["body_omitted"] = "capture_content is off"
        elif not self._decoder.readable or not self._content_ok:
            data["body_omitted"] = f"content-encoding {self._decoder.encoding!r} is not readable"
        else:
            data.update(body_fields(bytes(self._recorded), self.cfg.max_response_bytes))
            # What was kept is a prefix of what arrived; record the full size.
            data["body_bytes"] = self._response_bytes
            if self._response_bytes > len(self._recorded):
                data["body_truncated"] = True
        self.span.event(LLM_RESPONSE, **data)
