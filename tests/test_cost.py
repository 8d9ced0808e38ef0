from __future__ import annotations

import math
from typing import Any

import pytest

from asynctrace._agent._cost import DEFAULT_PRICES, ModelPrice, PriceTable, cost_usd


@pytest.fixture
def table() -> PriceTable:
    return PriceTable(
        {
            "gpt-4o": ModelPrice(2.5, 10.0, 1.25),
            "gpt-4o-mini": ModelPrice(0.15, 0.6),
            "claude-3-5-sonnet": ModelPrice(3.0, 15.0, 0.3),
        }
    )


# -- arithmetic ---------------------------------------------------------------------


def test_cost_is_input_plus_output_at_their_prices(table: PriceTable) -> None:
    # 1000 * 2.5 / 1e6 + 500 * 10 / 1e6
    assert table.cost_usd("gpt-4o", input_tokens=1000, output_tokens=500) == 0.0075


def test_cached_tokens_are_part_of_the_input_billed_at_the_cached_price(table: PriceTable) -> None:
    # (1000 - 400) * 2.5 + 400 * 1.25 + 200 * 10 = 1500 + 500 + 2000 = 4000 micro-dollars
    assert table.cost_usd("gpt-4o", 1000, 200, cached_tokens=400) == 0.004


def test_cached_price_defaults_to_the_input_price(table: PriceTable) -> None:
    price = table["gpt-4o-mini"]
    assert price.cached_input_per_mtok == 0.15
    assert table.cost_usd("gpt-4o-mini", 1000, 0, cached_tokens=1000) == table.cost_usd(
        "gpt-4o-mini", 1000, 0
    )
    assert table.cost_usd("gpt-4o-mini", 2_000_000, 1_000_000) == 0.9


def test_one_million_tokens_cost_exactly_the_listed_price() -> None:
    price = ModelPrice(3, 15, 0.3)
    assert price.cost_usd(1_000_000, 1_000_000, 1_000_000) == 15.3
    assert price.cost_usd(input_tokens=1_000_000) == 3.0


def test_costs_are_rounded_to_ten_decimals_without_float_noise() -> None:
    price = ModelPrice(0.1, 0.2)
    assert price.cost_usd(1, 1) == 3e-07  # 0.1 + 0.2 would print 0.30000000000000004
    assert price.cost_usd(3, 0) == 3e-07
    tiny = ModelPrice(0.00001, 0)
    assert tiny.cost_usd(1) == 0.0  # 1e-11 rounds away at 10 decimals


def test_zero_tokens_cost_zero_for_a_known_model(table: PriceTable) -> None:
    assert table.cost_usd("gpt-4o") == 0.0


def test_an_unknown_model_costs_none_never_zero(table: PriceTable) -> None:
    assert table.cost_usd("llama-3-70b", 1000, 1000) is None
    assert table.cost_usd(None, 1000, 1000) is None
    assert table.cost_usd("", 1, 1) is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"input_tokens": -1}, ValueError),
        ({"output_tokens": -5}, ValueError),
        ({"cached_tokens": -1}, ValueError),
        ({"input_tokens": 10, "cached_tokens": 11}, ValueError),
        ({"input_tokens": 1.5}, TypeError),
        ({"output_tokens": True}, TypeError),
        ({"input_tokens": "10"}, TypeError),
    ],
)
def test_bad_token_counts_are_rejected_even_for_unknown_models(
    table: PriceTable, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        table.cost_usd("gpt-4o", **kwargs)
    with pytest.raises(error):
        table.cost_usd("unknown-model", **kwargs)


@pytest.mark.parametrize(
    "args",
    [(-1.0, 1.0), (1.0, math.nan), (1.0, math.inf), (1.0, 1.0, -0.5), ("1", 1.0), (True, 1.0)],
)
def test_bad_prices_are_rejected(args: tuple[Any, ...]) -> None:
    with pytest.raises((ValueError, TypeError)):
        ModelPrice(*args)


def test_model_price_is_immutable_and_compares_by_value() -> None:
    p = ModelPrice(1, 2)
    with pytest.raises(AttributeError):
        p.input_per_mtok = 5  # type: ignore[misc]
    assert p == ModelPrice(1.0, 2.0, 1.0)
    assert hash(p) == hash(ModelPrice(1.0, 2.0, 1.0))
    assert p != ModelPrice(1, 2, 0.5)
    assert "input_per_mtok=1.0" in repr(p)


# -- resolution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "resolved"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        (" gpt-4o ", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-audio-preview", None),
        ("gpt-4oo", None),
        ("gpt-4", None),
    ],
)
def test_dated_and_prefixed_model_ids_resolve_to_the_longest_known_id(
    table: PriceTable, model: str, resolved: str | None
) -> None:
    assert table.resolve(model) == resolved
    assert (table.get(model) is None) == (resolved is None)


def test_a_variant_is_never_priced_as_its_base_model() -> None:
    # gpt-4.1-nano costs a twentieth of gpt-4.1: "-nano" is not a version suffix.
    t = PriceTable({"gpt-4.1": ModelPrice(2, 8)})
    assert t.get("gpt-4.1-nano") is None
    assert t.get("gpt-4.1-2025-04-14") == ModelPrice(2, 8)


def test_aliases_resolve_to_their_target() -> None:
    t = PriceTable(
        {"claude-3-5-sonnet": ModelPrice(3, 15)}, aliases={"sonnet": "claude-3-5-sonnet"}
    )
    assert t.resolve("sonnet") == "claude-3-5-sonnet"
    assert t.resolve("sonnet-20241022") == "claude-3-5-sonnet"
    t.set_alias("loop-a", "loop-b")
    t.set_alias("loop-b", "loop-a")
    assert t.get("loop-a") is None


# -- updates and the mapping interface ----------------------------------------------


def test_set_and_update_add_and_override_prices(table: PriceTable) -> None:
    assert table.cost_usd("gpt-4o-2024-08-06", 1_000_000) == 2.5
    table.set("gpt-4o", ModelPrice(5, 20))
    assert table.cost_usd("gpt-4o-2024-08-06", 1_000_000) == 5.0
    table.update({"my-model": ModelPrice(1, 1), "My-Other": ModelPrice(2, 2)})
    assert table.cost_usd("my-model", 1_000_000, 1_000_000) == 2.0
    assert table.cost_usd("my-other", 1_000_000) == 2.0
    table.remove("my-model")
    assert table.get("my-model") is None


def test_the_table_reads_as_a_mapping(table: PriceTable) -> None:
    assert len(table) == 3
    assert set(table) == {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"}
    assert "gpt-4o-2024-08-06" in table
    assert "llama" not in table
    assert table["gpt-4o"].input_per_mtok == 2.5
    with pytest.raises(KeyError):
        table["llama"]
    default = ModelPrice(0, 0)
    assert table.get("llama", default) is default


def test_bad_updates_are_rejected(table: PriceTable) -> None:
    with pytest.raises(ValueError):
        table.set("", ModelPrice(1, 1))
    with pytest.raises(TypeError):
        table.set("m", (1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        table.update([("m", ModelPrice(1, 1))])  # type: ignore[arg-type]


def test_copy_is_independent(table: PriceTable) -> None:
    other = table.copy()
    other.set("gpt-4o", ModelPrice(9, 9))
    assert table["gpt-4o"].input_per_mtok == 2.5


# -- the default table ------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "o3",
        "o4-mini",
        "claude-sonnet-4-20250514",
        "claude-3-5-haiku-latest",
        "claude-opus-4-1-20250805",
        "gemini-2.5-pro",
        "gemini-1.5-flash-002",
    ],
)
def test_the_default_table_prices_well_known_models(model: str) -> None:
    assert DEFAULT_PRICES.get(model) is not None


def test_module_cost_function_uses_the_default_table_or_the_one_given() -> None:
    expected = DEFAULT_PRICES["gpt-4o"].cost_usd(1000, 100)
    assert cost_usd("gpt-4o", 1000, 100) == expected
    mine = PriceTable({"gpt-4o": ModelPrice(1, 1)})
    assert cost_usd("gpt-4o", 1_000_000, 0, prices=mine) == 1.0
    assert cost_usd("nobody-knows", 1, 1) is None
