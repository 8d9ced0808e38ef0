"""Global options (``--json``, ``--no-color``) work before or after every command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from _tracegen import write_research

from asynctrace._cli import _main as cli

ARGS = {
    "show": ["t.jsonl"],
    "tree": ["t.jsonl"],
    "summary": ["t.jsonl"],
    "trajectory": ["t.jsonl"],
    "slowest": ["t.jsonl"],
    "export": ["t.jsonl"],
    "tail": ["t.jsonl"],
    "validate": ["t.jsonl"],
    "demo": [],
    "ls": ["traces"],
    "clean": ["traces", "--max-files", "3"],
    "curl": ["t.jsonl"],
    "disclosure": ["t.jsonl"],
    "report": ["t.jsonl"],
    "requests": ["t.jsonl"],
}


def commands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_command_is_covered() -> None:
    assert sorted(ARGS) == commands()


@pytest.mark.parametrize("command", sorted(ARGS))
@pytest.mark.parametrize("option", ["--json", "--no-color"])
def test_a_global_option_is_taken_before_or_after_the_command(command: str, option: str) -> None:
    dest = option.lstrip("-").replace("-", "_")
    parser = cli.build_parser()
    before = parser.parse_args([option, command, *ARGS[command]])
    after = parser.parse_args([command, *ARGS[command], option])
    neither = parser.parse_args([command, *ARGS[command]])
    assert getattr(before, dest) is True
    assert getattr(after, dest) is True
    assert getattr(neither, dest) is False


def test_json_before_the_command_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, _ = write_research(tmp_path)
    for argv in (["--json", "show", str(trace)], ["show", str(trace), "--json"]):
        assert cli.main(argv) == 0
        events = json.loads(capsys.readouterr().out)
        assert events[0]["event"] == "trace.start"
    assert cli.main(["--json", "summary", str(trace)]) == 0
    assert json.loads(capsys.readouterr().out)["trace_id"]
