"""Terminal output: rich when it is installed and colour is wanted, plain text otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, Final, TextIO

import msgspec

from .._events._codec import ENCODER
from .._reading._view import Line, View, plain

# Semantic style names used by the views -> rich styles.
RICH_STYLES: Final = {
    "dim": "dim",
    "event": "cyan",
    "kind": "magenta",
    "name": "bold",
    "ok": "green",
    "error": "bold red",
    "warn": "bold yellow",
    "num": "blue",
    "cost": "green",
    "head": "bold",
}


def color_wanted(no_color_flag: bool, stream: TextIO) -> bool:
    """Colour unless ``--no-color``, ``NO_COLOR`` is set, or output is not a terminal."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Where the CLI writes: styled lines, JSON, and one-line messages on stderr."""

    def __init__(self, *, color: bool, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self._console: Any = None
        if color:
            try:
                from rich.console import Console
            except ImportError:  # rich is optional (the ``cli`` extra)
                pass
            else:
                # Only built when colour is wanted, so the terminal check is done.
                self._console = Console(
                    file=self.out,
                    force_terminal=True,
                    highlight=False,
                    soft_wrap=True,
                    emoji=False,
                    markup=False,
                )

    @property
    def styled(self) -> bool:
        return self._console is not None

    def line(self, line: Line) -> None:
        if self._console is None:
            self.out.write(plain(line) + "\n")
            return
        from rich.text import Text

        text = Text()
        for chunk, style in line:
            text.append(chunk, RICH_STYLES.get(style, "") if style else "")
        self._console.print(text)

    def lines(self, lines: Iterable[Line]) -> None:
        for line in lines:
            self.line(line)

    def view(self, view: View, *, as_json: bool) -> None:
        if as_json:
            self.json_view(view)
        else:
            self.lines(view.lines())
        self.out.flush()

    def json_view(self, view: View) -> None:
        if not view.is_list:
            self.json(view.data())
            return
        # One element per line inside the array: valid JSON that also
        # streams, and greps line by line.
        write = self.out.write
        write("[")
        first = True
        for item in view.items():
            write("\n" if first else ",\n")
            write(ENCODER.encode(item).decode())
            first = False
        write("\n]\n" if not first else "]\n")

    def json(self, value: Any) -> None:
        text = msgspec.json.format(ENCODER.encode(value), indent=2).decode()
        self.out.write(text + "\n")


def warn(message: str) -> None:
    sys.stderr.write(f"asynctrace: warning: {message}\n")


def error(message: str) -> None:
    sys.stderr.write(f"asynctrace: error: {message}\n")
