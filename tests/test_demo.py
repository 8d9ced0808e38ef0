"""The README's first command: the demo agent writes a trace and explains it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from asynctrace.testing import assert_valid_trace, load_events


def test_the_demo_writes_a_parent_and_a_child_trace_and_prints_the_views(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "asynctrace", "demo", "--seed", "3", "--trace-dir", str(tmp_path), "--no-color"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    for heading in ("Timeline", "Span tree", "Summary", "Answer:"):
        assert heading in out.stdout
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 2
    traces = {path: load_events(path) for path in files}
    for events in traces.values():
        assert_valid_trace(events)
    parent = next(e for e in traces.values() if "parent_file_id" not in e[0].data)
    child = next(e for e in traces.values() if "parent_file_id" in e[0].data)
    assert child[0].trace_id == parent[0].trace_id  # one distributed trace, two files
    names = [e.event for e in parent]
    assert names.count("tool.stop") == 4  # three concurrent tools, one retried
    assert [e.status for e in parent if e.event == "tool.stop"].count("error") == 1
    assert "error" in names and "decision" in names and "checkpoint" in names
    linked = [e.data.get("child_file_id") for e in parent if e.event.endswith(".stop")]
    assert child[0].data["file_id"] in linked
    summary = parent[-1].data["summary"]
    assert summary["llm_calls"] == 2
    assert summary["cost_usd"] is not None and summary["cost_usd"] > 0
    # The sub-agent's model has no price: its cost is null, not zero.
    assert child[-1].data["summary"]["cost_usd"] is None


def test_the_demo_tells_the_same_story_for_the_same_seed(tmp_path: Path) -> None:
    def story(directory: Path) -> list[tuple[str, object]]:
        subprocess.run(
            [sys.executable, "-m", "asynctrace", "demo", "--seed", "11", "--trace-dir", str(directory), "--json"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        (main,) = [p for p in directory.glob("*.jsonl") if "parent_file_id" not in load_events(p)[0].data]
        return sorted(
            (e.event, e.data.get("output_tokens")) for e in load_events(main) if e.event == "llm.stop"
        )

    assert story(tmp_path / "a") == story(tmp_path / "b")


def test_the_sdk_demo_shows_captured_requests_curl_and_disclosure(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("openai")
    out = subprocess.run(
        [sys.executable, "-m", "asynctrace", "demo", "--sdk", "--trace-dir", str(tmp_path), "--no-color"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Captured requests" in out.stdout and "chat.completions" in out.stdout
    assert 'Authorization: Bearer $OPENAI_API_KEY' in out.stdout and "--data-binary @-" in out.stdout
    assert "+ fetch" in out.stdout and "- search" in out.stdout
    (path,) = tmp_path.glob("*.jsonl")
    assert_valid_trace(load_events(path))
    assert b"demo-key-not-real" not in path.read_bytes()
