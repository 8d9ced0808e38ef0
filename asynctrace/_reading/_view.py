"""A rendered view: styled lines for the terminal and a JSON form for scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

Segment = tuple[str, str]
"""Text and a style name (``""`` for none); see :data:`STYLES`."""
Line = list[Segment]

STYLES: Final = (
    "dim",  # offsets, ids, secondary detail
    "event",  # event names
    "kind",  # span kinds in trees
    "name",  # span, tool and model names
    "ok",
    "error",
    "warn",  # open spans, shed counts, missing trace.stop
    "num",  # tokens, durations
    "cost",
    "head",  # headings
)


def plain(line: Iterable[Segment]) -> str:
    return "".join(text for text, _ in line)


class View:
    """One view of a trace.

    ``str(view)`` (or :meth:`text`) is the plain text; :meth:`lines` yields
    the same text as styled segments; :meth:`data` is the JSON-ready form.
    Views of the whole file (timeline) are produced lazily, so a large
    trace streams through.
    """

    __slots__ = ("_data", "_lines", "is_list")

    def __init__(
        self,
        lines: Callable[[], Iterable[Line]],
        data: Callable[[], Any],
        *,
        is_list: bool = False,
    ) -> None:
        self._lines = lines
        self._data = data
        self.is_list = is_list
        """:meth:`data` is a list, which :meth:`items` yields lazily."""

    def lines(self) -> Iterator[Line]:
        yield from self._lines()

    def __iter__(self) -> Iterator[str]:
        for line in self._lines():
            yield plain(line)

    def text(self) -> str:
        out = "\n".join(self)
        return out + "\n" if out else out

    __str__ = text

    def items(self) -> Iterator[Any]:
        """The JSON form's elements one by one, for a list view."""
        value = self._data()
        if self.is_list:
            yield from value
        else:
            yield value

    def data(self) -> Any:
        value = self._data()
        return list(value) if self.is_list else value
