"""The benchmark harness runs end to end in quick mode (nothing about timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if k not in ("ASYNCTRACE", "ASYNCTRACE_DIR")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--repeats", "1", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    return proc, out


def test_quick_run_exits_cleanly_and_prints_every_scenario(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for title in (
        "Span overhead",
        "Throughput",
        "Disabled mode",
        "Overload",
        "Event-loop lag",
        "Reader",
        "Many traces",
    ):
        assert title in proc.stdout


def test_quick_run_writes_markdown_and_json_with_environment_and_every_case(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = quick_run
    data = json.loads((out / "results.json").read_text())
    env = data["environment"]
    assert env["python"] and env["packages"]["msgspec"] and env["packages"]["asynctrace"]
    assert data["config"] == {"quick": True, "repeats": 1}
    keys = [sc["key"] for sc in data["scenarios"]]
    assert keys == ["spans", "throughput", "disabled", "overload", "looplag", "reader", "catalog"]
    for sc in data["scenarios"]:
        if sc["skipped"]:
            continue
        assert sc["cases"], sc["key"]
        for case in sc["cases"]:
            assert case["error"] is None, (sc["key"], case["name"], case["error"])
            assert len(case["samples"]) == 1
            assert case["median"] is not None and case["median"] >= 0
        for target in sc["targets"]:
            assert target["met"] in (True, False)
    md = (out / "results.md").read_text()
    assert md.startswith("# asynctrace benchmark results")
    assert "| scenario | target |" in md


def test_overload_scenario_accounts_for_every_emitted_event(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = quick_run
    data = json.loads((out / "results.json").read_text())
    overload = next(sc for sc in data["scenarios"] if sc["key"] == "overload")
    (sample,) = overload["cases"][0]["samples"]
    assert sample["emitted"] == sample["written"] + sample["shed"]
    assert sample["emitted"] == sample["producer_emitted"]


def test_harness_runs_as_a_script_too() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout


def test_the_lean_floors_run_beside_asynctrace_and_account_for_every_line(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = quick_run
    data = json.loads((out / "results.json").read_text())
    by_key = {sc["key"]: {c["name"]: c for c in sc["cases"]} for sc in data["scenarios"]}
    spans = by_key["spans"]
    (lean_span,) = spans["lean floor span"]["samples"]
    (traced,) = spans["asynctrace"]["samples"]
    assert lean_span["written"] == traced["written"] > 0  # two lines per span, all written
    throughput = by_key["throughput"]
    (floor,) = throughput["floor (dict→Queue→encode_lines→write)"]["samples"]
    for name in ("lean floor emit_nowait", "lean floor await emit"):
        (sample,) = throughput[name]["samples"]
        assert sample["written"] + sample["shed"] == floor["written"] > 0, name
    (awaited,) = throughput["lean floor await emit"]["samples"]
    assert awaited["shed"] == 0  # backpressure, never shedding
    labels = [t["label"] for sc in data["scenarios"] for t in sc["targets"]]
    assert "asynctrace span ÷ lean floor span" in labels
    assert any(label.startswith("lean floor emit_nowait ÷ emit_nowait") for label in labels)
