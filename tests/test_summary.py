"""The running summary kept by the writer (SummaryBuilder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _tracegen import record_agent

from asynctrace import Event
from asynctrace._agent._summary import SUMMARY_KEYS, SummaryBuilder
from asynctrace._reading import read, summarize

TID = "0af7651916cd43dd8448eb211c80319c"


def ev(name: str, ts_ns: int, status: str | None = None, /, **data: Any) -> Event:
    return Event(ts_ns=ts_ns, event=name, trace_id=TID, status=status, data=data)


def summary_of(*events: Event) -> dict[str, Any]:
    builder = SummaryBuilder()
    for e in events:
        builder.add(e)
    return builder.result()


def test_empty_summary_has_every_documented_key_and_no_rates() -> None:
    result = summary_of()
    assert tuple(result) == SUMMARY_KEYS
    assert result["events"] == 0
    assert result["duration_ns"] == 0
    assert result["tool_success_rate"] is None
    assert result["llm_success_rate"] is None
    assert result["cost_usd"] == 0.0


def test_counts_every_event_and_duration_from_first_to_last_timestamp() -> None:
    result = summary_of(ev("note", 150), ev("note", 100), ev("note", 400), ev("note", 390))
    assert result["events"] == 4
    assert result["duration_ns"] == 300


def test_spans_by_kind_counts_stop_events_only() -> None:
    result = summary_of(
        ev("run.start", 1),
        ev("turn.start", 2),
        ev("turn.stop", 3, "ok"),
        ev("turn.start", 4),
        ev("turn.stop", 5, "ok"),
        ev("retrieval.stop", 6, "ok"),
        ev("run.stop", 7, "ok"),
        ev("tool.call", 8, "ok", name="x"),
    )
    assert result["spans_by_kind"] == {"turn": 2, "retrieval": 1, "run": 1}


def test_tool_calls_count_stops_and_calls_with_success_rate_over_ok_status() -> None:
    result = summary_of(
        ev("tool.start", 1, name="a"),
        ev("tool.stop", 2, "ok", name="a"),
        ev("tool.call", 3, "error", name="b"),
        ev("tool.call", 4, "ok", name="c"),
        ev("tool.stop", 5, "cancelled", name="d"),
    )
    assert result["tool_calls"] == 4
    assert result["tool_errors"] == 1
    assert result["tool_success_rate"] == 0.5


def test_llm_tokens_and_cost_are_summed_over_calls_only() -> None:
    result = summary_of(
        ev("llm.start", 1, model="m", input_tokens=999),
        ev("llm.stop", 2, "ok", input_tokens=100, output_tokens=20, cached_tokens=5, cost_usd=0.25),
        ev("llm.call", 3, "error", input_tokens=50, output_tokens=None, cost_usd=0.5),
    )
    assert result["llm_calls"] == 2
    assert result["llm_errors"] == 1
    assert result["llm_success_rate"] == 0.5
    assert result["input_tokens"] == 150
    assert result["output_tokens"] == 20
    assert result["cached_tokens"] == 5
    assert result["cost_usd"] == 0.75
    assert result["unpriced_llm_calls"] == 0


def test_cost_is_null_when_no_llm_call_had_a_price() -> None:
    result = summary_of(ev("llm.call", 1, "ok", model="mystery", cost_usd=None))
    assert result["cost_usd"] is None
    assert result["unpriced_llm_calls"] == 1


def test_unpriced_calls_are_counted_next_to_the_known_cost() -> None:
    result = summary_of(
        ev("llm.call", 1, "ok", cost_usd=0.1),
        ev("llm.call", 2, "ok"),
        ev("llm.call", 3, "ok", cost_usd="free"),
    )
    assert result["cost_usd"] == 0.1
    assert result["unpriced_llm_calls"] == 2


def test_non_integer_token_counts_are_ignored() -> None:
    result = summary_of(
        ev("llm.call", 1, "ok", input_tokens=True, output_tokens="12", cached_tokens=3.5)
    )
    assert (result["input_tokens"], result["output_tokens"], result["cached_tokens"]) == (0, 0, 0)


def test_errors_count_error_events_and_failed_spans_and_calls() -> None:
    result = summary_of(
        ev("error", 1, error_type="Timeout", message="slow"),
        ev("span.stop", 2, "error"),
        ev("tool.call", 3, "error"),
        ev("decision", 4, "error"),
        ev("span.stop", 5, "cancelled"),
    )
    assert result["errors"] == 3


def test_omitted_event_counts_as_an_event_but_not_as_a_call() -> None:
    result = summary_of(
        ev("trace.event_omitted", 1, "error", event="tool.stop", bytes=10_000_000, cap=1_000_000)
    )
    assert result["events"] == 1
    assert result["tool_calls"] == 0
    assert result["errors"] == 0
    assert result["spans_by_kind"] == {}


def test_result_is_a_snapshot_that_later_events_do_not_change() -> None:
    builder = SummaryBuilder()
    builder.add(ev("turn.stop", 1, "ok"))
    first = builder.result()
    builder.add(ev("turn.stop", 2, "ok"))
    assert first["spans_by_kind"] == {"turn": 1}
    assert builder.result()["spans_by_kind"] == {"turn": 2}


def test_many_distinct_user_event_names_are_still_counted() -> None:
    builder = SummaryBuilder()
    for i in range(5000):
        builder.add(ev(f"k{i}.stop", i, "ok"))
    assert sum(builder.result()["spans_by_kind"].values()) == 5000


# -- against the real collector -------------------------------------------------


@pytest.mark.anyio
async def test_the_summary_written_by_the_collector_equals_the_recomputed_one(
    tmp_path: Path,
) -> None:
    path, child_path = await record_agent(tmp_path)
    for trace_file in (path, child_path):
        reader = read(trace_file)
        assert reader.stop is not None
        stored = reader.stop.data["summary"]
        assert stored == summarize(trace_file)
        assert tuple(stored) == SUMMARY_KEYS
    stored = read(path).stop.data["summary"]  # type: ignore[union-attr]
    assert stored["tool_calls"] == 4
    assert stored["tool_errors"] == 1
    assert stored["llm_calls"] == 2
    assert stored["input_tokens"] == 1210
    assert stored["cost_usd"] == 0.004
    assert stored["unpriced_llm_calls"] == 1
    assert stored["errors"] == 2  # the failed tool span and the error event
