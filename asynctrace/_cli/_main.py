"""``asynctrace``: read, explain, validate and export trace files.

Exit codes: 0 success; 1 ``validate`` found problems; 2 usage error or an
input that cannot be read as a trace (missing, empty, not a trace);
3 internal error; 130 interrupted.  See docs/cli.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .._reading import _problems as P
from .._reading._open import looks_like_trace_name
from .._reading._reader import TraceReader, read
from .._reading._slowest import slowest_view
from .._reading._summaryview import summary_view
from .._reading._timeline import timeline_view
from .._reading._trajectory import trajectory_view
from .._reading._tree import TraceTree, load_tree, parent_file_id_of
from .._reading._treeview import tree_view
from .._reading._validate import validate
from .._version import __version__
from . import _ops
from ._errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    CliError,
)
from ._output import Output, color_wanted, error, warn
from ._report import add_arguments as _report_args

DEFAULT_PATH: Final = "traces"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors: one line and exit 2, as documented.
        raise CliError(f"{message} (see '{self.prog} --help')")


# -- finding and opening traces ------------------------------------------------


def newest_trace(folder: Path) -> Path:
    """The newest root trace in ``folder`` (child traces are joined into their
    parent's views), or the newest trace file if none is a root."""
    candidates = [p for p in folder.iterdir() if p.is_file() and looks_like_trace_name(p)]
    if not candidates:
        raise CliError(f"no trace files (*.jsonl) in {folder}")
    candidates.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    for path in candidates:
        try:
            start = read(path).start
        except OSError:
            continue
        if start is not None and parent_file_id_of(start) is None:
            return path
    return candidates[0]


def resolve(path_arg: str) -> Path:
    """A trace file, or the newest trace file in a directory."""
    path = Path(path_arg)
    if not path.exists():
        raise CliError(f"no such file or directory: {path}")
    if path.is_dir():
        return newest_trace(path)
    return path


def open_trace(path_arg: str) -> TraceReader:
    path = resolve(path_arg)
    try:
        reader = read(path)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    for problem in reader.problems:
        if problem.kind == P.EMPTY:
            raise CliError(f"{path} is empty")
        if problem.kind == P.NOT_A_TRACE:
            raise CliError(f"{path} is not an asynctrace trace: {problem.message}")
    return reader


def open_tree(path_arg: str) -> TraceTree:
    reader = open_trace(path_arg)
    return load_tree(reader.path)


def min_ns(value: float | None) -> int | None:
    return None if value is None else round(value * 1_000_000)


def report_problems(reader: TraceReader) -> None:
    for problem in reader.problems:
        warn(f"{reader.path.name}: {problem}")
    if reader.problem_count > len(reader.problems):
        warn(f"{reader.path.name}: … {reader.problem_count - len(reader.problems)} more problems")
    if reader.complete and reader.is_trace and reader.stop is None:
        warn(f"{reader.path.name}: no trace.stop: the trace was not closed")


# -- commands -----------------------------------------------------------------


def cmd_show(args: argparse.Namespace, out: Output) -> int:
    reader = open_trace(args.path)
    try:
        view = timeline_view(
            reader, kinds=args.kind or (), span=args.span, min_duration_ns=min_ns(args.min_ms)
        )
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    out.view(view, as_json=args.json)
    report_problems(reader)
    return EXIT_OK


def cmd_tree(args: argparse.Namespace, out: Output) -> int:
    tree = open_tree(args.path)
    try:
        view = tree_view(
            tree, span=args.span, min_duration_ns=min_ns(args.min_ms), events=not args.no_events
        )
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    out.view(view, as_json=args.json)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace, out: Output) -> int:
    if args.aggregate:
        return _ops.cmd_aggregate(args, out)
    if args.by is not None or args.since is not None:
        raise CliError("--by and --since go with --aggregate")
    reader = open_trace(args.path)
    out.view(summary_view(reader), as_json=args.json)
    return EXIT_OK


def cmd_trajectory(args: argparse.Namespace, out: Output) -> int:
    tree = open_tree(args.path)
    view = trajectory_view(tree)
    if not args.json and not tree.spans:
        out.line([("(no spans in this trace)", "dim")])
        return EXIT_OK
    out.view(view, as_json=args.json)
    return EXIT_OK


def cmd_slowest(args: argparse.Namespace, out: Output) -> int:
    if args.n < 0:
        raise CliError("-n must not be negative")
    tree = open_tree(args.path)
    try:
        view = slowest_view(
            tree,
            args.n,
            kinds=args.kind or (),
            span=args.span,
            min_duration_ns=min_ns(args.min_ms),
        )
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    out.view(view, as_json=args.json)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    from .._events._codec import ENCODER
    from ..export import to_chrome_trace

    if args.format != "chrome":
        from ._otlp import OtlpCliError, cmd_export_otlp

        try:
            return cmd_export_otlp(args, out)
        except OtlpCliError as exc:
            raise CliError(str(exc)) from None
    tree = open_tree(args.path)
    data = ENCODER.encode(to_chrome_trace(tree))
    if args.output == "-":
        out.out.write(data.decode() + "\n")
        out.out.flush()
        return EXIT_OK
    target = Path(args.output) if args.output else tree.path.with_suffix(".chrome.json")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
    spans = sum(len(t.spans) for t in tree.traces())
    traces = sum(1 for _ in tree.traces())
    sys.stderr.write(
        f"wrote {target} ({spans} spans, {traces} trace{'s' if traces != 1 else ''});"
        " open it in https://ui.perfetto.dev or chrome://tracing\n"
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace, out: Output) -> int:
    from . import _report

    try:
        _report.write(open_tree(args.path), args)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or args.output}: {exc.strerror or exc}") from None
    return EXIT_OK


def cmd_tail(args: argparse.Namespace, out: Output) -> int:
    from ._tail import tail

    if args.n < 0:
        raise CliError("-n must not be negative")
    if args.interval <= 0:
        raise CliError("--interval must be positive")
    path = resolve(args.path)
    return tail(path, out, lines=args.n, follow=args.follow, interval_s=args.interval)


def cmd_validate(args: argparse.Namespace, out: Output) -> int:
    results: list[dict[str, object]] = []
    bad = False
    for path_arg in args.paths:
        path = resolve(path_arg)
        try:
            problems = validate(path)
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
        bad = bad or bool(problems)
        results.append(
            {
                "path": str(path),
                "valid": not problems,
                "problems": [
                    {"line": p.line, "kind": p.kind, "message": p.message} for p in problems
                ],
            }
        )
        if not args.json:
            if problems:
                out.line(
                    [("✗ ", "error"), (str(path), "name"), (f"  {len(problems)} problems", "error")]
                )
                for p in problems:
                    where = f"line {p.line}: " if p.line else ""
                    out.line([("  ", ""), (f"[{p.kind}] ", "warn"), (where + p.message, "")])
            else:
                out.line([("✓ ", "ok"), (str(path), "name"), ("  valid", "ok")])
    if args.json:
        out.json(results if len(results) != 1 else results[0])
    return EXIT_PROBLEMS if bad else EXIT_OK


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    try:
        demo = importlib.import_module("asynctrace._demo")
    except ModuleNotFoundError as exc:
        if exc.name in ("asynctrace._demo", "asynctrace"):
            raise CliError(
                "the demo is not available in this build (asynctrace._demo is missing)"
            ) from None
        raise
    result = demo.main(args)
    return int(result) if isinstance(result, int) else EXIT_OK


# -- the parser ---------------------------------------------------------------


def _common() -> _Parser:
    """The global options, made afresh for each parser that takes them: shared
    action objects would share the top level's default and reset an option
    given before the command."""
    common = _Parser(add_help=False)
    # SUPPRESS: an option given before the command is not reset by the
    # command's own default.
    common.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS,
        help="plain output (also when NO_COLOR is set or output is not a terminal)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output for scripts"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="asynctrace",
        description="Read, explain, validate and export asynctrace trace files.",
        epilog="PATH is a trace file or a directory (its newest *.jsonl); default ./traces. "
        "Exit codes: 0 ok, 1 validation problems, 2 usage or unreadable input, "
        "3 internal error, 130 interrupted.",
        parents=[_common()],
    )
    parser.set_defaults(no_color=False, json=False)
    parser.add_argument("--version", action="version", version=f"asynctrace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[_common()])
        return p

    def path_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("path", nargs="?", default=DEFAULT_PATH, metavar="PATH")

    def filters(p: argparse.ArgumentParser, *, kinds: bool = True) -> None:
        if kinds:
            p.add_argument(
                "--kind",
                action="append",
                metavar="KIND",
                help="only this kind (tool) or event name (tool.stop); repeatable",
            )
        p.add_argument(
            "--span", metavar="ID", help="only this span's subtree (id or unique prefix)"
        )
        p.add_argument(
            "--min-ms", type=float, metavar="MS", help="only what lasted at least MS milliseconds"
        )

    p = add("show", "the timeline: one line per event")
    path_arg(p)
    filters(p)
    p.set_defaults(func=cmd_show)

    p = add("tree", "the span tree, child traces joined in; ∥ marks overlapping siblings")
    path_arg(p)
    filters(p, kinds=False)
    p.add_argument("--no-events", action="store_true", help="hide point events")
    p.set_defaults(func=cmd_tree)

    p = add("summary", "counts, latency percentiles, tokens, cost, errors, collector health")
    path_arg(p)
    _ops.extend_summary(p)
    p.set_defaults(func=cmd_summary)

    p = add("trajectory", "per turn: the model's action, then the tool observations")
    path_arg(p)
    p.set_defaults(func=cmd_trajectory)

    p = add("slowest", "the slowest spans")
    path_arg(p)
    p.add_argument("-n", type=int, default=10, metavar="N", help="how many (default 10)")
    filters(p)
    p.set_defaults(func=cmd_slowest)

    p = add("export", "export to another format (Chrome / Perfetto JSON, OTLP, OTLP JSON)")
    path_arg(p)
    p.add_argument(
        "--format",
        choices=["chrome", "otlp", "otlp-json"],
        default="chrome",
        help="output format (otlp: send to --endpoint; otlp-json: write -o; both need the otlp extra)",
    )
    p.add_argument(
        "--endpoint",
        metavar="URL",
        help="OTLP traces URL for --format otlp (default: $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write ('-' for stdout; default: next to the trace, *.chrome.json)",
    )
    p.set_defaults(func=cmd_export)

    p = add("report", "a self-contained HTML report: timeline, span tree, summary, details")
    path_arg(p)
    _report_args(p)
    p.set_defaults(func=cmd_report)

    p = add("tail", "the last events of a trace; with -f, follow it as it grows")
    path_arg(p)
    p.add_argument("-f", "--follow", action="store_true", help="follow until trace.stop or Ctrl-C")
    p.add_argument(
        "-n", type=int, default=20, metavar="N", help="events to show first (default 20)"
    )
    p.add_argument(
        "--interval", type=float, default=0.25, metavar="S", help="poll interval in seconds"
    )
    p.set_defaults(func=cmd_tail)

    p = add("validate", "check traces against the schema; exit 1 on problems")
    p.add_argument("paths", nargs="*", default=[DEFAULT_PATH], metavar="PATH")
    p.set_defaults(func=cmd_validate)

    from ._llm import Commands, add_llm_commands

    add_llm_commands(add, path_arg, Commands(open_trace, CliError))
    _ops.register(add, DEFAULT_PATH)

    p = add("demo", "run the simulated research agent, then show its timeline and summary")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument(
        "--trace-dir", default="traces", metavar="DIR", help="where to write (default ./traces)"
    )
    p.add_argument(
        "--sdk", action="store_true", help="the real openai SDK against a local mock: requests, curl, disclosure"
    )
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises, except SystemExit
    from ``--help``/``--version``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        out = Output(color=color_wanted(args.no_color, sys.stdout) and not args.json)
        code: int = args.func(args, out)
        return code
    except CliError as exc:
        error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error.
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        error(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("ASYNCTRACE_DEBUG"):
            raise
        error(f"internal error: {type(exc).__name__}: {exc} (set ASYNCTRACE_DEBUG=1 for details)")
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
