"""The streaming reader, summarize, span trees and child-trace joining."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO

import pytest
from _tracegen import (
    CHILD_TRACE,
    ROOT_TRACE,
    TraceFile,
    crashed_trace,
    record_agent,
    research_trace,
    torn_bytes,
    write_research,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asynctrace._reading._open as opening
import asynctrace._reading._reader as reader_module
from asynctrace import Event
from asynctrace._events._codec import EVENT_DECODER
from asynctrace._reading import _problems as P
from asynctrace._reading import (
    build_tree,
    load_tree,
    read,
    register_opener,
    summarize,
    validate,
)


def kinds_of(problems: list[P.Problem]) -> list[str]:
    return [p.kind for p in problems]


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


# -- reading -----------------------------------------------------------------


def test_reads_every_line_as_a_typed_event_in_file_order(research: Path) -> None:
    reader = read(research)
    events = list(reader)
    expected = [EVENT_DECODER.decode(line) for line in research.read_bytes().splitlines()]
    assert events == expected
    assert all(isinstance(e, Event) for e in events)
    assert [e.seq for e in events] == list(range(len(events)))
    assert reader.problems == []
    assert not reader.torn_tail
    assert reader.line_count == len(events)


def test_exposes_the_trace_start_and_stop_events(research: Path) -> None:
    reader = read(research)
    assert reader.start is not None
    assert reader.start.event == "trace.start"
    assert reader.trace_id == ROOT_TRACE
    # Known before iterating (from the end of the file) and after it.
    assert reader.stop is not None
    assert reader.stop.event == "trace.stop"
    list(reader)
    assert reader.stop is not None
    assert reader.stop.data["reason"] == "exit"


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such trace file"):
        read(tmp_path / "nope.jsonl")


def test_a_directory_is_not_a_trace_file(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read(tmp_path)


def test_a_path_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        read(42)  # type: ignore[arg-type]


def test_an_empty_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    reader = read(path)
    assert list(reader) == []
    assert kinds_of(reader.problems) == [P.EMPTY]
    assert reader.start is None
    assert reader.stop is None


def test_a_file_whose_first_line_is_not_trace_start_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"ts_ns": 1, "event": "hello", "data": {}}\n')
    reader = read(path)
    assert reader.start is None
    assert not reader.is_trace
    assert kinds_of(reader.problems) == [P.NOT_A_TRACE]
    assert [e.event for e in reader] == ["hello"]


def test_a_text_file_is_not_a_trace_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "readme.txt"
    path.write_text("hello\nworld\n")
    reader = read(path)
    assert list(reader) == []
    assert kinds_of(reader.problems) == [P.NOT_A_TRACE, P.MALFORMED, P.TORN_TAIL]


def test_a_torn_final_line_is_skipped_and_reported(tmp_path: Path) -> None:
    trace = crashed_trace()
    path = tmp_path / "torn.jsonl"
    path.write_bytes(torn_bytes(trace))
    reader = read(path)
    events = list(reader)
    assert events == trace.lines
    assert reader.torn_tail
    assert reader.stop is None
    [problem] = reader.problems
    assert problem.kind == P.TORN_TAIL
    assert problem.line == len(trace.lines) + 1


def test_an_undecodable_last_line_with_a_newline_counts_as_torn(tmp_path: Path) -> None:
    trace = crashed_trace()
    path = tmp_path / "torn.jsonl"
    path.write_bytes(trace.encoded() + b'{"seq": 9, "ts_\n\n')
    reader = read(path)
    assert list(reader) == trace.lines
    assert reader.torn_tail
    assert kinds_of(reader.problems) == [P.TORN_TAIL]


def test_a_malformed_line_in_the_middle_is_skipped_with_its_line_number(tmp_path: Path) -> None:
    trace = crashed_trace()
    lines = trace.encoded().splitlines(keepends=True)
    lines.insert(2, b'{"seq": 99, this is not json}\n')
    lines.insert(4, b'{"seq": 100, "event": "no.ts", "data": {}}\n')
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(lines))
    reader = read(path)
    assert list(reader) == trace.lines
    assert not reader.torn_tail
    assert [(p.line, p.kind) for p in reader.problems] == [(3, P.MALFORMED), (5, P.MALFORMED)]


def test_a_valid_final_line_without_newline_is_read_and_noted(tmp_path: Path) -> None:
    trace = research_trace()[0]
    path = tmp_path / "t.jsonl"
    path.write_bytes(trace.encoded().rstrip(b"\n"))
    reader = read(path)
    assert list(reader) == trace.lines
    assert kinds_of(reader.problems) == [P.NO_FINAL_NEWLINE]
    assert not reader.torn_tail
    assert reader.stop is not None


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    trace = crashed_trace()
    lines = trace.encoded().splitlines(keepends=True)
    path = tmp_path / "t.jsonl"
    path.write_bytes(lines[0] + b"\n  \n" + b"".join(lines[1:]))
    reader = read(path)
    assert [n for n, _ in reader.numbered()] == [1, *range(4, len(lines) + 3)]
    assert reader.problems == []


def test_iterating_twice_yields_the_same_events_and_problems(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    path.write_bytes(torn_bytes(crashed_trace()))
    reader = read(path)
    first, problems = list(reader), list(reader.problems)
    assert list(reader) == first
    assert reader.problems == problems


def test_reads_across_chunk_boundaries_and_lines_longer_than_a_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = research_trace()[0]
    trace.emit("note", 5, text="x" * 5000)
    trace.close(6)
    path = trace.write(tmp_path)
    monkeypatch.setattr(reader_module, "CHUNK_BYTES", 97)
    assert list(read(path)) == trace.lines


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunk=st.integers(min_value=1, max_value=400),
    bad_at=st.lists(st.integers(min_value=1, max_value=25), max_size=3, unique=True),
)
def test_chunk_size_never_changes_what_is_read_or_reported(
    tmp_path: Path, chunk: int, bad_at: list[int]
) -> None:
    trace = research_trace()[0]
    lines = trace.encoded().splitlines(keepends=True)
    for i in sorted(bad_at, reverse=True):
        lines.insert(i, b"{oops\n")
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(lines))
    baseline = read(path)
    expected = list(baseline)
    original = reader_module.CHUNK_BYTES
    reader_module.CHUNK_BYTES = chunk
    try:
        reader = read(path)
        assert list(reader) == expected == trace.lines
        assert reader.problems == baseline.problems
        assert len(reader.problems) == len(bad_at)
    finally:
        reader_module.CHUNK_BYTES = original


def test_problems_kept_are_capped_but_all_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"junk\n" * (reader_module.MAX_PROBLEMS + 50))
    reader = read(path)
    assert list(reader) == []
    assert len(reader.problems) == reader_module.MAX_PROBLEMS
    assert reader.problem_count == reader_module.MAX_PROBLEMS + 51  # + not_a_trace


def test_gzip_traces_read_like_plain_ones(tmp_path: Path) -> None:
    trace = research_trace()[0]
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(trace.encoded()))
    reader = read(path)
    assert reader.start is not None
    assert reader.stop is not None
    assert list(reader) == trace.lines


def test_a_registered_opener_handles_its_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opening, "_OPENERS", dict(opening._OPENERS))
    trace = crashed_trace()
    path = tmp_path / "t.jsonl.rev"
    path.write_bytes(trace.encoded()[::-1])

    def reverse(p: Path) -> BinaryIO:
        return io.BytesIO(p.read_bytes()[::-1])

    register_opener(".rev", reverse)
    assert list(read(path)) == trace.lines


def test_register_opener_rejects_a_bad_suffix() -> None:
    with pytest.raises(ValueError, match="suffix"):
        register_opener("gz", gzip.open)  # type: ignore[arg-type]


# -- summarize ---------------------------------------------------------------


def test_summarize_recomputes_the_summary_stored_in_trace_stop(research: Path) -> None:
    reader = read(research)
    assert reader.stop is not None
    assert summarize(research) == reader.stop.data["summary"]
    assert summarize(reader) == reader.stop.data["summary"]


def test_summarize_skips_the_collector_lines_in_an_event_list(research: Path) -> None:
    events = list(read(research))
    summary = summarize(events)
    assert summary["events"] == sum(
        e.event not in ("trace.start", "trace.stop", "agent.config") for e in events
    )


def test_summarize_of_a_crashed_trace_counts_what_reached_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    path.write_bytes(torn_bytes(crashed_trace()))
    summary = summarize(path)
    assert summary["events"] == 4
    assert summary["tool_calls"] == 1
    assert summary["spans_by_kind"] == {"tool": 1}


def test_summarize_rejects_items_that_are_not_events() -> None:
    with pytest.raises(TypeError, match="Event"):
        summarize([{"event": "x"}])  # type: ignore[list-item]


# -- trees -------------------------------------------------------------------


def test_spans_pair_by_id_and_nest_by_parent(research: Path) -> None:
    tree = build_tree(research)
    [run] = tree.roots
    assert (run.kind, run.name, run.status) == ("run", "research", "ok")
    assert run.duration_ns == 1_979_900_000
    turn0, turn1 = run.children
    assert [c.kind for c in turn0.children] == ["llm", "tool", "tool", "tool", "tool"]
    assert [e.event for e in turn0.events] == ["decision", "error"]
    llm = turn0.children[0]
    assert llm.data["model"] == "gpt-x"  # from the start
    assert llm.data["output_tokens"] == 340  # from the stop
    assert [c.kind for c in turn1.children] == ["llm", "span", "llm"]
    assert turn1.children[0].recorded
    assert tree.problems == []
    assert tree.event_count == 24


def test_a_recorded_call_starts_its_duration_before_it_was_emitted(research: Path) -> None:
    tree = build_tree(research)
    call = tree.roots[0].children[1].children[0]
    assert call.recorded
    assert call.start_ts_ns + (call.duration_ns or 0) == call.stop_ts_ns


def test_open_spans_and_unpaired_stops_are_reported(tmp_path: Path) -> None:
    trace = crashed_trace()
    trace.emit(
        "tool.stop", 70, span_id="abcdefabcdef0001", duration_ms=3, status="ok", name="ghost"
    )
    tree = build_tree(trace.write(tmp_path))
    assert [n.name for n in tree.open_spans] == ["crashy", "parse"]
    assert sorted(kinds_of(tree.problems)) == [P.OPEN_SPAN, P.OPEN_SPAN, P.UNPAIRED_STOP]
    ghost = tree.spans["abcdefabcdef0001"]
    assert ghost.start_ts_ns == TraceFile.ts(67)


def test_parent_links_that_loop_are_cut_not_followed_forever(tmp_path: Path) -> None:
    trace = TraceFile(ROOT_TRACE)
    a, b = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
    trace.emit("span.start", 1, span_id=a, parent=b, name="a")
    trace.emit("span.start", 2, span_id=b, parent=a, name="b")
    trace.emit("span.stop", 3, span_id=b, parent=a, duration_ms=1, status="ok", name="b")
    trace.emit("span.stop", 4, span_id=a, parent=b, duration_ms=3, status="ok", name="a")
    trace.close(5)
    tree = build_tree(trace.write(tmp_path))
    assert kinds_of(tree.problems) == [P.SPAN_CYCLE]
    assert {n.key for n in tree.walk()} == {a, b}


def test_load_tree_joins_the_child_trace_under_the_span_that_spawned_it(research: Path) -> None:
    tree = load_tree(research)
    spawn = tree.find("0af7000000000009")
    [child] = spawn.child_traces
    assert child.trace_id == CHILD_TRACE
    assert child.parent_node is spawn
    assert [t.trace_id for t in tree.traces()] == [ROOT_TRACE, CHILD_TRACE]
    assert [n.name for n in spawn.walk(into_child_traces=True)] == [
        "summarize with sub-agent",
        "summarizer",
        "claude-x",
        "word_count",
    ]
    assert list(tree.all_problems()) == []


def test_a_child_trace_is_found_by_its_trace_start_under_any_file_name(tmp_path: Path) -> None:
    parent, child = research_trace()
    path = parent.write(tmp_path)
    child.write(tmp_path, name="renamed.jsonl")
    tree = load_tree(path)
    assert [t.path.name for t in tree.children] == ["renamed.jsonl"]


def test_a_missing_child_trace_is_reported_not_raised(tmp_path: Path) -> None:
    parent, _ = research_trace()
    tree = load_tree(parent.write(tmp_path))
    assert kinds_of(tree.problems) == [P.MISSING_CHILD]
    assert CHILD_TRACE in tree.problems[0].message


def test_a_child_trace_without_the_parent_side_link_is_still_joined(tmp_path: Path) -> None:
    parent, child = research_trace(child=False)
    path = parent.write(tmp_path)
    child.write(tmp_path)
    tree = load_tree(path)
    [joined] = tree.find("0af7000000000009").child_traces
    assert joined.trace_id == CHILD_TRACE


def test_child_links_that_lead_back_to_an_ancestor_are_a_reported_cycle(tmp_path: Path) -> None:
    parent, child = research_trace()
    # The child links back to its parent from one of its own spans.
    back = child.start("span", 1861, name="loop")
    child.stop(back, 1862, name="loop", child_trace_id=ROOT_TRACE)
    path = parent.write(tmp_path)
    child.write(tmp_path)
    tree = load_tree(path)
    assert [t.trace_id for t in tree.traces()] == [ROOT_TRACE, CHILD_TRACE]
    [(owner, problem)] = list(tree.all_problems())
    assert owner.trace_id == CHILD_TRACE
    assert problem.kind == P.TRACE_CYCLE


def test_find_accepts_a_unique_span_id_prefix(research: Path) -> None:
    tree = load_tree(research)
    assert tree.find("5d2c").name == "summarizer"
    with pytest.raises(KeyError, match="spans with id"):
        tree.find("0af7")
    with pytest.raises(KeyError, match="no span"):
        tree.find("ffff")


# -- validate ----------------------------------------------------------------


def test_a_well_formed_trace_validates_clean(research: Path) -> None:
    assert validate(research) == []


def test_validate_reports_seq_gaps_bad_ids_and_broken_counts(tmp_path: Path) -> None:
    trace = research_trace()[0]
    trace.lines[5].seq = 50
    trace.lines[6].span_id = "XYZ"
    counts = trace.lines[-1].data["counts"]
    counts["emitted"] += 1
    problems = validate(trace.write(tmp_path))
    kinds = kinds_of(problems)
    assert "seq" in kinds
    assert "ids" in kinds
    assert "counts" in kinds
    assert any("emitted 25 != written 24" in p.message for p in problems)


def test_validate_reports_a_crashed_trace(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    path.write_bytes(torn_bytes(crashed_trace()))
    kinds = kinds_of(validate(path))
    assert kinds == [P.TORN_TAIL, P.OPEN_SPAN, P.OPEN_SPAN, P.MISSING_STOP]


def test_validate_reports_a_summary_that_does_not_match_the_file(tmp_path: Path) -> None:
    trace = research_trace()[0]
    trace.lines[-1].data["summary"]["tool_calls"] = 99
    problems = validate(trace.write(tmp_path))
    assert [p.kind for p in problems] == ["summary"]
    assert "tool_calls" in problems[0].message


# -- traces written by the real collector ---------------------------------------


@pytest.mark.anyio
async def test_reads_and_validates_a_trace_written_by_the_collector(tmp_path: Path) -> None:
    path, child_path = await record_agent(tmp_path)
    reader = read(path)
    events = list(reader)
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].event == "trace.start"
    assert events[-1].event == "trace.stop"
    assert reader.problems == []
    assert validate(path) == []
    assert validate(child_path) == []


@pytest.mark.anyio
async def test_load_tree_joins_a_real_child_trace_under_its_span(tmp_path: Path) -> None:
    path, child_path = await record_agent(tmp_path)
    tree = load_tree(path)
    [child] = tree.children
    assert child.path == child_path
    assert child.parent_node is not None
    assert child.parent_node.name == "delegate"
    assert [n.name for n in child.walk()] == ["helper", "word_count"]
    # Every span of the parent file is closed and nested under the run span.
    [run] = tree.roots
    assert {n.key for n in run.walk()} == set(tree.spans)
    assert tree.open_spans == []
    assert list(tree.all_problems()) == []


@pytest.mark.anyio
async def test_a_real_trace_torn_by_a_crash_mid_write_is_read_up_to_the_tear(
    tmp_path: Path,
) -> None:
    path, _ = await record_agent(tmp_path)
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    # Keep all but the last 6 lines, and half of the next one: what a
    # SIGKILL during a write leaves behind.
    kept = lines[:-6]
    torn_line = lines[-6][: len(lines[-6]) // 2]
    crashed = tmp_path / "crashed" / path.name
    crashed.parent.mkdir()
    crashed.write_bytes(b"".join(kept) + torn_line)

    reader = read(crashed)
    events = list(reader)
    assert events == [EVENT_DECODER.decode(x) for x in kept]
    assert reader.torn_tail
    assert reader.stop is None
    assert [(p.line, p.kind) for p in reader.problems] == [(len(kept) + 1, P.TORN_TAIL)]

    problems = validate(crashed)
    assert {P.TORN_TAIL, P.MISSING_STOP, P.OPEN_SPAN} <= set(kinds_of(problems))
    tree = load_tree(crashed)
    assert tree.open_spans  # the run span, at least, never stopped
    assert summarize(crashed)["events"] == sum(
        e.event not in ("trace.start", "agent.config") for e in events
    )


def test_an_omitted_stop_still_closes_its_span(tmp_path: Path) -> None:
    trace = TraceFile(ROOT_TRACE)
    sid = trace.start("tool", 1, name="big")
    trace.emit(
        "trace.event_omitted",
        9,
        span_id=sid,
        duration_ms=8,
        status="ok",
        event="tool.stop",
        bytes=10_000,
        cap=4096,
    )
    trace.close(10, oversize=1)
    path = trace.write(tmp_path)
    assert validate(path) == []
    tree = build_tree(path)
    node = tree.spans[sid]
    assert (node.status, node.duration_ns, node.data["omitted_bytes"]) == ("ok", 8_000_000, 10_000)
    assert tree.problems == []
    assert summarize(path)["tool_calls"] == 0  # the stop's data is gone
