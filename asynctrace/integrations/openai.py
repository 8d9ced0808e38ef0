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

from typing import Any, TypeVar, Unpack

import openai as _sdk

from ._instrument import Integration, TapOptions, split_options

__all__ = ["TapOptions", "http_client", "instrument"]

C = TypeVar("C", "_sdk.AsyncOpenAI", "_sdk.OpenAI")
_OPENAI = Integration("openai", _sdk, _sdk.AsyncOpenAI, _sdk.OpenAI, chat_streams=True)


def instrument(client: C, **options: Unpack[TapOptions]) -> C:
    """A traced copy of an ``AsyncOpenAI`` or ``OpenAI`` client (Azure's too).

    *options*: ``capture_content``, ``include_usage``, ``max_body_bytes``,
    ``max_response_bytes``, ``prices`` (see ``TapOptions`` and docs/llm.md).
    """
    return _OPENAI.instrument(client, **options)


def http_client(*, sync: bool = False, base_url: str | None = None, **kwargs: Any) -> Any:
    """An ``openai.DefaultAsyncHttpxClient`` (``DefaultHttpxClient`` with ``sync=True``)
    that traces every call: ``openai.AsyncOpenAI(http_client=http_client())``.

    The ``TapOptions`` among *kwargs* are the tap's; the rest go to the HTTP
    client: ``transport=`` is wrapped, and transport options (``verify``,
    ``http2``, ``limits``, ``proxy``, ...) configure the default transport it
    wraps.  *base_url* (the SDK client's) lets ``asynctrace curl --base-url``
    swap the server.
    """
    tap, rest = split_options(kwargs)
    return _OPENAI.http_client(sync=sync, base_url=base_url, tap=tap, **rest)
