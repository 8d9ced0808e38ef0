"""``instrument()`` and ``http_client()``, one implementation for both SDKs."""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypedDict, TypeVar, Unpack

from .._agent._cost import PriceTable
from ._call import TapConfig
from ._transport import build_http_client

C = TypeVar("C")


class TapOptions(TypedDict, total=False):
    """What to record; see docs/llm.md.

    ``capture_content`` (default on, off with ``ASYNCTRACE_CAPTURE_CONTENT=0``):
    record request and response bodies.  ``include_usage`` (OpenAI chat
    streams): add ``stream_options.include_usage`` when the request did not
    say.  ``max_body_bytes`` (1 MiB): a request body whose event would exceed
    it is truncated and marked so; keep it at the collector's
    ``max_event_bytes``.  ``max_response_bytes`` (256 KiB): how much of each
    response body is recorded.  ``prices``: the table for ``cost_usd``.
    """

    capture_content: bool | None
    include_usage: bool
    max_body_bytes: int
    max_response_bytes: int
    prices: PriceTable | None


class Integration:
    """The two entry points for one SDK: its name, module and client classes."""

    def __init__(
        self, provider: str, sdk: ModuleType, async_cls: type, sync_cls: type, *, chat_streams: bool
    ) -> None:
        self.chat_streams = chat_streams
        self.provider = provider
        self.sdk = sdk
        self.async_cls = async_cls
        self.sync_cls = sync_cls

    def instrument(self, client: C, **options: Unpack[TapOptions]) -> C:
        """A copy of *client* whose every HTTP call is an ``llm`` span.

        The copy gets a new HTTP client (the SDK's defaults, its transport
        wrapped by the tap) through ``client.with_options(http_client=...)``.
        A client built with your own ``http_client`` should use
        ``http_client(transport=...)`` instead.
        """
        if isinstance(client, self.async_cls):
            sync = False
        elif isinstance(client, self.sync_cls):
            sync = True
        else:
            raise TypeError(
                f"instrument() takes an {self.async_cls.__name__} or {self.sync_cls.__name__}, "
                f"got {type(client).__name__}"
            )
        cfg = self._config(getattr(client, "base_url", None), options)
        http = self._client(cfg, sync, {})
        out: C = client.with_options(http_client=http)  # type: ignore[attr-defined]
        return out

    def http_client(
        self, *, sync: bool = False, base_url: str | None = None, tap: TapOptions | None = None, **kwargs: Any
    ) -> Any:
        return self._client(self._config(base_url, tap or {}), sync, kwargs)

    def _config(self, base_url: object, options: TapOptions) -> TapConfig:
        if options.get("include_usage") and not self.chat_streams:
            raise TypeError(f"include_usage is an OpenAI chat stream option; {self.provider} streams report usage")
        return TapConfig(self.provider, base_url=base_url, **options)

    def _client(self, cfg: TapConfig, sync: bool, kwargs: dict[str, Any]) -> Any:
        cls = self.sdk.DefaultHttpxClient if sync else self.sdk.DefaultAsyncHttpxClient
        return build_http_client(cls, cfg, is_async=not sync, kwargs=kwargs)


def split_options(kwargs: dict[str, Any]) -> tuple[TapOptions, dict[str, Any]]:
    """The tap's options among ``http_client(**kwargs)``, and the HTTP client's."""
    tap: dict[str, Any] = {k: kwargs.pop(k) for k in TapOptions.__annotations__ if k in kwargs}
    return tap, kwargs  # type: ignore[return-value]
