"""Chrome / Perfetto Trace Event Format export."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from _tracegen import ROOT_TRACE, TraceFile, crashed_trace, write_research
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynctrace._reading import load_tree
from asynctrace.export import to_chrome_trace, write_chrome_trace

EPS_US = 1e-6


def complete_events(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in data["traceEvents"] if e["ph"] == "X"]


def assert_tracks_nest(data: dict[str, Any]) -> None:
    """On every (pid, tid), complete events are properly nested or disjoint."""
    tracks: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in complete_events(data):
        tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for key, intervals in tracks.items():
        intervals.sort(key=lambda iv: (iv[0], -iv[1]))
        stack: list[tuple[float, float]] = []
        for start, end in intervals:
            while stack and stack[-1][1] <= start + EPS_US:
                stack.pop()
            if stack:
                assert end <= stack[-1][1] + EPS_US, f"partial overlap on track {key}"
            stack.append((start, end))


def assert_every_span_once(data: dict[str, Any], path: Path) -> None:
    tree = load_tree(path)
    expected = Counter(key for t in tree.traces() for key in t.spans)
    exported = Counter(e["args"]["span_id"] for e in complete_events(data))
    assert exported == expected
    assert all(n == 1 for n in exported.values())


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


def test_export_is_a_trace_event_format_object(research: Path) -> None:
    data = to_chrome_trace(research)
    assert set(data) >= {"traceEvents", "displayTimeUnit"}
    assert data["displayTimeUnit"] == "ms"
    for e in data["traceEvents"]:
        assert e["ph"] in {"X", "i", "M"}
        assert isinstance(e["pid"], int)
        assert isinstance(e["tid"], int)
        assert isinstance(e["name"], str)
        if e["ph"] == "X":
            assert e["ts"] >= 0
            assert e["dur"] >= 0
            assert isinstance(e["args"], dict)
        if e["ph"] == "i":
            assert e["s"] == "t"
    json.dumps(data)  # plain JSON all the way down


def test_spans_are_complete_events_in_microseconds_with_attributes_as_args(
    research: Path,
) -> None:
    data = to_chrome_trace(research)
    [llm] = [e for e in complete_events(data) if e["args"].get("output_tokens") == 340]
    assert llm["name"] == "llm gpt-x"
    assert llm["cat"] == "llm"
    assert llm["ts"] == 2000.0
    assert llm["dur"] == 350_000.0
    assert llm["args"]["model"] == "gpt-x"
    assert llm["args"]["status"] == "ok"


def test_point_events_are_instants_on_their_span_track(research: Path) -> None:
    data = to_chrome_trace(research)
    instants = {e["name"]: e for e in data["traceEvents"] if e["ph"] == "i"}
    assert set(instants) == {"decision", "error", "cache.miss", "checkpoint"}
    search = next(e for e in complete_events(data) if e["name"] == "tool search")
    assert instants["cache.miss"]["tid"] == search["tid"]
    assert instants["cache.miss"]["ts"] == 365_000.0


def test_every_span_is_exported_exactly_once(research: Path) -> None:
    assert_every_span_once(to_chrome_trace(research), research)


def test_concurrent_spans_go_on_separate_tracks_that_nest_properly(research: Path) -> None:
    data = to_chrome_trace(research)
    assert_tracks_nest(data)
    fetches = [e for e in complete_events(data) if e["name"] == "tool fetch"]
    first, second = fetches[0], fetches[1]  # 361..700 and 362..600 overlap
    assert first["tid"] != second["tid"]


def test_the_child_trace_is_its_own_named_process(research: Path) -> None:
    data = to_chrome_trace(research)
    names = {
        e["pid"]: e["args"]["name"]
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "process_name"
    }
    assert names == {
        1: "research 0af76519",
        2: "summarizer 5d2c5b0a (child of span summarize with sub-agent)",
    }
    child = [e for e in complete_events(data) if e["pid"] == 2]
    assert [e["name"] for e in child] == ["run summarizer", "llm claude-x", "tool word_count"]
    assert child[0]["ts"] == 1_336_000.0  # on the root trace's clock


def test_every_used_track_has_a_thread_name(research: Path) -> None:
    data = to_chrome_trace(research)
    named = {
        (e["pid"], e["tid"])
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    used = {(e["pid"], e["tid"]) for e in data["traceEvents"] if e["ph"] != "M"}
    assert used <= named


def test_an_open_span_lasts_until_the_end_of_the_trace(tmp_path: Path) -> None:
    path = crashed_trace().write(tmp_path)
    data = to_chrome_trace(path)
    parse = next(e for e in complete_events(data) if e["name"] == "tool parse")
    assert parse["args"]["status"] == "open"
    assert parse["ts"] + parse["dur"] == 50_000.0
    assert_tracks_nest(data)
    assert_every_span_once(data, path)


def test_write_chrome_trace_writes_json_that_loads(research: Path, tmp_path: Path) -> None:
    out = write_chrome_trace(research, tmp_path / "out.json")
    loaded = json.loads(out.read_text())
    assert loaded == json.loads(json.dumps(to_chrome_trace(research)))


@st.composite
def span_forests(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """(parent index or -1, start ms, duration ms): children may start
    anywhere and even outlive their parents, as clock skew or detached
    tasks can make them."""
    n = draw(st.integers(min_value=1, max_value=25))
    spans: list[tuple[int, int, int]] = []
    for i in range(n):
        parent = draw(st.integers(min_value=-1, max_value=i - 1))
        low = spans[parent][1] if parent >= 0 else 0
        start = draw(st.integers(min_value=low, max_value=low + 50))
        spans.append((parent, start, draw(st.integers(min_value=0, max_value=60))))
    return spans


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(forest=span_forests())
def test_any_span_forest_exports_nested_tracks_with_each_span_once(
    tmp_path: Path, forest: list[tuple[int, int, int]]
) -> None:
    trace = TraceFile(ROOT_TRACE)
    ids = [f"{i + 1:016x}" for i in range(len(forest))]
    for i, (parent, start, _) in enumerate(forest):
        trace.emit(
            "span.start",
            start,
            span_id=ids[i],
            parent=ids[parent] if parent >= 0 else None,
            name=f"s{i}",
        )
    for i, (parent, start, duration) in enumerate(forest):
        trace.emit(
            "span.stop",
            start + duration,
            span_id=ids[i],
            parent=ids[parent] if parent >= 0 else None,
            duration_ms=duration,
            status="ok",
            name=f"s{i}",
        )
    trace.close(200)
    path = trace.write(tmp_path, name="forest.jsonl")
    data = to_chrome_trace(path)
    assert_tracks_nest(data)
    assert_every_span_once(data, path)


@pytest.mark.anyio
async def test_a_real_trace_exports_nested_tracks_with_each_span_once(tmp_path: Path) -> None:
    from _tracegen import record_agent

    path, _ = await record_agent(tmp_path)
    data = to_chrome_trace(path)
    assert_tracks_nest(data)
    assert_every_span_once(data, path)
    pids = {e["pid"] for e in data["traceEvents"]}
    assert pids == {1, 2}  # the trace and its child trace
    tools = [e for e in complete_events(data) if e["cat"] == "tool" and e["pid"] == 1]
    concurrent = [e for e in tools if e["args"]["status"] != "ok" or e["name"] != "tool flaky"]
    assert len({e["tid"] for e in concurrent}) >= 2
