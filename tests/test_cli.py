"""The ``asynctrace`` command line, run as ``python -m asynctrace`` in a subprocess."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from _tracegen import crashed_trace, research_trace, torn_bytes, write_research

import asynctrace
from asynctrace._cli import _main as cli
from asynctrace._cli._output import Output, color_wanted
from asynctrace._events._codec import encode_line

GOLDEN = Path(__file__).parent / "golden"
# The package under test, wherever the subprocess starts from.
PACKAGE_ROOT = str(Path(asynctrace.__file__).resolve().parent.parent)


def tail_follow(path: Path, *, interval_s: float, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``asynctrace tail -f -n 1000 PATH`` in a subprocess, its output as text pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "asynctrace", "tail", "-f", "-n", "1000",
         "--interval", str(interval_s), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env if env is not None else {**os.environ, "PYTHONPATH": PACKAGE_ROOT},
    )


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT, **env}
    full_env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "asynctrace", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=full_env,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("asynctrace: error: ")
    return lines[0]


@pytest.fixture
def research(tmp_path: Path) -> Path:
    return write_research(tmp_path)[0]


def test_show_prints_the_timeline(research: Path) -> None:
    result = run("show", str(research))
    assert result.returncode == 0
    assert result.stdout == (GOLDEN / "timeline.txt").read_text(encoding="utf-8")
    assert result.stderr == ""


def test_a_directory_means_its_newest_trace(tmp_path: Path) -> None:
    old = crashed_trace().write(tmp_path)
    os.utime(old, (1_000_000, 1_000_000))
    write_research(tmp_path)
    result = run("summary", "--json", str(tmp_path))
    assert result.returncode == 0
    assert json.loads(result.stdout)["label"] == "research"


def test_the_default_path_is_the_traces_directory(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    write_research(tmp_path / "traces")
    result = run("tree", cwd=tmp_path)
    assert result.returncode == 0
    assert "trace research 0af76519" in result.stdout


def test_views_print_json_for_scripts(research: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = json.loads(run("tree", "--json", str(research)).stdout)
    assert tree["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    for command in ("show", "summary", "trajectory", "slowest"):
        assert cli.main([command, str(research), "--json"]) == 0
        assert json.loads(capsys.readouterr().out), command


def test_filters_on_show_and_slowest(research: Path) -> None:
    result = run("show", str(research), "--kind", "tool.stop", "--min-ms", "200")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2
    slow = run("slowest", str(research), "-n", "2", "--kind", "tool", "--json")
    assert [s["duration_ns"] for s in json.loads(slow.stdout)] == [339_000_000, 238_000_000]
    subtree = run("tree", str(research), "--span", "0af7000000000004")
    assert subtree.stdout.splitlines()[0].endswith("tool search 120ms ok")


def test_an_unknown_span_is_a_one_line_error(research: Path) -> None:
    assert "no span" in assert_one_line_error(run("show", str(research), "--span", "ffff"))


def test_export_writes_a_chrome_trace_file(research: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run("export", str(research), "--format", "chrome", "-o", str(out))
    assert result.returncode == 0
    assert "ui.perfetto.dev" in result.stderr
    data = json.loads(out.read_text())
    assert {e["ph"] for e in data["traceEvents"]} == {"X", "i", "M", "s", "f"}


def test_export_to_stdout(research: Path) -> None:
    result = run("export", str(research), "-o", "-")
    assert json.loads(result.stdout)["displayTimeUnit"] == "ms"


def test_validate_passes_a_good_trace_and_fails_a_broken_one(
    research: Path, tmp_path: Path
) -> None:
    good = run("validate", str(research))
    assert good.returncode == 0
    assert "valid" in good.stdout
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(torn_bytes(crashed_trace()))
    bad = run("validate", str(torn), str(research))
    assert bad.returncode == 1
    assert "[torn_tail] line 6" in bad.stdout
    assert "[missing_stop]" in bad.stdout
    report = json.loads(run("validate", "--json", str(torn)).stdout)
    assert not report["valid"]
    assert {p["kind"] for p in report["problems"]} == {"torn_tail", "open_span", "missing_stop"}


def test_a_torn_trace_still_shows_with_a_warning(tmp_path: Path) -> None:
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(torn_bytes(crashed_trace()))
    result = run("show", str(torn))
    assert result.returncode == 0
    assert (GOLDEN / "crashed_timeline.txt").read_text(encoding="utf-8") == result.stdout
    assert "final line is incomplete" in result.stderr
    assert "no trace.stop" in result.stderr


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    line = assert_one_line_error(run("show", str(tmp_path / "nope.jsonl")))
    assert "no such file" in line


def test_an_empty_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "is empty" in assert_one_line_error(run("show", str(empty)))
    for command in ("tree", "summary", "trajectory", "slowest", "export", "tail"):
        assert cli.main([command, str(empty)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "is empty" in err, command


def test_a_file_that_is_not_a_trace_is_a_one_line_error(tmp_path: Path) -> None:
    other = tmp_path / "data.jsonl"
    other.write_text('{"hello": "world"}\n')
    assert "not an asynctrace trace" in assert_one_line_error(run("summary", str(other)))


def test_an_empty_directory_is_a_one_line_error(tmp_path: Path) -> None:
    assert "no trace files" in assert_one_line_error(run("show", str(tmp_path)))


def test_usage_errors_exit_2_without_a_traceback() -> None:
    assert_one_line_error(run("frobnicate"))
    assert_one_line_error(run())
    assert_one_line_error(run("slowest", "-n", "many"))


def test_color_options_are_accepted_before_and_after_the_command(research: Path) -> None:
    before = run("--no-color", "tree", str(research))
    after = run("tree", str(research), "--no-color")
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout
    assert "\x1b[" not in before.stdout


def test_tail_prints_the_last_events(research: Path) -> None:
    result = run("tail", "-n", "2", str(research))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [x.split()[2] for x in lines] == ["run.stop", "trace.stop"]


def test_tail_follow_prints_new_events_until_trace_stop(tmp_path: Path) -> None:
    trace = research_trace()[0]
    path = tmp_path / "live.jsonl"
    lines = [encode_line(ev) for ev in trace.lines]
    path.write_bytes(b"".join(lines[:3]))
    proc = tail_follow(path, interval_s=0.05)
    try:
        time.sleep(0.5)
        with path.open("ab") as f:
            for raw in lines[3:]:
                # Half a line first: tail must wait for the rest of it.
                f.write(raw[:10])
                f.flush()
                f.write(raw[10:])
                f.flush()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    shown = [x.split()[2] for x in out.splitlines()]
    assert shown == [ev.event for ev in trace.lines]
    assert err == ""


def test_python_dash_m_and_the_version_flag() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"asynctrace {asynctrace.__version__}"


# -- in-process: demo dispatch and colour --------------------------------------


def test_demo_without_the_demo_module_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(name: str) -> types.ModuleType:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "demo is not available" in err


def test_demo_runs_the_demo_module_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, str]] = []
    fake = types.ModuleType("asynctrace._demo")

    def fake_main(args: object) -> int:
        seen.append((args.seed, args.trace_dir))  # type: ignore[attr-defined]
        return 0

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "asynctrace._demo", fake)
    assert cli.main(["demo"]) == 0
    assert cli.main(["demo", "--seed", "3", "--trace-dir", "elsewhere"]) == 0
    assert seen == [(7, "traces"), (3, "elsewhere")]


def test_no_color_env_and_flag_turn_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_wanted(False, Tty())
    assert not color_wanted(True, Tty())
    assert not color_wanted(False, io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_wanted(False, Tty())


def test_colour_output_styles_the_same_text(research: Path) -> None:
    pytest.importorskip("rich")
    from asynctrace._reading import tree_view

    styled, plain = io.StringIO(), io.StringIO()
    Output(color=True, out=styled).view(tree_view(research), as_json=False)
    Output(color=False, out=plain).view(tree_view(research), as_json=False)
    assert "\x1b[" in styled.getvalue()
    ansi_free = re.sub(r"\x1b\[[0-9;]*m", "", styled.getvalue())
    assert ansi_free == plain.getvalue()


def test_output_falls_back_to_plain_text_without_rich(
    monkeypatch: pytest.MonkeyPatch, research: Path
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)
    out = io.StringIO()
    output = Output(color=True, out=out)
    assert not output.styled
    from asynctrace._reading import tree_view

    output.view(tree_view(research), as_json=False)
    assert "\x1b[" not in out.getvalue()
    assert "trace research" in out.getvalue()
