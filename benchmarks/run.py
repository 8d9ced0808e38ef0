"""Run every scenario interleaved in one process; print and record the results.

    python -m benchmarks            # full run, writes benchmarks/results.{md,json}
    python -m benchmarks --quick    # short smoke run, writes benchmarks/out/
    python benchmarks/run.py --only spans,throughput

Every repeat runs each case of each scenario once, in an order rotated from
one repeat to the next, so slow drifts of a noisy machine hit every case
alike; the figures are medians over the repeats with their range, and the
headline ratios are computed repeat by repeat from cases run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _catalog, _disabled, _looplag, _overload, _reader, _spans, _throughput
from benchmarks._common import Case, Config, Repeat, Sample, Scenario, Stat, fmt

HERE = Path(__file__).resolve().parent
SCENARIOS = {
    "spans": _spans.build,
    "throughput": _throughput.build,
    "disabled": _disabled.build,
    "overload": _overload.build,
    "looplag": _looplag.build,
    "reader": _reader.build,
    "catalog": _catalog.build,
}
PACKAGES = (
    "asynctrace",
    "msgspec",
    "anyio",
    "aiofiles",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "structlog",
)


# ---------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "asynctrace"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out + ("+uncommitted" if dirty else "")


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "mem_gib": _mem_total_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "commit": _git_commit(),
        "gc_threshold": list(__import__("gc").get_threshold()),
        "switch_interval_s": sys.getswitchinterval(),
    }


# ---------------------------------------------------------------- running


class Results:
    def __init__(self, scenarios: list[Scenario]) -> None:
        self.scenarios = scenarios
        self.repeats: dict[str, list[Repeat]] = {sc.key: [] for sc in scenarios}
        self.errors: dict[tuple[str, str], str] = {}
        self.once: dict[str, dict[str, object]] = {}

    def samples(self, sc: Scenario, case: Case) -> list[Sample]:
        return [rep[case.name] for rep in self.repeats[sc.key] if case.name in rep]


async def _run_case(results: Results, sc: Scenario, case: Case) -> Sample | None:
    if (sc.key, case.name) in results.errors:
        return None
    try:
        return await case.run()
    except Exception as exc:  # one broken peer must not stop the others
        results.errors[(sc.key, case.name)] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        return None


async def run_all(cfg: Config, scenarios: list[Scenario], progress: Any) -> Results:
    results = Results(scenarios)
    live = [(sc, case) for sc in scenarios if sc.skipped is None for case in sc.cases]
    progress(f"warm-up: {sum(c.warmup for _, c in live)} cases")
    for sc, case in live:
        if case.warmup:
            await _run_case(results, sc, case)
    for r in range(cfg.repeats):
        t0 = time.perf_counter()
        shift = r % len(live) if live else 0
        rounds: dict[str, Repeat] = {sc.key: {} for sc in scenarios}
        for sc, case in live[shift:] + live[:shift]:
            sample = await _run_case(results, sc, case)
            if sample is not None:
                rounds[sc.key][case.name] = sample
        for key, rep in rounds.items():
            results.repeats[key].append(rep)
        progress(f"repeat {r + 1}/{cfg.repeats} done in {time.perf_counter() - t0:.1f} s")
    for sc in scenarios:
        if sc.once is not None and sc.skipped is None:
            progress(f"{sc.key}: one-off measurements")
            try:
                results.once[sc.key] = await sc.once()
            except Exception as exc:
                results.once[sc.key] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


# ---------------------------------------------------------------- reporting


def _extras(samples: list[Sample]) -> dict[str, float]:
    keys = [k for k in samples[0] if k != "value"] if samples else []
    out = {}
    for key in keys:
        stat = Stat.of([s[key] for s in samples if key in s])
        if stat is not None:
            out[key] = stat.median
    return out


def to_json(cfg: Config, env: dict[str, Any], results: Results) -> dict[str, Any]:
    scenarios = []
    for sc in results.scenarios:
        cases = []
        for case in sc.cases:
            samples = results.samples(sc, case)
            stat = Stat.of([s["value"] for s in samples])
            cases.append(
                {
                    "name": case.name,
                    "unit": case.unit,
                    "lower_is_better": case.lower_is_better,
                    "median": stat.median if stat else None,
                    "min": stat.low if stat else None,
                    "max": stat.high if stat else None,
                    "extras_median": _extras(samples),
                    "samples": samples,
                    "error": results.errors.get((sc.key, case.name)),
                }
            )
        targets = []
        for tg in sc.targets:
            values = [v for rep in results.repeats[sc.key] if (v := tg.per_repeat(rep)) is not None]
            stat = Stat.of(values)
            targets.append(
                {
                    "label": tg.label,
                    "unit": tg.unit,
                    "op": tg.op,
                    "threshold": tg.threshold,
                    "median": stat.median if stat else None,
                    "min": stat.low if stat else None,
                    "max": stat.high if stat else None,
                    "met": tg.met(stat.median) if stat else None,
                    "per_repeat": values,
                }
            )
        scenarios.append(
            {
                "key": sc.key,
                "title": sc.title,
                "skipped": sc.skipped,
                "notes": sc.notes,
                "cases": cases,
                "targets": targets,
                "once": results.once.get(sc.key),
            }
        )
    return {
        "environment": env,
        "config": {"quick": cfg.quick, "repeats": cfg.repeats},
        "scenarios": scenarios,
    }


def _range(c: dict[str, Any]) -> str:
    if c["median"] is None:
        return "-"
    return f"{fmt(c['min'])}..{fmt(c['max'])}"


def _extras_text(extras: dict[str, float]) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in extras.items())


def _verdict(t: dict[str, Any]) -> str:
    if t["met"] is None:
        return "n/a"
    return "met" if t["met"] else "MISSED"


def render_text(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for sc in data["scenarios"]:
        lines.append("")
        lines.append(sc["title"])
        if sc["skipped"]:
            lines.append(f"  skipped: {sc['skipped']}")
            continue
        width = max((len(c["name"]) for c in sc["cases"]), default=10)
        for c in sc["cases"]:
            if c["error"]:
                lines.append(f"  {c['name']:<{width}}  ERROR {c['error']}")
                continue
            med = fmt(c["median"]) if c["median"] is not None else "-"
            lines.append(
                f"  {c['name']:<{width}}  {med:>10} {c['unit']:<18} [{_range(c)}]  "
                f"{_extras_text(c['extras_median'])}"
            )
        for t in sc["targets"]:
            med = fmt(t["median"]) if t["median"] is not None else "-"
            rng = f"{fmt(t['min'])}..{fmt(t['max'])}" if t["median"] is not None else "-"
            lines.append(
                f"  -> {t['label']}: {med}{t['unit']} [{rng}] "
                f"(target {t['op']} {fmt(t['threshold'])}{t['unit']}): {_verdict(t)}"
            )
    return "\n".join(lines)


def render_markdown(data: dict[str, Any]) -> str:
    env = data["environment"]
    cfg = data["config"]
    pk = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    out = [
        "# asynctrace benchmark results",
        "",
        f"{'Quick' if cfg['quick'] else 'Full'} run, {cfg['repeats']} interleaved repeats, "
        f"median [min..max]. Reproduce: `python -m benchmarks{' --quick' if cfg['quick'] else ''}`.",
        "",
        f"- date: {env['date']}; commit: {env['commit']}",
        f"- machine: {env['cpus']} x {env['cpu']} ({env['machine']}), {env['mem_gib']} GiB; {env['os']}",
        f"- python: {env['python']}; gc thresholds {env['gc_threshold']}; "
        f"switch interval {env['switch_interval_s']} s",
        f"- packages: {pk}",
        "",
        "## Targets",
        "",
        "| scenario | target | median | range | goal | verdict |",
        "|---|---|---:|---|---|---|",
    ]
    for sc in data["scenarios"]:
        if sc["skipped"]:
            out.append(f"| {sc['title']} | skipped: {sc['skipped']} | | | | n/a |")
        for t in sc["targets"]:
            med = fmt(t["median"]) + t["unit"] if t["median"] is not None else "-"
            rng = f"{fmt(t['min'])}..{fmt(t['max'])}" if t["median"] is not None else "-"
            out.append(
                f"| {sc['title'].split(' ', 1)[0]} | {t['label']} | {med} | {rng} | "
                f"{t['op']} {fmt(t['threshold'])}{t['unit']} | {_verdict(t)} |"
            )
    for sc in data["scenarios"]:
        out += ["", f"## {sc['title']}", ""]
        if sc["skipped"]:
            out.append(f"Skipped: {sc['skipped']}")
            continue
        out += ["| case | median | range | unit | extras (medians) |", "|---|---:|---|---|---|"]
        for c in sc["cases"]:
            if c["error"]:
                out.append(f"| {c['name']} | error | | | {c['error']} |")
                continue
            med = fmt(c["median"]) if c["median"] is not None else "-"
            out.append(
                f"| {c['name']} | {med} | {_range(c)} | {c['unit']} | {_extras_text(c['extras_median'])} |"
            )
        if sc["notes"]:
            out.append("")
            out += [f"- {n}" for n in sc["notes"]]
        once = sc.get("once") or {}
        rows = once.get("profile_top_tottime")
        if isinstance(rows, list):
            out += [
                "",
                f"cProfile of the asynctrace case ({once.get('profile_spans')} spans), "
                "top functions by own time (cProfile inflates call-heavy code; read shares, not µs):",
                "",
                "| function | calls/span | share of own time |",
                "|---|---:|---:|",
            ]
            out += [
                f"| `{r['function']}` | {r['calls_per_span']} | {r['share'] * 100:.1f}% |"
                for r in rows
            ]
        elif once.get("error"):
            out.append(f"\nOne-off measurement failed: {once['error']}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of ~20 s")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 7, quick 5)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios: {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for results.md/results.json (default: benchmarks/, quick: benchmarks/out/)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (5 if args.quick else 7)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    out_dir: Path = args.out if args.out is not None else (HERE / "out" if args.quick else HERE)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:5.1f} s] {msg}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="asynctrace-bench-"))
    cfg = Config(quick=args.quick, repeats=repeats, workdir=workdir)
    env = environment()
    try:
        scenarios = []
        for key in chosen:
            progress(f"preparing {key}")
            scenarios.append(SCENARIOS[key](cfg))
        try:
            results = asyncio.run(run_all(cfg, scenarios, progress))
        finally:
            for sc in scenarios:
                if sc.cleanup is not None:
                    sc.cleanup()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    data = to_json(cfg, env, results)
    data["elapsed_s"] = round(time.perf_counter() - started, 1)
    stem = "results"
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    (out_dir / f"{stem}.md").write_text(render_markdown(data), encoding="utf-8")
    print(render_text(data))
    print(
        f"\nwrote {out_dir / (stem + '.md')} and {out_dir / (stem + '.json')} "
        f"in {data['elapsed_s']} s"
    )
    return 1 if results.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
