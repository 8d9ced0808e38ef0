"""The HTML report, read as a file: self-contained, safe, and carrying the right data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from _tracegen import ROOT_TRACE, TraceFile, write_research

from asynctrace._cli._main import main
from asynctrace.export import render_report, report_data, write_report

MAX_DEMO_BYTES = 1_000_000


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


def embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', page, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_the_report_is_one_file_that_asks_the_network_for_nothing(research: Path) -> None:
    page = render_report(research)
    assert "__DATA__" not in page and "/*__JS__*/" not in page and "/*__CSS__*/" not in page
    # Nothing is loaded from anywhere: no src/href attributes, no imports,
    # no fetches, and a policy that forbids them should one slip in.
    assert not re.search(r"\s(src|href)\s*=", page)
    assert "fetch(" not in page and "XMLHttpRequest" not in page and "@import" not in page
    assert "default-src 'none'" in page


def test_the_embedded_data_has_every_span_and_event_of_the_trace_and_its_child(
    research: Path,
) -> None:
    data = embedded(render_report(research))
    assert data == json.loads(json.dumps(report_data(research)))
    labels = sorted(row[7] for row in data["spans"])
    assert len(labels) == 14
    assert labels.count("tool fetch") == 3
    assert "run summarizer" in labels
    assert [p["label"] for p in data["procs"]] == ["research", "summarizer"]
    spawn = next(
        i for i, row in enumerate(data["spans"]) if row[7] == "span summarize with sub-agent"
    )
    child_run = next(row for row in data["spans"] if row[7] == "run summarizer")
    assert child_run[1] == spawn  # the child trace hangs under its spawn span
    assert sorted(e[1] for e in data["events"]) == ["cache.miss", "checkpoint", "decision", "error"]


def test_the_summary_has_latency_tokens_cost_errors_and_health(research: Path) -> None:
    s = report_data(research)["summary"]
    fetch = next(r for r in s["latency"] if r["name"] == "fetch")
    assert (fetch["n"], fetch["errors"], fetch["max_ns"]) == (3, 1, 339_000_000)
    models = {m["model"]: m for m in s["models"]}
    assert models["gpt-x"]["input_tokens"] == 3600
    assert models["gpt-x"]["cost_usd"] == pytest.approx(0.0101)
    assert models["mystery-model"]["unpriced"] == 1
    assert s["totals"]["output_tokens"] == 340 + 180 + 60 + 12
    assert [e["message"] for e in s["errors"]] == [
        "TimeoutError: read timed out after 0.25s",
        "TimeoutError: fetch https://example.org/slow timed out",
    ]
    health = report_data(research)["procs"][0]["health"]
    assert health["written"] > 0 and health["shed"] == 0


def test_text_from_the_trace_cannot_close_the_script_or_inject_markup(tmp_path: Path) -> None:
    t = TraceFile(ROOT_TRACE, label="</script><script>alert(1)</script>")
    run = t.start("run", 0, name="<img src=x onerror=alert(1)>")
    t.stop(run, 1, name="<img src=x onerror=alert(1)>", output="<!-- </script>")
    t.close(2)
    page = render_report(t.write(tmp_path))
    assert page.count("</script>") == 2  # the data block's and the code's
    assert "<img" not in page
    assert embedded(page)["spans"][0][7] == "run <img src=x onerror=alert(1)>"


def test_captured_llm_requests_are_listed_when_the_trace_has_them(tmp_path: Path) -> None:
    t = TraceFile(ROOT_TRACE, label="captures")
    run = t.start("run", 0, name="captures")
    llm = t.start("llm", 1, run, name="gpt-x", model="gpt-x")
    t.emit("llm.request", 1.5, parent=llm, body={"messages": [{"role": "user", "content": "hi"}]})
    t.stop(llm, 3, name="gpt-x", response={"content": "hello"})
    t.stop(run, 4, name="captures")
    t.close(5)
    captures = report_data(t.write(tmp_path))["captures"]
    assert [c["title"].split()[0] for c in captures] == ["llm", "llm.request"]
    assert captures[0]["body"] == {"response": {"content": "hello"}}
    other = tmp_path / "plain"
    other.mkdir()
    assert report_data(write_research(other)[0])["captures"] == []


def test_the_demo_report_is_small_enough_to_mail(tmp_path: Path) -> None:
    from asynctrace._demo import run

    result = run(trace_dir=tmp_path)
    out = write_report(result.trace_path, tmp_path / "demo.html")
    assert out.stat().st_size < MAX_DEMO_BYTES
    assert len(embedded(out.read_text())["procs"]) == 2


def test_the_report_command_writes_the_file_next_to_the_trace_or_where_told(
    research: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(research)]) == 0
    assert research.with_suffix(".report.html").is_file()
    target = tmp_path / "out.html"
    assert main(["report", str(tmp_path), "-o", str(target)]) == 0
    assert "14 spans" in capsys.readouterr().err
    assert embedded(target.read_text())["trace_id"] == ROOT_TRACE


def test_the_report_command_fails_cleanly_when_it_cannot_write(
    research: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(research), "-o", str(tmp_path / "missing" / "r.html")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing-here")]) == 2
