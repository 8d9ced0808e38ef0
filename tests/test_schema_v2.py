"""Schema v2 on the reading side: files of one distributed trace share its
trace id and are joined by file ids; version 1 files still read and join."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from _tracegen import CHILD_TRACE, ROOT_TRACE, research_trace

import asynctrace
from asynctrace._cli._main import main as cli_main
from asynctrace._cli._main import newest_trace
from asynctrace.testing import load_events

pytestmark = pytest.mark.anyio

CHILD_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import asynctrace

    async def main():
        async with asynctrace.collector(trace_dir=sys.argv[1], label="worker"):
            async with asynctrace.span("worker-job", kind="run"):
                pass

    asyncio.run(main())
    """
)


async def _distributed(tmp_path: Path) -> Path:
    """A parent file, an in-process child file and a child process's file."""
    async with asynctrace.collector(trace_dir=tmp_path, label="main") as trace:
        async with asynctrace.span("agent", kind="run"):
            async with asynctrace.span("spawn", kind="tool"):
                await anyio.run_process(
                    [sys.executable, "-c", CHILD_SCRIPT, str(tmp_path)],
                    env=asynctrace.child_environ(),
                )
            async with asynctrace.span("delegate"):
                async with asynctrace.collector(
                    trace_dir=tmp_path, label="helper", parent=asynctrace.capture()
                ):
                    async with asynctrace.span("helper-job", kind="run"):
                        pass
    assert trace.path is not None
    return Path(trace.path)


async def test_every_file_of_a_distributed_run_has_the_trace_id_and_its_own_file_id(
    tmp_path: Path,
) -> None:
    root = await _distributed(tmp_path)
    files = sorted(tmp_path.glob("*.jsonl"))
    starts = [load_events(p)[0] for p in files]
    assert len(files) == 3
    assert {s.trace_id for s in starts} == {load_events(root)[0].trace_id}
    assert len({s.data["file_id"] for s in starts}) == 3
    assert all(s.data["schema_version"] == asynctrace.SCHEMA_VERSION == 2 for s in starts)
    for path, start in zip(files, starts, strict=True):
        assert path.name.endswith(f"_{start.trace_id}_{start.data['file_id']}.jsonl")
        assert asynctrace.validate(path) == []


def test_validate_reports_a_v2_file_without_a_file_id(tmp_path: Path) -> None:
    from _tracegen import TraceFile

    trace = TraceFile(ROOT_TRACE, schema_version=2)
    trace.close(1)
    problems = asynctrace.validate(trace.write(tmp_path))
    assert [p.kind for p in problems] == ["fields"] and "file_id" in problems[0].message


async def test_load_tree_joins_v2_files_under_the_spans_that_spawned_them(tmp_path: Path) -> None:
    tree = asynctrace.load_tree(await _distributed(tmp_path))
    assert list(tree.all_problems()) == []
    owners = {c.label: c.parent_node.name for c in tree.children if c.parent_node is not None}
    assert owners == {"worker": "spawn", "helper": "delegate"}
    names = [n.name for n in tree.walk(into_child_traces=True)]
    assert names == ["agent", "spawn", "worker-job", "delegate", "helper-job"]
    # Views tell the files apart though they share the trace id.
    slow = {d["name"]: d for d in asynctrace.slowest_view(tree, 10).data()}
    assert slow["worker-job"]["file_id"] != slow["agent"]["file_id"]
    assert slow["worker-job"]["trace_id"] == slow["agent"]["trace_id"]


async def test_a_v2_child_without_the_parent_side_link_is_joined_by_its_parent_file_id(
    tmp_path: Path,
) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, label="main") as trace:
        ctx = asynctrace.capture()  # no span: the child hangs off the file itself
        async with asynctrace.collector(trace_dir=tmp_path, label="helper", parent=ctx):
            pass
    tree = asynctrace.load_tree(trace.path)  # type: ignore[arg-type]
    [child] = tree.children
    assert child.label == "helper" and child.parent_node is None
    assert child.parent_file_id == tree.file_id


async def test_the_cli_picks_the_root_file_and_draws_the_joined_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = await _distributed(tmp_path)
    assert newest_trace(tmp_path) == root
    assert cli_main(["tree", "--no-color", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("agent", "worker-job", "helper-job"):
        assert name in out


def test_a_version_1_parent_and_child_still_join_by_trace_ids(tmp_path: Path) -> None:
    parent, child = research_trace()
    path = parent.write(tmp_path)
    child.write(tmp_path)
    tree = asynctrace.load_tree(path)
    assert tree.start is not None and tree.start.data["schema_version"] == 1
    assert tree.file_id == ROOT_TRACE  # a v1 file is known by its trace id
    [joined] = tree.children
    assert (joined.trace_id, joined.file_id, joined.parent_file_id) == (
        CHILD_TRACE,
        CHILD_TRACE,
        ROOT_TRACE,
    )
    assert newest_trace(tmp_path) == path


def _rotate_by_hand(path: Path, after: int) -> list[Path]:
    """Split a finished file into two v2 parts, as the writer rotates, after *after* body lines."""
    from asynctrace._agent._summary import SummaryBuilder
    from asynctrace._events._codec import encode_line
    from asynctrace._events._ids import new_file_id
    from asynctrace._storage._rotation import next_part_path, next_start_data, rotated_stop_data

    start, *body, stop = load_events(path)
    second = new_file_id()
    so_far = SummaryBuilder()
    for ev in body[:after]:
        so_far.add(ev)
    counts = {**stop.data["counts"], "emitted": after, "written": after}
    first_stop = asynctrace.Event(
        ts_ns=body[after - 1].ts_ns,
        event="trace.stop",
        trace_id=start.trace_id,
        seq=body[after - 1].seq + 1,
        status="ok",
        duration_ns=body[after - 1].ts_ns - start.ts_ns,
        data=rotated_stop_data(counts, so_far.result(), second),
    )
    cont = asynctrace.Event(
        ts_ns=body[after].ts_ns,
        event="trace.start",
        trace_id=start.trace_id,
        seq=first_stop.seq + 1,
        data=next_start_data(start.data, part=2, prev_file_id=start.data["file_id"], file_id=second),
    )
    rest = [asynctrace.Event(**{**_fields(e), "seq": e.seq + 2}) for e in [*body[after:], stop]]
    path2 = next_part_path(path, trace_id=start.trace_id, file_id=second, part=2)
    path.write_bytes(b"".join(encode_line(e) for e in [start, *body[:after], first_stop]))
    path2.write_bytes(b"".join(encode_line(e) for e in [cont, *rest]))
    return [path, path2]


def _fields(ev: asynctrace.Event) -> dict[str, object]:
    return {f: getattr(ev, f) for f in ev.__struct_fields__}


@pytest.mark.anyio
async def test_a_rotated_child_file_is_joined_once_through_its_first_part(tmp_path: Path) -> None:
    async with asynctrace.collector(trace_dir=tmp_path, label="parent") as parent:
        async with asynctrace.span("spawn") as spawn:
            ctx = asynctrace.capture()
    async with asynctrace.collector(trace_dir=tmp_path, label="child", parent=ctx) as child:
        for i in range(4):
            async with asynctrace.span(f"step{i}"):
                pass
    assert parent.path is not None and child.path is not None
    parts = _rotate_by_hand(child.path, after=3)
    assert [asynctrace.validate(p) for p in parts] == [[], []]
    tree = asynctrace.load_tree(parent.path)
    assert tree.problems == []
    [joined] = tree.children
    assert joined.parts == parts
    assert joined.part_file_ids == [child.file_id, load_events(parts[1])[0].data["file_id"]]
    assert tree.spans[spawn.span_id].child_traces == [joined]
    assert sorted(n.name for n in joined.spans.values()) == [f"step{i}" for i in range(4)]
