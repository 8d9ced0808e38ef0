"""Small text formatters shared by the views: durations, tokens, cost, previews."""

from __future__ import annotations

import re
from typing import Any, Final

from .._events._codec import ENCODER

_SPACE_RUN: Final = re.compile(r"\s+")
ELLIPSIS: Final = "…"


def duration(ns: int | None) -> str:
    """``350µs``, ``4.2ms``, ``350ms``, ``1.32s``, ``2m05s``; ``?`` when unknown."""
    if ns is None:
        return "?"
    if ns < 0:
        return "-" + duration(-ns)
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.0f}µs"
    if ns < 10_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.0f}ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f}s"
    minutes, rest = divmod(ns, 60_000_000_000)
    return f"{minutes}m{rest / 1e9:04.1f}s"


def offset(ns: int) -> str:
    """An offset from the trace start: ``+0.4ms``, ``+12ms``, ``+1.320s``."""
    if ns < 0:
        return "-" + offset(-ns)[1:]
    if ns < 10_000_000:
        return f"+{ns / 1e6:.1f}ms"
    if ns < 1_000_000_000:
        return f"+{ns / 1e6:.0f}ms"
    if ns < 60_000_000_000:
        return f"+{ns / 1e9:.3f}s"
    minutes, rest = divmod(ns, 60_000_000_000)
    return f"+{minutes}m{rest / 1e9:06.3f}s"


OFFSET_WIDTH: Final = 9


def offset_cell(ns: int) -> str:
    return f"[{offset(ns):>{OFFSET_WIDTH}}]"


def tokens(n: object) -> str:
    """``340``, ``1.2k``, ``12k``, ``1.2M``; ``?`` when not a count."""
    if not isinstance(n, int) or isinstance(n, bool):
        return "?"
    if n < 1_000:
        return str(n)
    if n < 10_000:
        return f"{n / 1e3:.1f}k"
    if n < 1_000_000:
        return f"{n / 1e3:.0f}k"
    return f"{n / 1e6:.1f}M"


def cost(usd: object) -> str:
    """``$0.004``, ``$1.23``; ``$?`` when there is no price."""
    if isinstance(usd, bool) or not isinstance(usd, int | float):
        return "$?"
    if usd == 0:
        return "$0"
    if usd < 0.0001:
        return "<$0.0001"
    if usd < 1:
        return f"${usd:.3g}"
    return f"${usd:,.2f}"


def size(n: object) -> str:
    if not isinstance(n, int) or isinstance(n, bool):
        return "?"
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def percent(rate: object) -> str:
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return "-"
    return f"{rate * 100:.0f}%"


def clip(text: str, width: int) -> str:
    """Whitespace collapsed, cut to ``width`` characters with ``…``."""
    text = _SPACE_RUN.sub(" ", text).strip()
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS


def preview(value: Any, width: int = 60) -> str:
    """A one-line preview of any JSON value: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return clip(value, width)
    try:
        text = ENCODER.encode(value).decode("utf-8", "replace")
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
    return clip(text, width)


def quoted(value: Any, width: int = 60) -> str:
    """Like :func:`preview`, with strings in double quotes."""
    if isinstance(value, str):
        return '"' + clip(value, width - 2) + '"'
    return preview(value, width)
