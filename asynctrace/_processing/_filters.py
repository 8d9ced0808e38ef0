"""Filters: processors that drop events on purpose (by raising ``DropEvent``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .._events._schema import Event
from ._pipeline import DropEvent

__all__ = ["KindFilter", "event_kind"]

# The collector's own lines; never dropped, whatever the configuration.
_PROTECTED_KIND: Final = "trace"


def event_kind(name: str) -> str:
    """The kind of an event: its name up to the first dot (``tool.stop`` -> ``tool``)."""
    return name.partition(".")[0]


def _kinds(arg: str, value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise TypeError(f"{arg} must be a collection of kinds, not a single string: {value!r}")
    try:
        kinds = list(value)
    except TypeError:
        raise TypeError(f"{arg} must be an iterable of str, got {type(value).__name__}") from None
    for kind in kinds:
        if not isinstance(kind, str):
            raise TypeError(f"{arg} must contain str kinds, got {kind!r}")
        if not kind or "." in kind or kind != kind.strip():
            raise ValueError(
                f"{arg}: {kind!r} is not an event kind (the part of the name before the first dot)"
            )
    return frozenset(kinds)


class KindFilter:
    """Keep or drop events by kind (``tool``, ``llm``, ``decision``, ...).

    ``include``: only these kinds pass.  ``exclude``: these kinds are dropped.
    Both may be given (an event must be included and not excluded).  Events
    of kind ``trace`` (the collector's own lines) always pass.
    """

    __slots__ = ("_exclude", "_include")

    def __init__(
        self,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> None:
        self._include = _kinds("include", include)
        self._exclude = _kinds("exclude", exclude)

    @property
    def include(self) -> frozenset[str] | None:
        return self._include

    @property
    def exclude(self) -> frozenset[str] | None:
        return self._exclude

    def __repr__(self) -> str:
        inc = None if self._include is None else sorted(self._include)
        exc = None if self._exclude is None else sorted(self._exclude)
        return f"KindFilter(include={inc!r}, exclude={exc!r})"

    def keeps(self, name: str) -> bool:
        """Whether an event named ``name`` passes this filter."""
        kind = name.partition(".")[0]
        if kind == _PROTECTED_KIND:
            return True
        if self._include is not None and kind not in self._include:
            return False
        return self._exclude is None or kind not in self._exclude

    def __call__(self, ev: Event) -> Event:
        """``ev`` itself if it passes; else raises ``DropEvent``."""
        if not self.keeps(ev.event):
            raise DropEvent
        return ev
