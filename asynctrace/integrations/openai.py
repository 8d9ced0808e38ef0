"""Capture every call of the official OpenAI client as an ``llm`` span.

    import openai
    from asynctrace.integrations import openai as trace_openai

    client = trace_openai.instrument(openai.AsyncOpenAI())

Chat Completions, the Responses API and every other endpoint, streamed or
not, retries included: see docs/llm.md.  Only the SDK's public seams are
used (``http_client=`` and ``with_options``); ``openai`` is imported when
this module is.
"""

from __future__ import annotations

from typing import Any, TypeVar

import openai as _sdk

from .._agent._cost import PriceTable
from ._instrument import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    config,
    instrument_client,
    make_http_client,
)

__all__ = ["http_client", "instrument"]

C = TypeVar("C", "_sdk.AsyncOpenAI", "_sdk.OpenAI")


def instrument(
    client: C,
    *,
    capture_content: bool | None = None,
    include_usage: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    prices: PriceTable | None = None,
) -> C:
    """A copy of *client* (``AsyncOpenAI`` or ``OpenAI``, Azure too) whose calls are traced.

    The copy gets a new HTTP client (the SDK's defaults, transport wrapped by
    the tap) through ``client.with_options(http_client=...)``; a client you
    built with your own ``http_client`` should use ``http_client(transport=...)``
    instead.

    Args:
        capture_content: record request and response bodies (default: on,
            unless ``ASYNCTRACE_CAPTURE_CONTENT=0``).
        include_usage: ask chat streams for usage (adds
            ``stream_options.include_usage``) when the request did not say.
        max_body_bytes: a request body whose event would exceed this is
            truncated (and marked so); keep it at the collector's ``max_event_bytes``.
        max_response_bytes: how much of each response body is recorded.
        prices: price table for ``cost_usd`` (default ``DEFAULT_PRICES``).
    """
    return instrument_client(
        client,
        _sdk,
        _sdk.AsyncOpenAI,
        _sdk.OpenAI,
        {
            "provider": "openai",
            "capture_content": capture_content,
            "include_usage": include_usage,
            "max_body_bytes": max_body_bytes,
            "max_response_bytes": max_response_bytes,
            "prices": prices,
        },
    )


def http_client(
    *,
    sync: bool = False,
    base_url: str | None = None,
    capture_content: bool | None = None,
    include_usage: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    prices: PriceTable | None = None,
    **kwargs: Any,
) -> Any:
    """An ``openai.DefaultAsyncHttpxClient`` (``DefaultHttpxClient`` with ``sync=True``)
    that traces every call: ``openai.AsyncOpenAI(http_client=http_client())``.

    *kwargs* go to the HTTP client; ``transport=`` is wrapped, and transport
    options (``verify``, ``http2``, ``limits``, ``proxy``, ...) configure the
    default transport it wraps.  *base_url* (the client's) lets ``asynctrace
    curl --base-url`` swap the server; the other options are ``instrument()``'s.
    """
    cfg = config("openai", base_url, capture_content, include_usage, max_body_bytes, max_response_bytes, prices)
    return make_http_client(_sdk, cfg, sync, kwargs)
