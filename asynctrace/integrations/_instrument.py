"""``instrument()`` and ``http_client()``, shared by the OpenAI and Anthropic modules."""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypeVar

from .._agent._cost import PriceTable
from ._call import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RESPONSE_BYTES, TapConfig
from ._transport import build_http_client

C = TypeVar("C")


def config(
    provider: str,
    base_url: Any,
    capture_content: bool | None,
    include_usage: bool,
    max_body_bytes: int,
    max_response_bytes: int,
    prices: PriceTable | None,
) -> TapConfig:
    return TapConfig(
        provider,
        base_url=None if base_url is None else str(base_url),
        capture_content=capture_content,
        include_usage=include_usage,
        max_body_bytes=max_body_bytes,
        max_response_bytes=max_response_bytes,
        prices=prices,
    )


def make_http_client(sdk: ModuleType, cfg: TapConfig, sync: bool, kwargs: dict[str, Any]) -> Any:
    cls = sdk.DefaultHttpxClient if sync else sdk.DefaultAsyncHttpxClient
    return build_http_client(cls, cfg, is_async=not sync, kwargs=kwargs)


def instrument_client(
    client: C, sdk: ModuleType, async_cls: type, sync_cls: type, cfg_args: dict[str, Any]
) -> C:
    if isinstance(client, async_cls):
        sync = False
    elif isinstance(client, sync_cls):
        sync = True
    else:
        raise TypeError(
            f"instrument() takes an {async_cls.__name__} or {sync_cls.__name__}, "
            f"got {type(client).__name__}"
        )
    base_url = getattr(client, "base_url", None)
    cfg = config(cfg_args.pop("provider"), base_url, **cfg_args)
    http = make_http_client(sdk, cfg, sync, {})
    out: C = client.with_options(http_client=http)  # type: ignore[attr-defined]
    return out


__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_RESPONSE_BYTES", "config", "instrument_client", "make_http_client"]
