"""Model prices and the cost of an llm call.

Prices are USD per million tokens.  ``cached_tokens`` are the part of
``input_tokens`` served from the provider's prompt cache (the OpenAI usage
convention), so a call costs::

    (input_tokens - cached_tokens) * input_per_mtok
    + cached_tokens * cached_input_per_mtok
    + output_tokens * output_per_mtok
    all / 1_000_000

An unknown model has no cost (``None``), never 0: a sum of costs must not
look complete when some calls could not be priced.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Final

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable", "cost_usd"]

_ROUND_DIGITS: Final = 10
_MTOK: Final = 1_000_000

# What may follow a known model id in a longer id and still be the same
# model at the same price: dates, "latest", previews, revisions, provider
# version tags.  "gpt-4.1-nano" is not "gpt-4.1": "-nano" is none of these.
_VERSION_SUFFIX: Final = re.compile(r"(?:[-@:](?:\d+|latest|preview|exp|v\d+(?::\d+)?))+")


def _price(name: str, value: float | int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class ModelPrice:
    """USD per million tokens.  Immutable.

    ``cached_input_per_mtok`` (the price of input tokens served from the
    prompt cache) defaults to ``input_per_mtok``.
    """

    __slots__ = ("cached_input_per_mtok", "input_per_mtok", "output_per_mtok")

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float

    def __init__(
        self,
        input_per_mtok: float,
        output_per_mtok: float,
        cached_input_per_mtok: float | None = None,
    ) -> None:
        inp = _price("input_per_mtok", input_per_mtok)
        out = _price("output_per_mtok", output_per_mtok)
        cached = (
            inp
            if cached_input_per_mtok is None
            else _price("cached_input_per_mtok", cached_input_per_mtok)
        )
        object.__setattr__(self, "input_per_mtok", inp)
        object.__setattr__(self, "output_per_mtok", out)
        object.__setattr__(self, "cached_input_per_mtok", cached)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ModelPrice is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ModelPrice is immutable")

    def _key(self) -> tuple[float, float, float]:
        return (self.input_per_mtok, self.output_per_mtok, self.cached_input_per_mtok)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelPrice):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"ModelPrice(input_per_mtok={self.input_per_mtok}, "
            f"output_per_mtok={self.output_per_mtok}, "
            f"cached_input_per_mtok={self.cached_input_per_mtok})"
        )

    def cost_usd(
        self, input_tokens: int = 0, output_tokens: int = 0, cached_tokens: int = 0
    ) -> float:
        """The cost of one call at this price (see the module docstring)."""
        _check_tokens(input_tokens, output_tokens, cached_tokens)
        micro = (
            (input_tokens - cached_tokens) * self.input_per_mtok
            + cached_tokens * self.cached_input_per_mtok
            + output_tokens * self.output_per_mtok
        )
        return round(micro / _MTOK, _ROUND_DIGITS)


def _check_tokens(input_tokens: int, output_tokens: int, cached_tokens: int) -> None:
    for name, value in (
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("cached_tokens", cached_tokens),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if cached_tokens > input_tokens:
        raise ValueError(
            f"cached_tokens ({cached_tokens}) cannot exceed input_tokens ({input_tokens}): "
            "cached tokens are the part of the input served from cache"
        )


def _norm(model: str) -> str:
    return model.strip().lower()


class PriceTable(Mapping[str, ModelPrice]):
    """Model id -> ``ModelPrice``, with resolution of longer ids.

    ``get(model)`` tries, in order: the exact id (case-insensitive); an
    alias; the id without a provider prefix (``openai/gpt-4o``); the
    longest known id that the given one extends by a version suffix only
    (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-3-5-sonnet-latest`` ->
    ``claude-3-5-sonnet``).  Anything else is unknown: ``None``.

    Safe to read from several threads while another updates it.
    """

    def __init__(
        self,
        prices: Mapping[str, ModelPrice] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._prices: dict[str, ModelPrice] = {}
        self._aliases: dict[str, str] = {}
        self._resolved: dict[str, ModelPrice | None] = {}
        if prices:
            self.update(prices)
        for alias, target in (aliases or {}).items():
            self.set_alias(alias, target)

    # -- Mapping ----------------------------------------------------------

    def __getitem__(self, model: str) -> ModelPrice:
        price = self.get(model)
        if price is None:
            raise KeyError(model)
        return price

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._prices))

    def __len__(self) -> int:
        return len(self._prices)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models, {len(self._aliases)} aliases)"

    # -- updates ----------------------------------------------------------

    def set(self, model: str, price: ModelPrice) -> None:
        """Add or replace the price of ``model``."""
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty str, got {model!r}")
        if not isinstance(price, ModelPrice):
            raise TypeError(f"price must be a ModelPrice, got {type(price).__name__}")
        with self._lock:
            self._prices[_norm(model)] = price
            self._resolved = {}

    def update(self, prices: Mapping[str, ModelPrice]) -> None:
        """``set`` for each item."""
        if not isinstance(prices, Mapping):
            raise TypeError(f"prices must be a mapping, got {type(prices).__name__}")
        for model, price in prices.items():
            self.set(model, price)

    def remove(self, model: str) -> None:
        """Forget ``model`` (exact id); no error if it was not there."""
        with self._lock:
            self._prices.pop(_norm(model), None)
            self._resolved = {}

    def set_alias(self, alias: str, model: str) -> None:
        """Make ``alias`` resolve to ``model`` (itself resolved at lookup)."""
        for name, value in (("alias", alias), ("model", model)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty str, got {value!r}")
        with self._lock:
            self._aliases[_norm(alias)] = _norm(model)
            self._resolved = {}

    def copy(self) -> PriceTable:
        """An independent table with the same prices and aliases."""
        with self._lock:
            table = PriceTable(dict(self._prices))
            table._aliases = dict(self._aliases)
        return table

    # -- lookups ----------------------------------------------------------

    def get(self, model: object, default: ModelPrice | None = None) -> ModelPrice | None:  # type: ignore[override]
        """The price of ``model``, or ``default`` (None) if it is unknown."""
        if not isinstance(model, str):
            return default
        resolved = self._resolved
        try:
            price = resolved[model]
        except KeyError:
            price = self._resolve(_norm(model))
            if len(resolved) >= 1024:
                resolved.clear()
            resolved[model] = price
        return default if price is None else price

    def resolve(self, model: str) -> str | None:
        """The known id that ``model`` resolves to, or None."""
        return self._resolve_id(_norm(model))

    def _resolve(self, model: str) -> ModelPrice | None:
        key = self._resolve_id(model)
        return None if key is None else self._prices.get(key)

    def _resolve_id(self, model: str, _seen: frozenset[str] = frozenset()) -> str | None:
        prices = self._prices
        if model in prices:
            return model
        alias = self._aliases.get(model)
        if alias is not None and alias not in _seen:
            return self._resolve_id(alias, _seen | {model})
        if "/" in model:
            return self._resolve_id(model.rsplit("/", 1)[1], _seen | {model})
        best: str | None = None
        for known in prices:
            if (
                len(known) < len(model)
                and model.startswith(known)
                and (best is None or len(known) > len(best))
                and _VERSION_SUFFIX.fullmatch(model, len(known)) is not None
            ):
                best = known
        if best is None:
            for alias_name, target in self._aliases.items():
                if (
                    len(alias_name) < len(model)
                    and model.startswith(alias_name)
                    and _VERSION_SUFFIX.fullmatch(model, len(alias_name)) is not None
                    and target not in _seen
                ):
                    return self._resolve_id(target, _seen | {model})
        return best

    def cost_usd(
        self,
        model: str | None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
    ) -> float | None:
        """The cost of one call, or None if the model has no known price.

        Token counts are checked first (``TypeError``/``ValueError``), so a
        bad count is reported even for an unknown model.
        """
        _check_tokens(input_tokens, output_tokens, cached_tokens)
        price = self.get(model)
        if price is None:
            return None
        return price.cost_usd(input_tokens, output_tokens, cached_tokens)


def _p(inp: float, out: float, cached: float | None = None) -> ModelPrice:
    return ModelPrice(inp, out, inp if cached is None else cached)


# Illustrative list prices (USD per 1M tokens, standard tier, shortest
# context band) as published by the providers when this table was written.
# They change: override them with DEFAULT_PRICES.set(...) or pass your own
# PriceTable.
DEFAULT_PRICES: Final = PriceTable(
    {
        # OpenAI
        "gpt-4o": _p(2.50, 10.00, 1.25),
        "gpt-4o-mini": _p(0.15, 0.60, 0.075),
        "gpt-4.1": _p(2.00, 8.00, 0.50),
        "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
        "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
        "o3": _p(2.00, 8.00, 0.50),
        "o3-mini": _p(1.10, 4.40, 0.55),
        "o4-mini": _p(1.10, 4.40, 0.275),
        # Anthropic (cached = cache reads)
        "claude-opus-4-1": _p(15.00, 75.00, 1.50),
        "claude-opus-4": _p(15.00, 75.00, 1.50),
        "claude-sonnet-4-5": _p(3.00, 15.00, 0.30),
        "claude-sonnet-4": _p(3.00, 15.00, 0.30),
        "claude-3-7-sonnet": _p(3.00, 15.00, 0.30),
        "claude-3-5-sonnet": _p(3.00, 15.00, 0.30),
        "claude-3-5-haiku": _p(0.80, 4.00, 0.08),
        "claude-3-haiku": _p(0.25, 1.25, 0.03),
        "claude-3-opus": _p(15.00, 75.00, 1.50),
        # Google
        "gemini-2.5-pro": _p(1.25, 10.00, 0.31),
        "gemini-2.5-flash": _p(0.30, 2.50, 0.075),
        "gemini-2.0-flash": _p(0.10, 0.40, 0.025),
        "gemini-1.5-pro": _p(1.25, 5.00, 0.3125),
        "gemini-1.5-flash": _p(0.075, 0.30, 0.01875),
    }
)


def cost_usd(
    model: str | None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    *,
    prices: PriceTable | None = None,
) -> float | None:
    """``prices.cost_usd(...)``, with ``DEFAULT_PRICES`` by default."""
    table = DEFAULT_PRICES if prices is None else prices
    return table.cost_usd(model, input_tokens, output_tokens, cached_tokens)
