"""Capture every call of the official Anthropic client as an ``llm`` span.

    import anthropic
    from asynctrace.integrations import anthropic as trace_anthropic

    client = trace_anthropic.instrument(anthropic.AsyncAnthropic())

Messages and every other endpoint, streamed or not, retries included:
see docs/llm.md.  Only the SDK's public seams are used
(``http_client=`` and ``with_options``); ``anthropic`` is imported when
this module is.
"""

from __future__ import annotations

from typing import Any, TypeVar, Unpack

import anthropic as _sdk

from ._instrument import Integration, TapOptions, split_options

__all__ = ["TapOptions", "http_client", "instrument"]

C = TypeVar("C", "_sdk.AsyncAnthropic", "_sdk.Anthropic")
_ANTHROPIC = Integration("anthropic", _sdk, _sdk.AsyncAnthropic, _sdk.Anthropic, chat_streams=False)


def instrument(client: C, **options: Unpack[TapOptions]) -> C:
    """A traced copy of an ``AsyncAnthropic`` or ``Anthropic`` client.

    *options*: ``capture_content``, ``max_body_bytes``, ``max_response_bytes``,
    ``prices`` (see ``TapOptions`` and docs/llm.md).
    """
    return _ANTHROPIC.instrument(client, **options)


def http_client(*, sync: bool = False, base_url: str | None = None, **kwargs: Any) -> Any:
    """An ``anthropic.DefaultAsyncHttpxClient`` (``DefaultHttpxClient`` with ``sync=True``)
    that traces every call: ``anthropic.AsyncAnthropic(http_client=http_client())``.

    The ``TapOptions`` among *kwargs* are the tap's; the rest go to the HTTP
    client: ``transport=`` is wrapped, and transport options (``verify``,
    ``http2``, ``limits``, ``proxy``, ...) configure the default transport it
    wraps.  *base_url* (the SDK client's) lets ``asynctrace curl --base-url``
    swap the server.
    """
    tap, rest = split_options(kwargs)
    return _ANTHROPIC.http_client(sync=sync, base_url=base_url, tap=tap, **rest)
