"""The running summary kept by the writer (SummaryBuilder)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from _tracegen import record_agent
from hypothesis import given, settings
from hypothesis import strategies as st

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


_names = st.sampled_from(
    [
        "tool.start",
        "tool.stop",
        "tool.call",
        "llm.start",
        "llm.stop",
        "llm.call",
        "span.stop",
        "run.stop",
        "turn.start",
        "error",
        "decision",
        "trace.event_omitted",
        "x.stop.more",
        "error.stop",
    ]
)
_data = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": st.one_of(
            st.integers(0, 100), st.none(), st.floats(0, 5), st.text(max_size=2)
        ),
        "output_tokens": st.integers(0, 100),
        "cached_tokens": st.integers(0, 10),
        "cost_usd": st.one_of(st.floats(0, 1), st.integers(0, 2), st.none(), st.just("1")),
    },
)
_lines = st.lists(
    st.builds(
        lambda name, ts, status, data: Event(ts_ns=ts, event=name, status=status, data=data),
        st.one_of(_names, st.text(max_size=6)),
        st.integers(0, 10**6),
        st.sampled_from(["ok", "error", "cancelled", None, "weird"]),
        _data,
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(lines=_lines, cuts=st.lists(st.integers(0, 60), max_size=5))
def test_add_batch_gives_the_same_summary_as_adding_one_line_at_a_time(
    lines: list[Event], cuts: list[int]
) -> None:
    one = SummaryBuilder()
    for line in lines:
        one.add(line)
    batched = SummaryBuilder()
    bounds = [0, *sorted(c for c in cuts if c <= len(lines)), len(lines)]
    for a, b in itertools.pairwise(bounds):
        batched.add_batch(lines[a:b])
    assert batched.result() == one.result()


def test_add_batch_accounts_stops_calls_and_errors_by_count() -> None:
    builder = SummaryBuilder()
    builder.add_batch(
        [
            ev("tool.start", 10),
            ev("tool.stop", 20, "ok"),
            ev("tool.stop", 30, "error"),
            ev("llm.call", 5, "ok", input_tokens=3, output_tokens=2, cost_usd=0.5),
            ev("error", 40),
            ev("note", 41),
        ]
    )
    builder.add_batch([ev("span.stop", 50, "cancelled"), ev("tool.start", 1)])
    result = builder.result()
    assert result["events"] == 8
    assert result["duration_ns"] == 49
    assert result["spans_by_kind"] == {"tool": 2, "span": 1}
    assert (result["tool_calls"], result["tool_errors"], result["tool_success_rate"]) == (2, 1, 0.5)
    assert (result["llm_calls"], result["input_tokens"], result["cost_usd"]) == (1, 3, 0.5)
    assert result["errors"] == 2
