"""Views over many traces: ``ls``, ``summary --aggregate`` and ``asynctrace.aggregate``."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _partgen import write_parts
from _tracegen import MS, T0_NS, TraceFile
from test_cli import run

import asynctrace
from asynctrace._reading._catalog import catalog
from asynctrace._reading._sketch import Sketch
from asynctrace._storage._compress import compress_part

N_TRACES = 300
LABELS = ("support bot", "research", "triage")
MODELS = ("gpt-x", "claude-x")
TOOLS = ("search", "fetch")


@dataclass
class Expected:
    rows: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_label: dict[str, int] = field(default_factory=dict)
    tool_ns: dict[str, list[int]] = field(default_factory=dict)
    llm_ns: dict[str, list[int]] = field(default_factory=dict)
    tool_errors: int = 0
    cost: float = 0.0
    rotated: dict[str, int] = field(default_factory=dict)
    with_child: set[str] = field(default_factory=set)


def _trace(i: int, rng: random.Random, exp: Expected) -> list[TraceFile]:
    label = LABELS[i % len(LABELS)]
    day_ms = (i % 3) * 86_400_000  # three days
    t = TraceFile(f"{i + 1:032x}", label=label, t0_ms=day_ms)
    run_id = t.start("run", day_ms + 1, name=label)
    at = day_ms + 2
    for _ in range(rng.randrange(1, 4)):
        model = MODELS[rng.randrange(2)]
        ms = rng.randrange(50, 2000)
        at += ms
        t.call(
            "llm", at, ms, run_id, model=model, input_tokens=100, output_tokens=10, cost_usd=0.001
        )
        exp.llm_ns.setdefault(model, []).append(ms * MS)
        exp.cost += 0.001
        tool = TOOLS[rng.randrange(2)]
        ms = rng.randrange(1, 300)
        at += ms
        failed = rng.random() < 0.1
        t.call("tool", at, ms, run_id, "error" if failed else "ok", name=tool)
        exp.tool_ns.setdefault(tool, []).append(ms * MS)
        exp.tool_errors += failed
    files = [t]
    if i % 10 == 0:
        child = TraceFile(
            f"{i + 1:08x}{'c' * 24}", label="helper", t0_ms=at, parent=(t.trace_id, run_id)
        )
        child.call("tool", at + 5, 4, None, name="search")
        exp.tool_ns["search"].append(4 * MS)
        child.close(at + 6)
        files.append(child)
        exp.with_child.add(t.trace_id)
    t.stop(run_id, at + 1, name=label)
    status = "error" if i % 7 == 0 else "ok"
    if i % 31 == 0:
        status = "open"  # never closed
    else:
        t.close(at + 2, status)
    exp.rows += 1
    exp.by_status[status] = exp.by_status.get(status, 0) + 1
    exp.by_label[label] = exp.by_label.get(label, 0) + 1
    return files


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    folder = tmp_path_factory.mktemp("many")
    rng = random.Random(13)
    exp = Expected()
    for i in range(N_TRACES):
        root, *children = _trace(i, rng, exp)
        if i % 9 == 4 and root.lines[-1].event == "trace.stop":
            parts = write_parts(root, folder, [2, 4])
            exp.rotated[root.trace_id] = len(parts)
            assert len(parts) > 1
            if i % 2:
                compress_part(parts[0], sync=False)
        else:
            root.write(folder)
        for child in children:
            child.write(folder)
    (folder / "README.txt").write_text("not a trace")
    return folder, exp


def test_ls_lists_one_row_per_trace_with_parts_and_children_folded_in(
    many: tuple[Path, Expected],
) -> None:
    folder, exp = many
    rows = catalog(folder)
    assert len(rows) == exp.rows == N_TRACES
    assert {r.trace_id: r.parts for r in rows if r.parts > 1} == exp.rotated
    assert {r.trace_id for r in rows if r.children == 1} == exp.with_child
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    assert statuses == exp.by_status
    assert math.isclose(sum(r.cost_usd or 0 for r in rows), exp.cost)
    assert [r.start_ts_ns for r in rows] == sorted((r.start_ts_ns for r in rows), reverse=True)


def test_a_row_adds_up_its_child_trace(many: tuple[Path, Expected]) -> None:
    folder, exp = many
    row = next(r for r in catalog(folder) if r.trace_id in exp.with_child and r.status != "open")
    root_stop = asynctrace.read(row.path).stop
    assert root_stop is not None
    assert row.events == root_stop.data["summary"]["events"] + 1  # the child's one tool call


def test_ls_filters_and_sorts(many: tuple[Path, Expected]) -> None:
    folder, exp = many
    errors = catalog(folder, status="error")
    assert len(errors) == exp.by_status["error"] and {r.status for r in errors} == {"error"}
    triage = catalog(folder, label="TRIAGE")
    assert len(triage) == exp.by_label["triage"]
    assert (
        len(catalog(folder, since_ns=T0_NS + 86_400 * 10**9))
        == N_TRACES - exp.by_label["support bot"]
    )
    by_cost = catalog(folder, sort="cost")
    assert [r.cost_usd for r in by_cost] == sorted((r.cost_usd or 0 for r in by_cost), reverse=True)
    by_label = catalog(folder, sort="label")
    assert [r.label for r in by_label] == sorted(r.label for r in by_label)
    with pytest.raises(ValueError, match="sort"):
        catalog(folder, sort="colour")


def test_ls_on_the_command_line_as_a_table_and_as_json(many: tuple[Path, Expected]) -> None:
    folder, exp = many
    table = run("ls", str(folder), "--status", "error", "--no-color")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["started", "(UTC)", "label", "status"]
    assert len(lines) == 1 + exp.by_status["error"]
    as_json = run("ls", str(folder), "--sort", "tokens", "--json", "--label", "research")
    rows = json.loads(as_json.stdout)
    assert len(rows) == exp.by_label["research"]
    assert [r["tokens"] for r in rows] == sorted((r["tokens"] for r in rows), reverse=True)
    assert set(rows[0]) >= {
        "label",
        "status",
        "duration_ns",
        "events",
        "llm_calls",
        "cost_usd",
        "errors",
        "shed",
    }


def test_ls_since_is_relative_to_now(tmp_path: Path) -> None:
    now_ms = (time.time_ns() - T0_NS) / MS
    recent = TraceFile("a" * 32, label="recent", t0_ms=now_ms - 3_600_000)
    recent.close(now_ms - 3_500_000)
    recent.write(tmp_path)
    old = TraceFile("b" * 32, label="old", t0_ms=now_ms - 5 * 86_400_000)
    old.close(now_ms - 5 * 86_400_000 + 10)
    old.write(tmp_path)
    rows = json.loads(run("ls", str(tmp_path), "--since", "2d", "--json").stdout)
    assert [r["label"] for r in rows] == ["recent"]


def _nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def test_aggregate_counts_runs_calls_and_latencies_across_every_file(
    many: tuple[Path, Expected],
) -> None:
    folder, exp = many
    data = asynctrace.aggregate(folder)
    (total,) = data["groups"]
    assert total["runs"] == N_TRACES
    assert total["runs_by_status"] == exp.by_status
    finished = N_TRACES - exp.by_status["open"]
    assert total["success_rate"] == pytest.approx(exp.by_status["ok"] / finished)
    assert total["tool_calls"] == sum(len(v) for v in exp.tool_ns.values())
    assert total["tool_errors"] == exp.tool_errors
    assert total["llm_calls"] == sum(len(v) for v in exp.llm_ns.values())
    assert total["cost_usd"] == pytest.approx(exp.cost)
    for name, values in exp.tool_ns.items():
        stats = total["tools"][name]
        assert stats["calls"] == len(values)
        for q, key in ((0.5, "p50_ns"), (0.95, "p95_ns")):
            assert stats[key] == pytest.approx(_nearest_rank(values, q), rel=0.01)
        assert stats["max_ns"] == max(values)
    for model, values in exp.llm_ns.items():
        assert total["models"][model]["p95_ns"] == pytest.approx(
            _nearest_rank(values, 0.95), rel=0.01
        )


def test_aggregate_by_label_day_and_model(many: tuple[Path, Expected]) -> None:
    folder, exp = many
    by_label = asynctrace.aggregate([folder], by="label")
    runs = {g["key"]: g["runs"] for g in by_label["groups"]}
    assert runs == {**exp.by_label, "helper": 0}
    by_day = asynctrace.aggregate(folder, by="day")
    assert [g["key"] for g in by_day["groups"]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert sum(g["runs"] for g in by_day["groups"]) == N_TRACES
    by_model = asynctrace.aggregate(folder, by="model")
    assert sorted(g["key"] for g in by_model["groups"]) == sorted(MODELS)
    for g in by_model["groups"]:
        assert g["llm_calls"] == len(exp.llm_ns[g["key"]]) and g["tool_calls"] == 0
    late = asynctrace.aggregate(folder, since_ns=T0_NS + 2 * 86_400 * 10**9)
    assert late["groups"][0]["runs"] == sum(1 for i in range(N_TRACES) if i % 3 == 2)
    with pytest.raises(ValueError, match="by"):
        asynctrace.aggregate(folder, by="week")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        asynctrace.aggregate(folder / "nope")


def test_summary_aggregate_on_the_command_line(many: tuple[Path, Expected]) -> None:
    folder, _ = many
    text = run("summary", "--aggregate", str(folder), "--by", "label", "--no-color")
    assert text.returncode == 0, text.stderr
    assert "support bot" in text.stdout and "p95" in text.stdout
    as_json = run("--json", "summary", "--aggregate", str(folder), "--by", "day")
    assert json.loads(as_json.stdout) == json.loads(
        json.dumps(asynctrace.aggregate(folder, by="day"))
    )
    misuse = run("summary", str(folder), "--by", "day")
    assert misuse.returncode == 2 and "--aggregate" in misuse.stderr


def test_the_sketch_is_within_one_percent_and_exact_at_the_ends() -> None:
    rng = random.Random(5)
    values = [rng.randrange(0, 10**10) for _ in range(5000)] + [0, 0]
    sketch = Sketch()
    for v in values:
        sketch.add(v)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99):
        assert sketch.quantile(q) == pytest.approx(_nearest_rank(values, q), rel=0.01)
    assert sketch.quantile(1.0) == max(values)
    assert Sketch().quantile(0.5) == 0


@pytest.mark.anyio
async def test_ls_and_aggregate_read_what_the_real_collector_writes(tmp_path: Path) -> None:
    from _tracegen import record_agent

    parent, child = await record_agent(tmp_path, points=5)
    (row,) = catalog(tmp_path)
    assert row.path == str(parent) and row.children == 1 and row.status == "ok"
    stops = [asynctrace.read(p).stop for p in (parent, child)]
    assert row.events == sum(s.data["summary"]["events"] for s in stops if s is not None)
    (group,) = asynctrace.aggregate(tmp_path)["groups"]
    assert group["runs"] == 1 and group["runs_by_status"] == {"ok": 1}
    assert group["tools"]["flaky"]["errors"] == 1 and group["models"]["gpt-x"]["calls"] == 1


def test_aggregate_cost_is_null_when_no_llm_call_had_a_price(tmp_path: Path) -> None:
    t = TraceFile("d" * 32, label="unpriced")
    t.call("llm", 10, 5, None, model="local", input_tokens=3, output_tokens=1, cost_usd=None)
    t.close(11)
    t.write(tmp_path)
    (group,) = asynctrace.aggregate(tmp_path)["groups"]
    assert group["cost_usd"] is None and group["unpriced_llm_calls"] == 1
    assert "$?" in run("summary", "--aggregate", str(tmp_path), "--no-color").stdout
