"""The hot path's no-copy shortcuts keep the snapshot semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

import asynctrace


def _data(path: Path, name: str) -> list[dict[str, object]]:
    return [ev.data for ev in asynctrace.read(path) if ev.event == name]


@pytest.mark.anyio
async def test_set_after_the_stop_never_changes_the_written_stop(tmp_path: Path) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        async with asynctrace.span("op", kind="tool") as s:
            s.set(n=1)
        s.set(n=2, late=True)  # the stop is queued, holding the span's dict
    assert _data(trace.result.path, "tool.stop") == [{"name": "op", "n": 1}]


@pytest.mark.anyio
async def test_an_llm_spans_late_usage_never_changes_the_written_stop(tmp_path: Path) -> None:
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        async with asynctrace.llm("gpt-4o") as call:
            call.usage(input_tokens=3, output_tokens=4)
        call.usage(input_tokens=300, output_tokens=400)
        call.finish("stop", "late")
    (stop,) = _data(trace.result.path, "llm.stop")
    assert stop["input_tokens"] == 3 and "finish_reason" not in stop


@pytest.mark.anyio
async def test_each_collector_processes_its_own_copy_of_a_span_and_an_event(tmp_path: Path) -> None:
    def tag(ev: asynctrace.Event) -> asynctrace.Event:
        ev.data["tagged"] = True  # in place: must not reach the other collector
        return ev

    async with asynctrace.collector(tmp_path / "a.jsonl", processors=[tag]) as a:
        async with asynctrace.collector(tmp_path / "b.jsonl") as b:
            async with asynctrace.span("op", kind="tool", q="x"):
                asynctrace.emit_nowait("note", k=1)
    for name in ("tool.start", "tool.stop", "note"):
        assert all(d.get("tagged") for d in _data(a.result.path, name))
        assert not any("tagged" in d for d in _data(b.result.path, name))


@pytest.mark.anyio
async def test_emit_never_changes_the_callers_dict_and_snapshots_it(tmp_path: Path) -> None:
    event = {"event": "tool.call", "api_key": "sk-abcdefghijklmnopqrstuvwx", "n": 1}
    async with asynctrace.collector(tmp_path / "t.jsonl") as trace:
        trace.sink.emit_nowait(event)
        event["n"] = 2
    assert event["api_key"] == "sk-abcdefghijklmnopqrstuvwx"
    (data,) = _data(trace.result.path, "tool.call")
    assert data["n"] == 1 and data["api_key"] != event["api_key"]
