"""A mock model provider on 127.0.0.1: OpenAI Chat Completions and Responses,
Anthropic Messages, streamed and not.  The demo's ``--sdk`` path and the
tests point the real SDKs at it with ``base_url=``.

It answers deterministically from the request: with tools offered, it calls
each tool once (in order), then answers in text.  It records every request
(method, path, headers, exact body), can fail the next N requests with an
HTTP status, and can hold a stream after its first event until released
(for tests of abandoned and cancelled streams).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Received:
    __slots__ = ("body", "headers", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def _words(text: str) -> list[str]:
    words = text.split()
    return [w + " " for w in words[:-1]] + words[-1:] if words else ["ok"]


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def _tool_name(t: dict[str, Any]) -> str:
    fn = t.get("function")
    return str(fn.get("name") if isinstance(fn, dict) else t.get("name"))


def _next_tool(body: dict[str, Any]) -> str | None:
    """The first offered tool not called yet in this conversation."""
    tools = [_tool_name(t) for t in body.get("tools") or [] if isinstance(t, dict)]
    called: set[str] = set()
    for m in body.get("messages") or body.get("input") or []:
        if not isinstance(m, dict):
            continue
        for call in m.get("tool_calls") or []:
            called.add(str(call.get("function", {}).get("name")))
        if m.get("type") == "function_call":
            called.add(str(m.get("name")))
        content = m.get("content")
        if isinstance(content, list):
            called.update(str(p.get("name")) for p in content if isinstance(p, dict) and p.get("type") == "tool_use")
    for name in tools:
        if name not in called:
            return name
    return None


class MockProvider:
    """``with MockProvider() as mock: openai.AsyncOpenAI(base_url=mock.openai_url, ...)``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.release = threading.Event()
        self.hold_streams = False
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def start(self) -> MockProvider:
        mock = self

        class Handler(_Handler):
            provider = mock

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="mock-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> MockProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    # ------------------------------------------------------------------ answers

    def answer(self, path: str, body: dict[str, Any], n: int) -> tuple[dict[str, Any] | None, Iterator[dict[str, Any] | str]]:
        """The JSON body (non-stream) or the stream events for a request."""
        prompt_tokens = max(1, len(json.dumps(body)) // 4)
        tool = _next_tool(body)
        text = f"Answer {n}: " + (_last_user_text(body.get("messages") or body.get("input")) or "hello")
        if path.endswith("/chat/completions"):
            return _chat(body, n, text, tool, prompt_tokens)
        if path.endswith("/responses"):
            return _responses(body, n, text, tool, prompt_tokens)
        if path.endswith("/messages"):
            return _messages(body, n, text, tool, prompt_tokens)
        return {"object": "list", "data": []}, iter(())


def _chat(body: dict[str, Any], n: int, text: str, tool: str | None, pt: int) -> tuple[Any, Iterator[Any]]:
    model = str(body.get("model"))
    served = model + "-2024-07-18" if model == "gpt-4o-mini" else model
    words = _words(text)
    usage = {
        "prompt_tokens": pt,
        "completion_tokens": len(words),
        "total_tokens": pt + len(words),
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    call = {"id": f"call_{n}", "type": "function", "function": {"name": tool, "arguments": '{"q": "x"}'}}
    reason = "tool_calls" if tool else "stop"
    base = {"id": f"chatcmpl-{n}", "created": 1700000000, "model": served}
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": None if tool else text}
        if tool:
            message["tool_calls"] = [call]
        return {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": usage,
        }, iter(())

    def events() -> Iterator[Any]:
        chunk = {**base, "object": "chat.completion.chunk"}
        yield {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        if tool:
            yield {**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}, "finish_reason": None}]}
        else:
            for w in words:
                yield {**chunk, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        yield {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
        options = body.get("stream_options") or {}
        if options.get("include_usage"):
            yield {**chunk, "choices": [], "usage": usage}
        yield "[DONE]"

    return None, events()


def _responses(body: dict[str, Any], n: int, text: str, tool: str | None, pt: int) -> tuple[Any, Iterator[Any]]:
    model = str(body.get("model"))
    words = _words(text)
    usage = {
        "input_tokens": pt,
        "output_tokens": len(words),
        "total_tokens": pt + len(words),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    item = {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    done = {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 1700000000,
        "model": model,
        "status": "completed",
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }
    if not body.get("stream"):
        return done, iter(())

    def events() -> Iterator[Any]:
        started = {**done, "status": "in_progress", "output": [], "usage": None}
        yield {"type": "response.created", "sequence_number": 0, "response": started}
        for i, w in enumerate(words):
            yield {
                "type": "response.output_text.delta",
                "sequence_number": i + 1,
                "item_id": f"msg_{n}",
                "output_index": 0,
                "content_index": 0,
                "delta": w,
                "logprobs": [],
            }
        yield {"type": "response.completed", "sequence_number": len(words) + 1, "response": done}

    return None, events()


def _messages(body: dict[str, Any], n: int, text: str, tool: str | None, pt: int) -> tuple[Any, Iterator[Any]]:
    model = str(body.get("model"))
    words = _words(text)
    block: dict[str, Any] = (
        {"type": "tool_use", "id": f"toolu_{n}", "name": tool, "input": {"q": "x"}}
        if tool
        else {"type": "text", "text": text}
    )
    reason = "tool_use" if tool else "end_turn"
    usage = {"input_tokens": pt, "output_tokens": len(words), "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    msg = {"id": f"msg_{n}", "type": "message", "role": "assistant", "model": model}
    if not body.get("stream"):
        return {**msg, "content": [block], "stop_reason": reason, "stop_sequence": None, "usage": usage}, iter(())

    def events() -> Iterator[Any]:
        yield {
            "type": "message_start",
            "message": {**msg, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}},
        }
        if tool:
            yield {"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}}
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"q": "x"}'}}
        else:
            yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            for w in words:
                yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        yield {"type": "content_block_stop", "index": 0}
        yield {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": {"output_tokens": len(words)}}
        yield {"type": "message_stop"}

    return None, events()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    provider: MockProvider

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def do_GET(self) -> None:
        self._reply(200, {"object": "list", "data": []})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        mock = self.provider
        with mock._lock:
            mock.requests.append(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
            n = len(mock.requests)
        failure = mock._take_failure()
        if failure is not None:
            self._reply(failure, {"error": {"message": f"mock failure {failure}", "type": "server_error"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._reply(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        whole, events = mock.answer(self.path, body, n)
        if whole is not None:
            self._reply(200, whole, request_id=f"req_{n}")
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", f"req_{n}")
        self.send_header("request-id", f"req_{n}")
        self.end_headers()
        anthropic = self.path.endswith("/messages")
        try:
            for i, ev in enumerate(events):
                if isinstance(ev, str):
                    line = f"data: {ev}\n\n"
                elif anthropic or ("type" in ev and str(ev["type"]).startswith("response.")):
                    line = f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n"
                else:
                    line = f"data: {json.dumps(ev)}\n\n"
                data = line.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                if i == 0 and mock.hold_streams:
                    mock.release.wait(timeout=60)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reply(self, status: int, obj: Any, request_id: str | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if request_id:
            self.send_header("x-request-id", request_id)
            self.send_header("request-id", request_id)
        self.end_headers()
        self.wfile.write(data)
