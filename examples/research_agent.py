"""The demo's research agent, driven from your own code.

`asynctrace demo` runs the same agent (asynctrace/_demo/_agent.py): a
simulated model and tools -- no network -- that plan, call three tools
concurrently in a TaskGroup (one fails and is retried), and hand the notes
to a sub-agent whose work lands in a linked child trace.  Deterministic for
a given seed.

    python examples/research_agent.py --seed 7 --trace-dir traces
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import asynctrace
from asynctrace._demo._agent import research
from asynctrace.export import write_chrome_trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trace-dir", type=Path, default=Path("traces"))
    args = parser.parse_args()

    result = asyncio.run(research("What makes tracing cheap?", seed=args.seed, trace_dir=args.trace_dir))
    print("answer:", result.answer)

    # Everything the CLI shows is a library call away.
    tree = asynctrace.load_tree(result.trace_path)  # child trace joined in
    print(asynctrace.tree_view(tree, events=False))
    print(asynctrace.trajectory_view(tree))
    summary = asynctrace.summarize(result.trace_path)
    print(f"{summary['llm_calls']} model calls, ${summary['cost_usd']}, {summary['errors']} errors")

    chrome = result.trace_path.with_suffix(".chrome.json")
    write_chrome_trace(result.trace_path, chrome)
    print(f"open {chrome} in https://ui.perfetto.dev")


if __name__ == "__main__":
    main()
