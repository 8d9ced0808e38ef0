"""``asynctrace demo``: run the simulated research agent and explain its trace."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .._cli._output import Output, color_wanted
from .._reading import summary_view, timeline_view, tree_view
from ._agent import DemoResult, research

QUESTION = "How should an async agent trace itself without slowing down?"


def run(seed: int = 7, trace_dir: str | Path = "traces") -> DemoResult:
    """Run the demo agent once; returns where its traces went."""
    return asyncio.run(research(QUESTION, seed=seed, trace_dir=Path(trace_dir)))


def main(args: argparse.Namespace) -> int:
    if getattr(args, "sdk", False):
        from ._sdk import main as sdk_main

        return sdk_main(args)
    seed = int(getattr(args, "seed", 7))
    trace_dir = Path(getattr(args, "trace_dir", None) or "traces")
    as_json = bool(getattr(args, "json", False))
    out = Output(color=color_wanted(bool(getattr(args, "no_color", False)), sys.stdout))
    result = run(seed, trace_dir)
    if as_json:
        out.json(
            {
                "trace": str(result.trace_path),
                "child_trace": str(result.child_trace_path) if result.child_trace_path else None,
                "answer": result.answer,
                "summary": summary_view(result.trace_path).data(),
            }
        )
        return 0
    head = "head"
    out.line([("asynctrace demo", head), (f"  seed {seed}: a simulated research agent", "dim")])
    out.line([(f"trace       {result.trace_path}", "dim")])
    if result.child_trace_path is not None:
        out.line([(f"child trace {result.child_trace_path}  (the summarizer sub-agent)", "dim")])
    out.line([])
    out.line([("Timeline", head)])
    out.view(timeline_view(result.trace_path), as_json=False)
    out.line([])
    out.line([("Span tree (child trace joined in)", head)])
    out.view(tree_view(result.trace_path, events=False), as_json=False)
    out.line([])
    out.line([("Summary", head)])
    out.view(summary_view(result.trace_path), as_json=False)
    out.line([])
    out.line([("Answer: ", head), (result.answer, "")])
    out.line(
        [
            (
                f"Next: asynctrace trajectory {result.trace_path}  |  "
                f"asynctrace export --format chrome -o trace.json {result.trace_path}",
                "dim",
            )
        ]
    )
    return 0
