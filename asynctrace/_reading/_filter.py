"""Which events and spans a view shows: by kind, by subtree, by duration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._events._schema import Event
from ._tree import SpanNode, TraceTree, kind_of


@dataclass(frozen=True, slots=True)
class Selection:
    """A filter over events and spans.

    ``kinds`` matches an event's kind (``tool``) or its full name
    (``tool.stop``); ``subtree`` is a set of span keys (see :func:`subtree`);
    ``min_duration_ns`` keeps only what has a duration at least that long.
    Empty parts select everything.
    """

    kinds: frozenset[str] = frozenset()
    subtree: frozenset[str] | None = None
    min_duration_ns: int | None = None

    @property
    def is_everything(self) -> bool:
        return not self.kinds and self.subtree is None and self.min_duration_ns is None

    def event(self, ev: Event) -> bool:
        if self.kinds and ev.event not in self.kinds and kind_of(ev.event) not in self.kinds:
            return False
        if self.min_duration_ns is not None and (
            ev.duration_ns is None or ev.duration_ns < self.min_duration_ns
        ):
            return False
        if self.subtree is not None:
            keys = self.subtree
            if not (ev.span_id in keys or ev.parent_span_id in keys or f"call:{ev.seq}" in keys):
                return False
        return True

    def span(self, node: SpanNode) -> bool:
        if self.kinds and node.kind not in self.kinds:
            return False
        if self.min_duration_ns is not None and (
            node.duration_ns is None or node.duration_ns < self.min_duration_ns
        ):
            return False
        return self.subtree is None or node.key in self.subtree


def selection(
    *,
    kinds: Iterable[str] = (),
    span: str | None = None,
    min_duration_ns: int | None = None,
    tree: TraceTree | None = None,
) -> Selection:
    """Build a :class:`Selection`; ``span`` (an id or unique id prefix) needs ``tree``."""
    if isinstance(kinds, str):
        raise TypeError("kinds must be an iterable of strings, not a string")
    if min_duration_ns is not None and min_duration_ns < 0:
        raise ValueError("min_duration_ns must not be negative")
    keys: frozenset[str] | None = None
    if span is not None:
        if tree is None:
            raise ValueError("selecting a span subtree needs the trace tree")
        keys = subtree(tree.find(span))
    return Selection(frozenset(kinds), keys, min_duration_ns)


def subtree(node: SpanNode) -> frozenset[str]:
    """The keys of ``node`` and every span below it, child traces included."""
    return frozenset(n.key for n in node.walk(into_child_traces=True))
