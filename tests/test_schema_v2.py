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
