"""The tap: an HTTP transport wrapping the SDK's default one.

The SDKs take an ``http_client=``; its transport is the one public seam that
sees every request (retries included) and every response byte.  The tap
hands each request to the wrapped transport unchanged (except the opt-in
``include_usage`` stream option), and wraps the response body so that each
chunk is observed on its way to the SDK: nothing is buffered ahead of it.

httpx2 (what openai 3.x and anthropic 2.x are built on) and httpx (earlier
releases) have the same transport API, so the classes are made once per
module, from whichever one the SDK uses.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from types import ModuleType
from typing import Any, Final

from .._context._span import status_of
from .._context._state import get_collectors
from ._call import (
    CANCELLED,
    CLOSED_EARLY,
    COMPLETE,
    ERROR,
    Call,
    TapConfig,
    add_include_usage,
)

_log = logging.getLogger("asynctrace")
_CLASSES: dict[str, tuple[type, type]] = {}
_warned: list[bool] = []

# Client options that configure the default transport; with our own
# transport in place they must go to the wrapped one instead.
TRANSPORT_OPTIONS: Final = ("verify", "cert", "trust_env", "http1", "http2", "limits", "proxy")


def httpx_of(sdk_client_class: type) -> ModuleType:
    """The httpx-like module an SDK's ``DefaultAsyncHttpxClient`` is built on."""
    for cls in sdk_client_class.__mro__:
        top = cls.__module__.partition(".")[0]
        if top in ("httpx2", "httpx"):
            return importlib.import_module(top)
    raise TypeError(f"{sdk_client_class!r} is not built on httpx2 or httpx")


def _end_of(exc: BaseException) -> str:
    return CANCELLED if status_of(exc) == "cancelled" else ERROR


def _open(cfg: TapConfig, request: Any, http: ModuleType) -> tuple[Any, Call | None]:
    """The request to send (maybe with usage asked for) and its call, or None."""
    if not get_collectors():
        return request, None
    try:
        try:
            body: bytes | None = request.content
        except http.RequestNotRead:
            body = None
        if cfg.include_usage and body is not None and request.url.path.endswith("/chat/completions"):
            import json

            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            new = add_include_usage(body, parsed)
            if new is not None:
                headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
                request = http.Request(
                    request.method, request.url, headers=headers, content=new, extensions=request.extensions
                )
                body = new
        return request, Call(cfg, request.method, str(request.url), request.headers, body)
    except Exception as exc:  # never break the call: send it untraced
        if not _warned:
            _warned.append(True)
            with contextlib.suppress(Exception):
                _log.warning("asynctrace: could not trace an LLM request, sent it untraced: %r", exc)
        return request, None


def _wrap_response(http: ModuleType, response: Any, call: Call, stream: Any) -> Any:
    call.response(response.status_code, response.headers)
    return http.Response(
        status_code=response.status_code,
        headers=response.headers,
        stream=stream,
        extensions=response.extensions,
    )


def tap_classes(http: ModuleType) -> tuple[type, type]:
    """``(AsyncTapTransport, TapTransport)`` for the httpx-like module *http*."""
    cached = _CLASSES.get(http.__name__)
    if cached is not None:
        return cached

    class AsyncTapBody(http.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, call: Call) -> None:
            self._inner = inner
            self._call = call
            self._it: Any = None

        def __aiter__(self) -> Any:
            return self

        async def __anext__(self) -> bytes:
            if self._it is None:
                self._it = self._inner.__aiter__()
            try:
                chunk: bytes = await self._it.__anext__()
            except StopAsyncIteration:
                self._call.finish(COMPLETE)
                raise
            except BaseException as exc:
                self._call.finish(_end_of(exc), exc)
                raise
            self._call.feed(chunk)
            return chunk

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._call.finish(CLOSED_EARLY)

        def __del__(self) -> None:
            call = getattr(self, "_call", None)
            if call is not None and not call.done:
                call.finish_from_gc()

    class TapBody(http.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, call: Call) -> None:
            self._inner = inner
            self._call = call
            self._it: Any = None

        def __iter__(self) -> Any:
            return self

        def __next__(self) -> bytes:
            if self._it is None:
                self._it = iter(self._inner)
            try:
                chunk: bytes = next(self._it)
            except StopIteration:
                self._call.finish(COMPLETE)
                raise
            except BaseException as exc:
                self._call.finish(_end_of(exc), exc)
                raise
            self._call.feed(chunk)
            return chunk

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._call.finish(CLOSED_EARLY)

        def __del__(self) -> None:
            call = getattr(self, "_call", None)
            if call is not None and not call.done:
                call.finish_from_gc()

    class AsyncTapTransport(http.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        """Records every request through *inner* as an ``llm`` span."""

        def __init__(self, inner: Any, cfg: TapConfig) -> None:
            self.inner = inner
            self.config = cfg

        async def handle_async_request(self, request: Any) -> Any:
            request, call = _open(self.config, request, http)
            if call is None:
                return await self.inner.handle_async_request(request)
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException as exc:
                call.finish(_end_of(exc), exc)
                raise
            return _wrap_response(http, response, call, AsyncTapBody(response.stream, call))

        async def aclose(self) -> None:
            await self.inner.aclose()

    class TapTransport(http.BaseTransport):  # type: ignore[name-defined,misc]
        """Records every request through *inner* as an ``llm`` span."""

        def __init__(self, inner: Any, cfg: TapConfig) -> None:
            self.inner = inner
            self.config = cfg

        def handle_request(self, request: Any) -> Any:
            request, call = _open(self.config, request, http)
            if call is None:
                return self.inner.handle_request(request)
            try:
                response = self.inner.handle_request(request)
            except BaseException as exc:
                call.finish(_end_of(exc), exc)
                raise
            return _wrap_response(http, response, call, TapBody(response.stream, call))

        def close(self) -> None:
            self.inner.close()

    _CLASSES[http.__name__] = (AsyncTapTransport, TapTransport)
    return AsyncTapTransport, TapTransport


def build_http_client(
    client_class: type, cfg: TapConfig, *, is_async: bool, kwargs: dict[str, Any]
) -> Any:
    """An SDK default HTTP client whose transport is the tap.

    ``transport=`` in *kwargs* is wrapped; otherwise a default transport is
    made with the transport options among *kwargs*.
    """
    http = httpx_of(client_class)
    async_tap, sync_tap = tap_classes(http)
    inner = kwargs.pop("transport", None)
    options = {k: kwargs.pop(k) for k in TRANSPORT_OPTIONS if k in kwargs}
    if inner is None:
        inner = (http.AsyncHTTPTransport if is_async else http.HTTPTransport)(**options)
    elif options:
        raise TypeError(f"pass {', '.join(options)} to your transport, not with transport=")
    tap = (async_tap if is_async else sync_tap)(inner, cfg)
    return client_class(transport=tap, **kwargs)
