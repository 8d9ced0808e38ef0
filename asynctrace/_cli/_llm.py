"""``asynctrace requests``, ``curl`` and ``disclosure``: the captured model calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .._reading._curl import curl_commands
from .._reading._disclosure import disclosure_view
from .._reading._reader import TraceReader
from .._reading._requests import requests, requests_view
from ._output import Output, warn

Add = Callable[[str, str], argparse.ArgumentParser]


class Commands:
    """The three commands, given the main module's trace opener and error type."""

    def __init__(self, open_trace: Callable[[str], TraceReader], error: type[Exception]) -> None:
        self._open = open_trace
        self._error = error

    def requests(self, args: argparse.Namespace, out: Output) -> int:
        reader = self._open(args.path)
        if args.body or args.index is not None:
            reqs = requests(reader.path)
            if args.index is None:
                raise self._error("--body needs --index N")
            if not 0 <= args.index < len(reqs):
                raise self._error(f"no request {args.index}: the trace has {len(reqs)} captured calls")
            r = reqs[args.index]
            if args.body:
                if r.body is None:
                    raise self._error(f"request {args.index} has no recorded body ({r.body_problem})")
                if r.body_problem:
                    warn(f"request {args.index}: {r.body_problem}")
                out.out.flush()
                sys.stdout.buffer.write(r.body)
                sys.stdout.buffer.flush()
                return 0
            out.json(r.summary())
            return 0
        out.view(requests_view(reader.path), as_json=args.json)
        return 0

    def curl(self, args: argparse.Namespace, out: Output) -> int:
        reader = self._open(args.path)
        try:
            commands = curl_commands(reader.path, index=args.index, base_url=args.base_url)
        except IndexError as exc:
            raise self._error(str(exc)) from None
        if not commands:
            warn("no captured model calls in this trace")
        if args.json:
            out.json(commands)
        else:
            out.out.write("\n\n".join(commands) + ("\n" if commands else ""))
        return 0

    def disclosure(self, args: argparse.Namespace, out: Output) -> int:
        reader = self._open(args.path)
        out.view(disclosure_view(reader.path), as_json=args.json)
        return 0


def add_llm_commands(
    add: Add, path_arg: Callable[[argparse.ArgumentParser], None], commands: Commands
) -> None:
    p = add("requests", "the model calls captured by an SDK integration: tokens, cost, status")
    path_arg(p)
    p.add_argument("--index", type=int, metavar="N", help="only call N (JSON details)")
    p.add_argument("--body", action="store_true", help="with --index: print its exact request body")
    p.set_defaults(func=commands.requests)

    p = add("curl", "captured model calls as runnable curl commands (key from the environment)")
    path_arg(p)
    p.add_argument("--index", type=int, metavar="N", help="only call N")
    p.add_argument("--base-url", metavar="URL", help="send to URL instead of the recorded base URL")
    p.set_defaults(func=commands.curl)

    p = add("disclosure", "per model call: tools added/removed, messages, context growth, system prompt")
    path_arg(p)
    p.set_defaults(func=commands.disclosure)


__all__: list[Any] = ["Commands", "add_llm_commands"]
