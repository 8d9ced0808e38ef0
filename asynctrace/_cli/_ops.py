"""Commands over a whole trace directory: ``ls``, ``clean``, ``summary --aggregate``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .._reading._aggregate import GROUP_BY, aggregate, aggregate_view
from .._reading._catalog import SORT_KEYS, catalog, ls_view, since_ns_ago
from .._storage._age import parse_age_s
from .._storage._retention import Retention, cleanup
from ._output import Output

AddCommand = Callable[[str, str], argparse.ArgumentParser]


def _age(text: str) -> float:
    try:
        return parse_age_s(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _directory(arg: str) -> Path:
    from ._errors import CliError

    path = Path(arg)
    if not path.exists():
        raise CliError(f"no such directory: {path}")
    if not path.is_dir():
        raise CliError(f"{path} is a file; give the directory that holds the traces")
    return path


def register(add: AddCommand, default_dir: str) -> None:
    """Add ``ls`` and ``clean`` to the command line."""
    p = add("ls", "one row per trace in a directory, parts and child traces folded in")
    p.add_argument("path", nargs="?", default=default_dir, metavar="DIR")
    p.add_argument(
        "--sort",
        choices=sorted(SORT_KEYS),
        default="start",
        help="order by this column, largest or newest first (default: start)",
    )
    p.add_argument(
        "--since", type=_age, metavar="AGE", help="only traces started in the last AGE (2d, 12h)"
    )
    p.add_argument(
        "--status", metavar="STATUS", help="only this status: ok, error, cancelled, aborted, open"
    )
    p.add_argument("--label", metavar="TEXT", help="only labels containing TEXT (case-insensitive)")
    p.set_defaults(func=cmd_ls)

    p = add("clean", "delete the oldest traces beyond a count or an age (retention)")
    p.add_argument("path", nargs="?", default=default_dir, metavar="DIR")
    p.add_argument("--max-files", type=int, metavar="N", help="keep at most N traces")
    p.add_argument(
        "--max-age",
        type=_age,
        metavar="AGE",
        help="delete traces last written more than AGE ago (30d)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted, delete nothing"
    )
    p.set_defaults(func=cmd_clean)


def extend_summary(p: argparse.ArgumentParser) -> None:
    """``summary --aggregate [--by ...] [--since ...]``."""
    p.add_argument(
        "--aggregate", action="store_true", help="summarize every trace of the directory together"
    )
    p.add_argument(
        "--by", choices=GROUP_BY, help="with --aggregate: one block per day, label or model"
    )
    p.add_argument(
        "--since",
        type=_age,
        metavar="AGE",
        help="with --aggregate: only traces started in the last AGE",
    )


def cmd_ls(args: argparse.Namespace, out: Output) -> int:
    folder = _directory(args.path)
    since = since_ns_ago(args.since) if args.since is not None else None
    rows = catalog(folder, since_ns=since, status=args.status, label=args.label, sort=args.sort)
    out.view(ls_view(rows), as_json=args.json)
    return 0


def cmd_clean(args: argparse.Namespace, out: Output) -> int:
    from ._errors import CliError

    folder = _directory(args.path)
    if args.max_files is None and args.max_age is None:
        raise CliError("give --max-files N, --max-age AGE or both")
    try:
        retention = Retention(
            max_files=args.max_files,
            max_age_days=args.max_age / 86_400 if args.max_age is not None else None,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    removed = cleanup(folder, retention, dry_run=args.dry_run)
    if args.json:
        out.json({"dry_run": args.dry_run, "removed": [str(p) for p in removed]})
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        out.line([(f"{verb} ", "dim"), (str(path), "name")])
    out.out.flush()
    sys.stderr.write(f"{verb} {len(removed)} file{'s' if len(removed) != 1 else ''}\n")
    return 0


def cmd_aggregate(args: argparse.Namespace, out: Output) -> int:
    paths = [Path(args.path)]
    since = since_ns_ago(args.since) if args.since is not None else None
    data = aggregate(paths, by=args.by, since_ns=since)
    out.view(aggregate_view(data), as_json=args.json)
    return 0
