"""``asynctrace report``: the trace as one self-contained HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._reading._tree import TraceTree


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write (default: next to the trace, *.report.html)",
    )


def write(tree: TraceTree, args: argparse.Namespace) -> Path:
    """Write the report for ``tree`` where ``args.output`` says; say so on stderr.

    Raises OSError when the file cannot be written.
    """
    from ..export import write_report

    target = Path(args.output) if args.output else tree.path.with_suffix(".report.html")
    write_report(tree, target)
    spans = sum(len(t.spans) for t in tree.traces())
    size = target.stat().st_size
    sys.stderr.write(
        f"wrote {target} ({spans} spans, {size / 1024:.0f} KiB); open it in a browser\n"
    )
    return target
