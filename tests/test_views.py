"""The views: timeline, tree, summary, trajectory and slowest.

Text output is compared with golden files in tests/golden/.  After an
intended change of the output, regenerate them with

    UPDATE_GOLDEN=1 python -m pytest tests/test_views.py

and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _tracegen import MS, crashed_trace, research_trace, torn_bytes, write_research

from asynctrace._reading import _format as F
from asynctrace._reading import (
    load_tree,
    slowest_view,
    summary_data,
    summary_view,
    timeline_view,
    trajectory_view,
    tree_view,
)
from asynctrace._reading._summaryview import percentile
from asynctrace._reading._treeview import overlapping

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; create it with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}"


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


@pytest.fixture
def torn(tmp_path: Path) -> Path:
    path = tmp_path / "crashed.jsonl"
    path.write_bytes(torn_bytes(crashed_trace()))
    return path


def without_dir(text: str, folder: Path) -> str:
    return text.replace(str(folder), "<dir>")


# -- golden text ---------------------------------------------------------------


def test_timeline_matches_golden(research: Path) -> None:
    check_golden("timeline.txt", str(timeline_view(research)))


def test_tree_matches_golden(research: Path) -> None:
    check_golden("tree.txt", str(tree_view(research)))


def test_summary_matches_golden(research: Path) -> None:
    check_golden("summary.txt", without_dir(str(summary_view(research)), research.parent))


def test_trajectory_matches_golden(research: Path) -> None:
    check_golden("trajectory.txt", str(trajectory_view(research)))


def test_slowest_matches_golden(research: Path) -> None:
    check_golden("slowest.txt", str(slowest_view(research, 5)))


def test_views_of_a_crashed_trace_match_golden(torn: Path) -> None:
    check_golden("crashed_summary.txt", without_dir(str(summary_view(torn)), torn.parent))
    check_golden("crashed_tree.txt", str(tree_view(torn)))
    check_golden("crashed_timeline.txt", str(timeline_view(torn)))


# -- timeline ------------------------------------------------------------------


def test_timeline_has_one_line_per_event_with_offsets_from_trace_start(research: Path) -> None:
    lines = list(timeline_view(research))
    assert len(lines) == 27
    assert lines[0].startswith("[   +0.0ms] trace.start")
    assert lines[5] == "[   +352ms] llm.stop     gpt-x 1.2k→340 tok $0.004 350ms ok"


def test_timeline_collapses_whitespace_and_clips_long_values(research: Path) -> None:
    [line] = [x for x in timeline_view(research) if "asyncio is a library" in x]
    assert "\n" not in line
    assert "  " not in line.split("] ", 1)[1].split("fetch", 1)[1]
    assert "…" in line


def test_timeline_filters_by_kind_or_event_name(research: Path) -> None:
    names = [item["event"] for item in timeline_view(research, kinds=["llm", "decision"]).data()]
    assert names == ["llm.start", "llm.stop", "decision", "llm.call", "llm.call"]
    stops = [item["event"] for item in timeline_view(research, kinds=["tool.stop"]).data()]
    assert stops == ["tool.stop"] * 4


def test_timeline_filters_by_span_subtree(research: Path) -> None:
    items = timeline_view(research, span="0af7000000000004").data()
    assert [i["event"] for i in items] == ["tool.start", "cache.miss", "tool.stop"]


def test_timeline_filters_by_minimum_duration(research: Path) -> None:
    items = timeline_view(research, min_duration_ns=500 * MS).data()
    assert [(i["event"], i["duration_ns"] // MS) for i in items] == [
        ("turn.stop", 709),
        ("llm.call", 580),
        ("span.stop", 570),
        ("turn.stop", 1250),
        ("run.stop", 1979),
        ("trace.stop", 1990),
    ]


def test_timeline_span_filter_with_an_unknown_id_is_a_key_error(research: Path) -> None:
    with pytest.raises(KeyError):
        timeline_view(research, span="ffff")


def test_timeline_json_items_carry_seq_offset_and_detail(research: Path) -> None:
    first, second = timeline_view(research).data()[:2]
    assert first == {
        "seq": 0,
        "offset_ns": 0,
        "event": "trace.start",
        "detail": 'research 0af76519 gpt-x "What is asyncio?"',
    }
    assert second["span_id"] == "0af7000000000001"
    assert second["offset_ns"] == 100_000


# -- tree ----------------------------------------------------------------------


def test_overlapping_marks_every_interval_that_overlaps_another() -> None:
    assert overlapping([(0, 10), (10, 20), (20, 30)]) == [False, False, False]
    assert overlapping([(0, 10), (5, 6), (20, 30)]) == [True, True, False]
    assert overlapping([(0, 100), (1, 2), (3, 4), (200, 300)]) == [True, True, True, False]
    assert overlapping([(5, 9), (0, 3), (2, 6)]) == [True, True, True]
    assert overlapping([]) == []


def test_tree_marks_concurrent_siblings_and_not_sequential_ones(research: Path) -> None:
    lines = list(tree_view(research, events=False))
    tools = [x for x in lines if " tool " in x]
    assert len(tools) == 5  # four in turn 0, one in the child trace
    assert all("∥ tool" in x for x in tools[:4])
    assert "∥" not in tools[4]
    assert not any("∥ turn" in x or "∥ llm" in x for x in lines)


def test_tree_joins_the_child_trace_under_its_span(research: Path) -> None:
    lines = list(tree_view(research))
    spawn = next(i for i, x in enumerate(lines) if "span summarize with sub-agent" in x)
    assert "trace summarizer 5d2c5b0a" in lines[spawn + 1]
    assert "run summarizer" in lines[spawn + 2]


def test_tree_of_a_subtree_and_with_a_minimum_duration(research: Path) -> None:
    lines = list(tree_view(research, span="0af7000000000002", min_duration_ns=200 * MS))
    assert lines[0].endswith("turn 0 709ms ok")
    assert [x.split("] ", 1)[1] for x in lines[1:] if "tool" in x or "llm" in x] == [
        "├─ llm gpt-x 350ms ok · 1.2k→340 tok $0.004",
        "├─ ∥ tool fetch 339ms ok",
        "├─ ∥ tool fetch 238ms error TimeoutError: read timed out after 0.25s",
    ]


def test_tree_json_nests_spans_events_and_child_traces(research: Path) -> None:
    data = tree_view(research).data()
    assert data["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    [run] = data["children"]
    turn0, turn1 = run["children"]
    assert [c.get("kind") or c.get("event") for c in turn0["children"]] == [
        "llm",
        "decision",
        "tool",
        "tool",
        "tool",
        "error",
        "tool",
    ]
    assert [c["concurrent"] for c in turn0["children"] if "kind" in c] == [False, *[True] * 4]
    spawn = turn1["children"][1]
    [child] = spawn["children"]
    assert child["trace"]["label"] == "summarizer"
    assert child["trace"]["offset_ns"] == 1335 * MS


def test_tree_shows_open_spans_and_the_missing_stop(torn: Path) -> None:
    text = str(tree_view(torn))
    assert "tool parse ? open" in text
    assert "no trace.stop" in text
    assert "was never stopped" in text


# -- summary -------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile([7], 0.95) == 7
    assert percentile([1, 2], 0.5) == 1


def test_summary_data_has_latency_per_tool_and_model(research: Path) -> None:
    data = summary_data(research)
    fetch = data["latency"]["tool"]["fetch"]
    assert fetch == {
        "n": 3,
        "p50_ns": 238 * MS,
        "p95_ns": 339 * MS,
        "max_ns": 339 * MS,
        "errors": 1,
    }
    assert data["latency"]["llm"]["gpt-x"]["n"] == 2
    assert data["summary"]["cost_usd"] == pytest.approx(0.0101)
    assert data["summary"] == data["stored_summary"]
    assert data["warnings"] == []
    assert data["events_by_kind"]["tool"] == 8


def test_summary_shows_shed_oversize_and_write_errors_prominently(tmp_path: Path) -> None:
    trace, _ = research_trace()
    trace.lines.pop()
    trace.close(1990, shed=3, oversize=1, write_errors=2)
    path = trace.write(tmp_path)
    text = str(summary_view(path))
    assert "⚠ the collector reported 3 shed, 1 oversize, 2 write errors" in text
    assert "shed by reason: mailbox_full 3" in text


def test_summary_warns_when_trace_stop_is_missing(torn: Path) -> None:
    data = summary_data(torn)
    assert not data["complete"]
    assert data["torn_tail"]
    assert any("no trace.stop" in w for w in data["warnings"])
    assert "⚠ no trace.stop" in str(summary_view(torn))


def test_summary_warns_when_the_stored_summary_differs_from_the_file(tmp_path: Path) -> None:
    trace, _ = research_trace()
    trace.lines[-1].data["summary"]["errors"] = 0
    data = summary_data(trace.write(tmp_path))
    assert any("differs" in w for w in data["warnings"])


# -- trajectory ----------------------------------------------------------------


def test_trajectory_lists_actions_then_observations_per_turn(research: Path) -> None:
    steps = trajectory_view(research).data()
    assert [(s["turn"], s["trace"]) for s in steps] == [
        (0, "research"),
        (1, "research"),
        (None, "summarizer"),
    ]
    turn0 = steps[0]
    assert [a["model"] for a in turn0["actions"]] == ["gpt-x"]
    assert turn0["actions"][0]["finish_reason"] == "tool_calls"
    assert [(o["tool"], o["status"]) for o in turn0["observations"]] == [
        ("search", "ok"),
        ("fetch", "ok"),
        ("fetch", "error"),
        ("fetch", "ok"),
    ]
    assert turn0["observations"][2]["error"] == "TimeoutError: read timed out after 0.25s"
    assert [a["model"] for a in steps[1]["actions"]] == ["gpt-x", "mystery-model"]


# -- slowest -------------------------------------------------------------------


def test_slowest_orders_spans_longest_first_across_child_traces(research: Path) -> None:
    items = slowest_view(research, 100).data()
    durations = [i["duration_ns"] for i in items]
    assert durations == sorted(durations, reverse=True)
    assert len(items) == len(list(load_tree(research).walk(into_child_traces=True)))


def test_slowest_filters_by_kind_subtree_and_duration(research: Path) -> None:
    tools = slowest_view(research, 2, kinds=["tool"]).data()
    assert [(t["name"], t["duration_ns"] // MS) for t in tools] == [("fetch", 339), ("fetch", 238)]
    child = slowest_view(research, 10, span="0af7000000000009", min_duration_ns=100 * MS).data()
    assert [c["name"] for c in child] == ["summarize with sub-agent", "summarizer", "claude-x"]
    assert slowest_view(research, 0).data() == []


def test_slowest_rejects_a_negative_count(research: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        slowest_view(research, -1)


# -- formatting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (None, "?"),
        (999, "999ns"),
        (350_000, "350µs"),
        (4_200_000, "4.2ms"),
        (350_000_000, "350ms"),
        (1_320_000_000, "1.32s"),
        (125_000_000_000, "2m05.0s"),
    ],
)
def test_durations_read_in_a_fitting_unit(ns: int | None, text: str) -> None:
    assert F.duration(ns) == text


def test_tokens_costs_and_clipping_are_compact() -> None:
    assert [F.tokens(n) for n in (340, 1200, 12_345, 2_500_000, None)] == [
        "340",
        "1.2k",
        "12k",
        "2.5M",
        "?",
    ]
    assert [F.cost(c) for c in (0.004, 0.0061, 1.5, 0, None, 0.00001)] == [
        "$0.004",
        "$0.0061",
        "$1.50",
        "$0",
        "$?",
        "<$0.0001",
    ]
    assert F.clip("a  b\n\n c", 10) == "a b c"
    assert F.clip("abcdefghijkl", 5) == "abcd…"
    assert F.preview({"k": [1, 2]}) == '{"k":[1,2]}'


def test_a_view_renders_the_same_text_as_lines_and_as_a_string(research: Path) -> None:
    view = tree_view(research)
    assert str(view) == "\n".join(view) + "\n"
    assert ["".join(t for t, _ in line) for line in view.lines()] == list(view)


@pytest.mark.anyio
async def test_views_of_a_real_trace(tmp_path: Path) -> None:
    from _tracegen import record_agent

    path, _ = await record_agent(tmp_path, points=5)
    steps = trajectory_view(path).data()
    assert [s["turn"] for s in steps] == [0, 1, None]
    assert [(o["tool"], o["status"]) for o in steps[0]["observations"]] == [
        ("search", "cancelled"),
        ("fetch", "cancelled"),
        ("flaky", "error"),
        ("flaky", "ok"),
    ]
    assert [a["model"] for a in steps[1]["actions"]] == ["mystery"]
    tree_text = str(tree_view(path))
    assert "∥ tool search" in tree_text
    assert "trace helper" in tree_text
    timeline = timeline_view(path).data()
    assert len(timeline) == path.read_bytes().count(b"\n")
    summary = summary_data(path)
    assert summary["warnings"] == []
    assert summary["latency"]["tool"]["flaky"]["errors"] == 1
