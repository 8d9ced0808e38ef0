"""Chrome / Perfetto Trace Event Format export."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _tracegen import ROOT_TRACE, TraceFile, crashed_trace, write_research
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynctrace._reading import TraceTree, load_tree
from asynctrace.export import to_chrome_trace, write_chrome_trace

# -- a model of how Perfetto imports the JSON ----------------------------------
# What Perfetto's JSON importer (v52, checked by loading crafted files in its
# UI) does: it sorts events by time; at equal times complete events come
# first, longest first, then instants, then flow events, whatever the file
# order.  It keeps a stack of open slices per thread track, closes a slice
# once a slice at or after its end arrives, makes the innermost open slice
# the parent of a new one, and binds a flow start ("s") or end ("f" with
# "bp": "e") to the innermost slice on the stack when it is processed.


@dataclass(eq=False)
class Slice:
    event: dict[str, Any]
    track: tuple[int, int]
    ts_ns: int
    end_ns: int
    parent: Slice | None
    depth: int
    flows_in: list[Slice] = field(default_factory=list)
    flows_out: list[Slice] = field(default_factory=list)

    def linked(self) -> list[Slice]:
        return self.flows_in + self.flows_out


@dataclass
class Model:
    slices: list[Slice]
    spans: dict[str, Slice]
    """Span slices by span_id."""
    instants: dict[int, Slice]
    """Instants by seq."""
    flows: list[tuple[Slice, Slice]]


def _ns(us: float) -> int:
    return round(us * 1000)


def perfetto_model(data: dict[str, Any]) -> Model:
    rank = {"X": 0, "i": 1, "s": 2, "f": 2}
    events = [(e, i) for i, e in enumerate(data["traceEvents"]) if e["ph"] != "M"]
    events.sort(key=lambda ei: (_ns(ei[0]["ts"]), rank[ei[0]["ph"]], -ei[0].get("dur", 0), ei[1]))
    stacks: dict[tuple[int, int], list[Slice]] = {}
    begun: dict[int, Slice] = {}
    model = Model([], {}, {}, [])
    for e, _ in events:
        track = (e["pid"], e["tid"])
        ts = _ns(e["ts"])
        stack = stacks.setdefault(track, [])
        if e["ph"] in ("X", "i"):
            while stack and stack[-1].end_ns <= ts:
                stack.pop()
            end = ts + (_ns(e["dur"]) if e["ph"] == "X" else 0)
            s = Slice(e, track, ts, end, stack[-1] if stack else None, len(stack))
            stack.append(s)
            model.slices.append(s)
            if e["ph"] == "X":
                model.spans[e["args"]["span_id"]] = s
            else:
                model.instants[e["args"]["seq"]] = s
        elif e["ph"] in "sf":
            # The stack is not closed for a flow event: its top may have ended.
            assert stack, f"flow {e['id']} binds to no slice"
            top = stack[-1]
            assert top.ts_ns == ts, f"flow {e['id']} binds to a slice begun earlier"
            if e["ph"] == "s":
                assert e["id"] not in begun, f"flow {e['id']} starts twice"
                begun[e["id"]] = top
            else:
                assert e.get("bp") == "e"
                assert e["id"] in begun, f"flow {e['id']} ends before it starts"
                source = begun[e["id"]]
                model.flows.append((source, top))
                top.flows_in.append(source)
                source.flows_out.append(top)
        else:
            raise AssertionError(f"unexpected phase {e['ph']}")
    return model


def tree_parent_ids(tree: TraceTree) -> dict[str, str | None]:
    """span key -> key of the span it hangs under (across child traces)."""
    parents: dict[str, str | None] = {}
    for sub in tree.traces():
        for node in sub.spans.values():
            if node.parent is not None:
                parents[node.key] = node.parent.key
            elif sub.parent_node is not None:
                parents[node.key] = sub.parent_node.key
            else:
                parents[node.key] = None
    return parents


def assert_perfetto_structure(data: dict[str, Any], path: Path) -> Model:
    """What the issue asks of the export, checked on the imported model:
    every span once; slices nest on each track and only ever under their own
    parent; a child not nested under its parent is linked to it by a flow;
    point events inside their span sit under it on its track; every flow
    pairs; thread ids are unique and no thread id is a process id; every
    track is named and sorted."""
    tree = load_tree(path)
    expected = Counter(key for t in tree.traces() for key in t.spans)
    exported = Counter(e["args"]["span_id"] for e in data["traceEvents"] if e["ph"] == "X")
    assert exported == expected
    assert set(exported.values()) <= {1}

    flow_ids = Counter((e["ph"], e["id"]) for e in data["traceEvents"] if e["ph"] in "sf")
    assert set(flow_ids.values()) <= {1}
    assert {i for ph, i in flow_ids if ph == "s"} == {i for ph, i in flow_ids if ph == "f"}

    model = perfetto_model(data)
    assert len(model.flows) == len(flow_ids) // 2
    for s in model.slices:
        if s.parent is not None:
            assert s.end_ns <= s.parent.end_ns, f"{s.event['name']} overlaps its parent"
            assert s.parent.event["ph"] == "X"
    parents = tree_parent_ids(tree)
    children_linked = 0
    for span_id, s in model.spans.items():
        parent = parents[span_id]
        if parent is None:
            assert s.parent is None
            continue
        ps = model.spans[parent]
        if s.parent is not None:
            assert s.parent is ps, f"{s.event['name']} nests under {s.parent.event['name']}"
            assert s not in ps.linked()
        elif s.ts_ns < ps.ts_ns:
            # Begun before its parent (a call recorded after the fact, clock
            # skew): the arrow runs in time order, from the child.
            assert ps.flows_in.count(s) == 1, f"{s.event['name']} is not linked to its parent"
            children_linked += 1
        else:
            assert s.flows_in.count(ps) == 1, f"{s.event['name']} has no flow from its parent"
            children_linked += 1
    for sub in tree.traces():
        for node in sub.spans.values():
            end = node.end_ts_ns
            for ev in node.events:
                s = model.instants[ev.seq] if sub is tree else _instant_of(model, sub, ev.seq)
                ps = model.spans[node.key]
                # At the very start of its span the event would tie with it.
                inside = node.start_ts_ns < ev.ts_ns < (end if end is not None else ev.ts_ns + 1)
                if inside:
                    assert s.parent is ps, f"{s.event['name']} is not under its span"
                    assert s.track == ps.track
                else:
                    assert s.parent is None
                    assert ps in s.linked()
                    children_linked += 1
        for ev in sub.events:
            s = model.instants[ev.seq] if sub is tree else _instant_of(model, sub, ev.seq)
            assert s.parent is None

    assert len(model.flows) == children_linked, "a flow links what needs no link"
    meta = [e for e in data["traceEvents"] if e["ph"] == "M"]
    pids = {e["pid"] for e in meta if e["name"] == "process_name"}
    named = [(e["pid"], e["tid"]) for e in meta if e["name"] == "thread_name"]
    sorted_ = {(e["pid"], e["tid"]) for e in meta if e["name"] == "thread_sort_index"}
    tids = [tid for _, tid in named]
    assert len(tids) == len(set(tids)), "thread ids repeat"
    assert not set(tids) & pids, "a thread id equals a process id"
    used = {s.track for s in model.slices}
    assert used <= set(named) == sorted_
    return model


def _instant_of(model: Model, sub: TraceTree, seq: int) -> Slice:
    # Child traces number their lines on their own: match by trace too.
    for s in model.slices:
        ev = s.event
        if ev["ph"] == "i" and ev["args"]["seq"] == seq and ev["pid"] == _pid_of(model, sub):
            return s
    raise AssertionError(f"instant {seq} of {sub.trace_id} not exported")


def _pid_of(model: Model, sub: TraceTree) -> int:
    key = next(iter(sub.spans))
    return model.spans[key].track[0]


def export_checked(trace: TraceFile, folder: Path) -> tuple[dict[str, Any], Model]:
    """Write the trace, export it, and check the export's structure."""
    path = trace.write(folder)
    data = to_chrome_trace(path)
    return data, assert_perfetto_structure(data, path)


def complete_events(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in data["traceEvents"] if e["ph"] == "X"]


def thread_names(data: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


def test_export_is_a_trace_event_format_object(research: Path) -> None:
    data = to_chrome_trace(research)
    assert set(data) >= {"traceEvents", "displayTimeUnit"}
    assert data["displayTimeUnit"] == "ms"
    for e in data["traceEvents"]:
        assert e["ph"] in {"X", "i", "M", "s", "f"}
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


def test_the_research_trace_has_the_structure_perfetto_needs(research: Path) -> None:
    assert_perfetto_structure(to_chrome_trace(research), research)


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
    assert "cname" not in llm


def test_a_failed_span_says_so_in_its_name_and_colour(research: Path) -> None:
    data = to_chrome_trace(research)
    [failed] = [e for e in complete_events(data) if e["args"]["status"] == "error"]
    assert failed["name"] == "✗ tool fetch (TimeoutError)"
    assert failed["cname"] == "terrible"
    assert failed["args"]["error"] == "TimeoutError: read timed out after 0.25s"
    ok = [e for e in complete_events(data) if e["args"]["status"] == "ok"]
    assert all("✗" not in e["name"] and "cname" not in e for e in ok)


def test_cancelled_and_open_spans_are_marked(tmp_path: Path) -> None:
    t = TraceFile(ROOT_TRACE, label="marks")
    run = t.start("run", 0, name="marks")
    tool = t.start("tool", 1, run, name="slow")
    t.stop(tool, 5, "cancelled", name="slow")
    t.start("tool", 6, run, name="hung")
    path = t.write(tmp_path)
    names = {e["name"]: e.get("cname") for e in complete_events(to_chrome_trace(path))}
    assert names == {
        "run marks (open)": "grey",
        "⊘ tool slow (cancelled)": "bad",
        "tool hung (open)": "grey",
    }


def test_point_events_are_named_for_what_they_say(research: Path) -> None:
    data = to_chrome_trace(research)
    names = sorted(e["name"] for e in data["traceEvents"] if e["ph"] == "i")
    assert names == [
        "cache.miss key=asyncio event loop",
        "checkpoint answer saved",
        "decision plan → search_and_fetch (need primary sources)",
        "error TimeoutError: fetch https://example.org/slow timed out recovery retry ✓",
    ]
    [decision] = [e for e in data["traceEvents"] if e["ph"] == "i" and e["cat"] == "decision"]
    assert decision["args"]["parent_span_id"] is not None
    assert decision["args"]["event"] == "decision"


def test_a_point_event_nests_under_its_span_not_under_a_concurrent_sibling(
    tmp_path: Path,
) -> None:
    # The demo's defect: an error whose parent is the turn showed as a child
    # of the tool that happened to be open on the turn's track.
    t = TraceFile(ROOT_TRACE, label="siblings")
    run = t.start("run", 0, name="siblings")
    turn = t.start("turn", 1, run, name="turn", turn=1)
    search = t.start("tool", 2, turn, name="web_search")
    t.emit("error", 10, parent=turn, error_type="TOOL_TIMEOUT", message="arxiv timed out")
    t.stop(search, 20, name="web_search")
    t.stop(turn, 30, name="turn", turn=1)
    t.stop(run, 31, name="siblings")
    t.close(32)
    _, model = export_checked(t, tmp_path)
    [error] = list(model.instants.values())
    assert error.parent is model.spans[turn]
    assert model.spans[search].parent is None  # moved to its own lane, linked by a flow
    assert model.spans[search].flows_in == [model.spans[turn]]


def test_lanes_are_named_for_every_span_they_hold(tmp_path: Path) -> None:
    # A lane that first held "tool wiki" and later the arxiv retry is named
    # for both, not for the first span alone.
    t = TraceFile(ROOT_TRACE, label="lanes")
    run = t.start("run", 0, name="lanes")
    wiki = t.start("tool", 1, run, name="wiki")
    arxiv = t.start("tool", 1.5, run, name="arxiv")
    t.stop(arxiv, 3, "error", name="arxiv", error_type="TimeoutError")
    pubmed = t.start("tool", 3.5, run, name="pubmed")
    t.stop(wiki, 4, name="wiki")
    t.stop(pubmed, 6, name="pubmed")
    t.stop(run, 7, name="lanes")
    t.close(8)
    data, model = export_checked(t, tmp_path)
    names = thread_names(data)
    for s in model.slices:
        if s.depth == 0 and s.event["ph"] == "X":
            label = s.event["name"].removeprefix("✗ ").split(" (")[0]
            assert label in names[s.track], (label, names[s.track])
    assert sorted(names.values()) == ["run lanes", "tool arxiv, tool pubmed"]


def test_lanes_follow_the_tree_order(research: Path) -> None:
    data = to_chrome_trace(research)
    model = perfetto_model(data)
    order = {
        (e["pid"], e["tid"]): e["args"]["sort_index"]
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_sort_index"
    }
    tree = load_tree(research)
    first_seen: dict[tuple[int, int], int] = {}
    for i, node in enumerate(tree.walk(into_child_traces=True)):
        first_seen.setdefault(model.spans[node.key].track, i)
    for pid in {p for p, _ in order}:
        tracks = [k for k in order if k[0] == pid]
        by_sort = sorted(tracks, key=order.__getitem__)
        assert by_sort == sorted(tracks, key=lambda k: first_seen.get(k, 10**9))
        assert [tid for _, tid in by_sort] == sorted(tid for _, tid in tracks)
    # The root run is the first track of the first process.
    [root] = tree.roots
    assert order[model.spans[root.key].track] == 0


def test_the_child_trace_is_its_own_process_linked_to_its_spawn_span(research: Path) -> None:
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
    model = perfetto_model(data)
    run = model.spans[child[0]["args"]["span_id"]]
    [source] = run.flows_in
    assert source.event["name"] == "span summarize with sub-agent"
    assert source.track[0] == 1


def test_the_wall_clock_start_is_in_the_metadata(research: Path) -> None:
    data = to_chrome_trace(research)
    assert data["otherData"]["start_time"] == "2026-01-01T00:00:00.000000Z"
    assert data["otherData"]["start_unix_ns"] == 1_767_225_600_000_000_000
    labels = [e["args"]["labels"] for e in data["traceEvents"] if e["name"] == "process_labels"]
    assert labels == ["started 2026-01-01T00:00:00.000000Z", "started 2026-01-01T00:00:01.335000Z"]


def test_spans_run_on_another_thread_get_that_threads_lane(tmp_path: Path) -> None:
    t = TraceFile(ROOT_TRACE, label="threads")
    run = t.start("run", 0, name="threads")
    hop = t.emit("tool.start", 1, span_id="00000000000000aa", parent=run, name="blocking")
    hop.thread_id = 31337
    t.emit(
        "tool.stop",
        9,
        span_id="00000000000000aa",
        parent=run,
        duration_ms=8,
        status="ok",
        name="blocking",
    )
    local = t.start("tool", 2, run, name="local")
    t.stop(local, 3, name="local")
    t.stop(run, 10, name="threads")
    t.close(11)
    data, model = export_checked(t, tmp_path)
    names = thread_names(data)
    hopped = model.spans["00000000000000aa"]
    assert names[hopped.track] == "thread 31337"
    assert hopped.event["args"]["thread_id"] == 31337
    assert model.spans[local].track == model.spans[run].track
    assert "thread_id" not in model.spans[local].event["args"]


def test_an_open_span_lasts_until_the_end_of_the_trace(tmp_path: Path) -> None:
    path = crashed_trace().write(tmp_path)
    data = to_chrome_trace(path)
    parse = next(e for e in complete_events(data) if e["name"] == "tool parse (open)")
    assert parse["args"]["status"] == "open"
    assert parse["ts"] + parse["dur"] == 50_000.0
    assert_perfetto_structure(data, path)


def test_write_chrome_trace_writes_json_that_loads(research: Path, tmp_path: Path) -> None:
    out = write_chrome_trace(research, tmp_path / "out.json")
    loaded = json.loads(out.read_text())
    assert loaded == json.loads(json.dumps(to_chrome_trace(research)))


@st.composite
def span_forests(draw: st.DrawFn) -> list[tuple[int, int, int, list[int]]]:
    """(parent index or -1, start ms, duration ms, point event times): children
    may start anywhere after their parent and even outlive it, as clock skew
    or detached tasks can make them."""
    n = draw(st.integers(min_value=1, max_value=25))
    spans: list[tuple[int, int, int, list[int]]] = []
    for i in range(n):
        parent = draw(st.integers(min_value=-1, max_value=i - 1))
        low = spans[parent][1] if parent >= 0 else 0
        start = draw(st.integers(min_value=low, max_value=low + 50))
        duration = draw(st.integers(min_value=0, max_value=60))
        points = draw(st.lists(st.integers(min_value=start, max_value=start + 70), max_size=2))
        spans.append((parent, start, duration, points))
    return spans


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(forest=span_forests())
def test_any_span_forest_exports_the_structure_perfetto_needs(
    tmp_path: Path, forest: list[tuple[int, int, int, list[int]]]
) -> None:
    trace = TraceFile(ROOT_TRACE)
    ids = [f"{i + 1:016x}" for i in range(len(forest))]
    for i, (parent, start, _, _) in enumerate(forest):
        trace.emit(
            "span.start",
            start,
            span_id=ids[i],
            parent=ids[parent] if parent >= 0 else None,
            name=f"s{i}",
        )
    for i, (_, _, _, points) in enumerate(forest):
        for at in points:
            trace.emit("note", at, parent=ids[i], n=i)
    for i, (parent, start, duration, _) in enumerate(forest):
        trace.emit(
            "span.stop",
            start + duration,
            span_id=ids[i],
            parent=ids[parent] if parent >= 0 else None,
            duration_ms=duration,
            status="ok",
            name=f"s{i}",
        )
    trace.emit("loose", 5)
    trace.close(200)
    path = trace.write(tmp_path, name="forest.jsonl")
    assert_perfetto_structure(to_chrome_trace(path), path)


@pytest.mark.anyio
async def test_a_real_trace_exports_the_structure_perfetto_needs(tmp_path: Path) -> None:
    from _tracegen import record_agent

    path, _ = await record_agent(tmp_path)
    data = to_chrome_trace(path)
    assert_perfetto_structure(data, path)
    pids = {e["pid"] for e in data["traceEvents"]}
    assert pids == {1, 2}  # the trace and its child trace
    tools = [e for e in complete_events(data) if e["cat"] == "tool" and e["pid"] == 1]
    concurrent = [e for e in tools if e["args"]["status"] != "ok" or e["name"] != "tool flaky"]
    assert len({e["tid"] for e in concurrent}) >= 2
