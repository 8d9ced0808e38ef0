"""Offline replay: serve a trace's recorded model responses back to the SDK.

    client = openai.AsyncOpenAI(api_key="test", http_client=replay_http_client(path))

Each request the SDK makes is answered with the response recorded for it,
streams included, so an agent test runs without the network and gets what
the model answered last time.  ``match="order"`` (default) answers the n-th
request with the n-th recorded call and checks that it is the same request;
``match="body"`` answers with the first unused recording of the same
method, path and body.  A request that does not match gets an HTTP 400
whose error message names the first difference (the SDK raises it as its
``BadRequestError``, which it does not retry); ``transport.mismatches``
keeps every such message.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any, Final
from urllib.parse import urlsplit

from .._processing._redact import redact_text
from .._reading._requests import LLMRequest, requests

__all__ = ["ReplayMismatch", "replay_http_client", "replay_transport"]

_MATCHES: Final = ("order", "body")
_DROP_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class ReplayMismatch(AssertionError):
    """A request differs from the recording it was matched against."""


ReplayMismatch.__module__ = "asynctrace.testing"


def _sdk_module(sdk: str | ModuleType | None) -> ModuleType | None:
    if isinstance(sdk, ModuleType):
        return sdk
    names = (sdk,) if sdk else ("openai", "anthropic")
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            if sdk:
                raise
    return None


def _http_module(sdk: ModuleType | None) -> ModuleType:
    if sdk is not None:
        from ..integrations._transport import httpx_of

        return httpx_of(sdk.DefaultAsyncHttpxClient)
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError("replay needs httpx2 or httpx (install the openai or anthropic extra)")


def _first_difference(recorded: Any, sent: Any, where: str = "$") -> str | None:
    if type(recorded) is not type(sent):
        return f"{where}: recorded {_short(recorded)}, sent {_short(sent)}"
    if isinstance(recorded, dict):
        for key in recorded:
            if key not in sent:
                return f"{where}.{key}: recorded {_short(recorded[key])}, not sent"
            diff = _first_difference(recorded[key], sent[key], f"{where}.{key}")
            if diff:
                return diff
        for key in sent:
            if key not in recorded:
                return f"{where}.{key}: sent {_short(sent[key])}, not in the recording"
        return None
    if isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(recorded, sent, strict=False)):
            diff = _first_difference(a, b, f"{where}[{i}]")
            if diff:
                return diff
        if len(recorded) != len(sent):
            return f"{where}: recorded {len(recorded)} items, sent {len(sent)}"
        return None
    return None if recorded == sent else f"{where}: recorded {_short(recorded)}, sent {_short(sent)}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _body_difference(rec: LLMRequest, body: bytes) -> str | None:
    if rec.body is None:
        return None if not body else "the recording has no request body"
    if body == rec.body:
        return None
    try:
        diff = _first_difference(json.loads(rec.body), json.loads(body))
    except ValueError:
        diff = None
    return f"body differs at {diff}" if diff else "body differs (same JSON, different bytes)"


class Replay:
    """The recorded calls of one trace and which of them have been served."""

    def __init__(self, path: str | os.PathLike[str], match: str) -> None:
        if match not in _MATCHES:
            raise ValueError(f"match must be one of {_MATCHES}, got {match!r}")
        self.match = match
        self.path = os.fspath(path)
        self.calls = requests(path)
        self.used = [False] * len(self.calls)
        self.mismatches: list[str] = []
        self._next = 0
        self._lock = threading.Lock()

    def _difference(self, rec: LLMRequest, method: str, path: str, body: bytes) -> str | None:
        if method != rec.method:
            return f"method: recorded {rec.method}, sent {method}"
        recorded_path = _path(rec.url)
        if path != recorded_path:
            return f"path: recorded {recorded_path}, sent {path}"
        if rec.body is not None and "redacted" in (rec.body_problem or ""):
            body = redact_text(body.decode("utf-8", "replace")).encode()
        return _body_difference(rec, body)

    def take(self, method: str, url: str, body: bytes) -> LLMRequest | str:
        """The recording to answer with, or the error message."""
        path = _path(url)
        with self._lock:
            n = self._next
            self._next += 1
            label = f"request {n} ({method} {path})"
            if self.match == "order":
                if n >= len(self.calls):
                    return self._fail(f"{label}: the recording has only {len(self.calls)} calls")
                rec = self.calls[n]
                diff = self._difference(rec, method, path, body)
                if diff:
                    return self._fail(f"{label} does not match recorded call {rec.index}: {diff}")
            else:
                candidates = [c for c, used in zip(self.calls, self.used, strict=True) if not used]
                rec_or_none = next(
                    (c for c in candidates if self._difference(c, method, path, body) is None), None
                )
                if rec_or_none is None:
                    closest = next((c for c in candidates if _path(c.url) == path), None)
                    if closest is None:
                        return self._fail(f"{label}: no unused recorded call for this path")
                    diff = self._difference(closest, method, path, body)
                    return self._fail(f"{label} matches no unused recording; closest is call {closest.index}: {diff}")
                rec = rec_or_none
            if rec.response_body is None or rec.http_status is None:
                return self._fail(
                    f"{label}: recorded call {rec.index} has no response to replay "
                    f"({rec.response_problem or 'none was recorded'})"
                )
            self.used[rec.index] = True
            return rec

    def _fail(self, message: str) -> str:
        message = f"asynctrace replay of {self.path}: {message}"
        self.mismatches.append(message)
        return message


def _parts(rec: LLMRequest) -> list[bytes]:
    body = rec.response_body or b""
    if not rec.stream:
        return [body]
    # One part per server-sent event, so the SDK sees the stream arrive in pieces.
    parts = [p + b"\n\n" for p in body.split(b"\n\n")]
    parts[-1] = parts[-1][:-2]
    return [p for p in parts if p]


_CLASSES: dict[str, tuple[type, type]] = {}


def _classes(http: ModuleType) -> tuple[type, type]:
    cached = _CLASSES.get(http.__name__)
    if cached is not None:
        return cached

    class Body(http.AsyncByteStream, http.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, parts: list[bytes]) -> None:
            self._parts = parts

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for p in self._parts:
                yield p

        def __iter__(self) -> Iterator[bytes]:
            yield from self._parts

    class ReplayTransport(http.AsyncBaseTransport, http.BaseTransport):  # type: ignore[name-defined,misc]
        """Answers from a recorded trace; works for async and sync clients."""

        def __init__(self, replay: Replay) -> None:
            self.replay = replay

        @property
        def mismatches(self) -> list[str]:
            return self.replay.mismatches

        def _answer(self, request: Any, body: bytes) -> Any:
            got = self.replay.take(request.method, str(request.url), body)
            if isinstance(got, str):
                error = {"type": "error", "error": {"type": "invalid_request_error", "message": got}}
                return http.Response(
                    400,
                    headers={"content-type": "application/json", "x-asynctrace-replay": "mismatch"},
                    content=json.dumps(error).encode(),
                )
            headers = {k: v for k, v in got.response_headers.items() if k not in _DROP_HEADERS}
            headers["x-asynctrace-replay"] = f"call {got.index}"
            return http.Response(got.http_status, headers=headers, stream=Body(_parts(got)))

        async def handle_async_request(self, request: Any) -> Any:
            return self._answer(request, await request.aread())

        def handle_request(self, request: Any) -> Any:
            return self._answer(request, request.read())

    _CLASSES[http.__name__] = (ReplayTransport, Body)
    return ReplayTransport, Body


def replay_transport(
    path: str | os.PathLike[str], *, match: str = "order", sdk: str | ModuleType | None = None
) -> Any:
    """A transport (async and sync) answering from the trace at *path*.

    Give it to an HTTP client you build, or to
    ``asynctrace.integrations.openai.http_client(transport=...)`` to trace
    the replayed calls too.  *sdk* (``"openai"``, ``"anthropic"`` or the
    module) picks httpx2 or httpx as that SDK does; default: whichever SDK
    is installed.
    """
    http = _http_module(_sdk_module(sdk))
    transport_cls, _ = _classes(http)
    return transport_cls(Replay(path, match))


def replay_http_client(
    path: str | os.PathLike[str],
    *,
    match: str = "order",
    sync: bool = False,
    sdk: str | ModuleType | None = None,
    **kwargs: Any,
) -> Any:
    """An SDK default HTTP client (async, or sync with ``sync=True``) that answers
    from the trace at *path*: ``openai.AsyncOpenAI(http_client=replay_http_client(path))``.

    ``client.transport.mismatches`` (via the returned client's transport)
    lists the requests that did not match.  *kwargs* go to the HTTP client.
    """
    module = _sdk_module(sdk)
    transport = replay_transport(path, match=match, sdk=module)
    if module is not None:
        cls = module.DefaultHttpxClient if sync else module.DefaultAsyncHttpxClient
    else:
        http = _http_module(None)
        cls = http.Client if sync else http.AsyncClient
    return cls(transport=transport, **kwargs)
