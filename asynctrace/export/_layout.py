"""Lanes: where each span and point event of one trace goes in a timeline.

Shared by the Perfetto export and the HTML report, so both draw the same
picture.  The rules mirror how Perfetto (and chrome://tracing) nest what sits
on one thread track: the innermost slice still open when an event begins is
its parent, and a slice is closed at its end (``end <= ts``).  So:

- a span goes on its parent's lane when its parent is the innermost open
  slice there, it ends within its parent, it covers none of its parent's
  point events, and nothing else started on that lane at the same moment
  (Perfetto orders simultaneous starts by itself); otherwise it starts a
  stack of its own on the first lane that is empty at that moment (the
  viewers then link it to its parent by a flow);
- a point event goes on its span's lane when that span is innermost there
  (which the rule above keeps true inside the span), else on an empty lane;
- spans recorded on another OS thread (``thread_id``) get lanes of their own,
  named for that thread, never mixed with the event loop's.

Lanes are named for what they hold and sorted by where their first span
sits in the span tree, so the timeline reads in the tree's order.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .._events._schema import Event
from .._reading._detail import detail
from .._reading._format import clip
from .._reading._tree import SpanNode, TraceTree
from .._reading._view import plain

MAX_LANE_LABELS: Final = 3
INSTANT_NAME_CHARS: Final = 80


def span_label(node: SpanNode) -> str:
    """``tool fetch``, ``llm gpt-x``, ``turn 1``: kind and name."""
    if node.kind == "turn":
        turn = node.data.get("turn")
        return f"turn {turn}" if turn is not None else "turn"
    if node.name and node.name != node.kind:
        return f"{node.kind} {node.name}"
    return node.kind


_DESCRIBED: Final = frozenset({"decision", "error", "checkpoint"})


def event_title(ev: Event) -> str:
    """A point event's name and what it says: ``decision plan → answer``,
    ``cache.miss key=asyncio``."""
    if ev.event in _DESCRIBED:
        said = plain(detail(ev)).strip()
    else:
        said = " ".join(
            f"{k}={v}" for k, v in ev.data.items() if isinstance(v, str | int | float | bool)
        )
    return clip(f"{ev.event} {said}" if said else ev.event, INSTANT_NAME_CHARS)


@dataclass(slots=True, eq=False)
class Placed:
    """One span (``node``) or point event (``event``, inside ``owner``) on a lane."""

    start_ns: int
    end_ns: int
    lane: int
    depth: int
    """Slices open around it on its lane (0: at the top of the lane)."""
    nested: bool
    """It sits directly under its parent (span) or owner (event) on the same lane."""
    node: SpanNode | None = None
    event: Event | None = None
    owner: SpanNode | None = None


@dataclass(slots=True, eq=False)
class Lane:
    name: str
    thread_id: int | None
    """The OS thread its spans ran on, for lanes of thread-hopped spans."""
    rank: int = 0
    """Position among the trace's lanes (0 first), in span-tree order."""


@dataclass(slots=True, eq=False)
class TraceLayout:
    tree: TraceTree
    placed: list[Placed]
    """In placement order: by start, parents before children."""
    lanes: list[Lane]
    where: dict[str, Placed] = field(default_factory=dict)
    """The placement of each span, by key."""


class _Stack:
    __slots__ = ("group", "items", "last_span_start", "last_start", "ordinal")

    def __init__(self, group: int | None, ordinal: int) -> None:
        self.group = group
        self.ordinal = ordinal
        self.items: list[tuple[int, SpanNode]] = []
        # Perfetto orders what starts at the same time on a track by itself
        # (longer slices first, instants after, flows last), not by file
        # order: one start per time and lane keeps the nesting ours (point
        # events at one time may share it: each closes the one before).
        self.last_start = -1 << 62
        self.last_span_start = -1 << 62

    def free_at(self, at_ns: int) -> bool:
        return self.last_start < at_ns and self.top(at_ns) is None

    def top(self, at_ns: int) -> SpanNode | None:
        items = self.items
        while items and items[-1][0] <= at_ns:
            items.pop()
        return items[-1][1] if items else None


def _may_name_threads(path: Path) -> bool:
    # A plain file without the key has no thread ids: skip decoding it again.
    if path.suffix != ".jsonl":
        return True
    try:
        with path.open("rb") as f:
            tail = b""
            while chunk := f.read(1 << 20):
                if _THREAD_KEY in tail + chunk:
                    return True
                tail = chunk[-len(_THREAD_KEY) :]
    except OSError:
        return False
    return False


_THREAD_KEY: Final = b'"thread_id"'


def thread_ids(tree: TraceTree) -> dict[str, int]:
    """span_id -> OS thread id, for spans started on another thread than the
    collector's loop (``thread_id`` on their start line)."""
    from .._reading._reader import read

    found: dict[str, int] = {}
    if not _may_name_threads(tree.path):
        return found
    try:
        reader = read(tree.path)
        for batch in reader.batches():
            for ev in batch:
                if ev.thread_id is not None and ev.span_id is not None:
                    found.setdefault(ev.span_id, ev.thread_id)
    except OSError:
        return found
    return found


def _tree_order(tree: TraceTree) -> tuple[dict[str, int], dict[str, int]]:
    """Each span's position in the span tree (depth first) and its depth."""
    order: dict[str, int] = {}
    depth: dict[str, int] = {}
    for i, node in enumerate(tree.walk()):
        order[node.key] = i
        parent = node.parent
        depth[node.key] = depth.get(parent.key, -1) + 1 if parent is not None else 0
    return order, depth


def _instant_times(tree: TraceTree, ends: Mapping[str, int]) -> dict[str, list[int]]:
    times: dict[str, list[int]] = {}
    for node in tree.spans.values():
        if node.events:
            end = ends[node.key]
            inside = sorted(ev.ts_ns for ev in node.events if node.start_ts_ns <= ev.ts_ns < end)
            if inside:
                times[node.key] = inside
    return times


def layout(tree: TraceTree, threads: Mapping[str, int] | None = None) -> TraceLayout:
    """The lanes of one trace file (its child traces are laid out on their own).

    ``threads`` maps span ids to OS thread ids (default: read from the file).
    """
    threads = thread_ids(tree) if threads is None else threads
    tree_order, depths = _tree_order(tree)
    horizon = max(tree.last_ts_ns, tree.t0_ns)
    ends: dict[str, int] = {}
    # (start, depth, -end, order, what): at equal starts, parents before
    # their children (so that they can nest) and spans before point events.
    items: list[tuple[int, int, int, int, SpanNode | Event, SpanNode | None]] = []
    for node in tree.spans.values():
        end = node.end_ts_ns
        if end is None:
            end = max(horizon, node.start_ts_ns)
        ends[node.key] = end
        items.append((node.start_ts_ns, depths.get(node.key, 0), -end, node.order, node, None))
    order = len(items)
    for node in tree.spans.values():
        depth = depths.get(node.key, 0) + 1
        for ev in node.events:
            items.append((ev.ts_ns, depth, -ev.ts_ns, order, ev, node))
            order += 1
    for ev in tree.events:
        items.append((ev.ts_ns, 0, -ev.ts_ns, order, ev, None))
        order += 1
    items.sort(key=lambda item: item[:4])
    instants = _instant_times(tree, ends)

    stacks: list[_Stack] = []
    per_group: dict[int | None, int] = {}
    placed: list[Placed] = []
    where: dict[str, Placed] = {}

    def free_lane(group: int | None, at_ns: int) -> int:
        for i, stack in enumerate(stacks):
            if stack.group == group and stack.free_at(at_ns):
                return i
        per_group[group] = per_group.get(group, 0) + 1
        stacks.append(_Stack(group, per_group[group]))
        return len(stacks) - 1

    for start, _, neg_end, _, what, owner in items:
        end = -neg_end
        if isinstance(what, SpanNode):
            node = what
            group = threads.get(node.key)
            parent = node.parent
            home = where.get(parent.key) if parent is not None else None
            lane = -1
            if parent is not None and home is not None and stacks[home.lane].group == group:
                stack = stacks[home.lane]
                if (
                    stack.last_start < start
                    and stack.top(start) is parent
                    and end <= ends[parent.key]
                    and not _covers(instants.get(parent.key), start, end)
                ):
                    lane = home.lane
            nested = lane >= 0
            if not nested:
                lane = free_lane(group, start)
            depth = len(stacks[lane].items)
            stacks[lane].items.append((end, node))
            stacks[lane].last_start = stacks[lane].last_span_start = start
            p = Placed(start, end, lane, depth, nested, node=node)
            where[node.key] = p
        else:
            home = where.get(owner.key) if owner is not None else None
            lane = -1
            if owner is not None and home is not None:
                stack = stacks[home.lane]
                if stack.last_span_start < start and stack.top(start) is owner:
                    lane = home.lane
            nested = lane >= 0
            if not nested:
                group = stacks[home.lane].group if home is not None else None
                lane = free_lane(group, start)
            depth = len(stacks[lane].items)
            stacks[lane].last_start = start
            p = Placed(start, start, lane, depth, nested, event=what, owner=owner)
        placed.append(p)

    lanes = _name_lanes(tree_order, stacks, placed)
    return TraceLayout(tree=tree, placed=placed, lanes=lanes, where=where)


def _covers(times: list[int] | None, start: int, end: int) -> bool:
    if not times:
        return False
    # A zero-length span still takes its moment (see _Stack.last_start).
    i = bisect.bisect_left(times, start)
    return i < len(times) and times[i] < max(end, start + 1)


def _name_lanes(
    tree_order: Mapping[str, int], stacks: list[_Stack], placed: list[Placed]
) -> list[Lane]:
    tops: list[list[Placed]] = [[] for _ in stacks]
    for p in placed:
        if p.depth == 0:
            tops[p.lane].append(p)
    lanes: list[Lane] = []
    keys: list[tuple[float, int]] = []
    for i, stack in enumerate(stacks):
        lanes.append(Lane(name=_lane_name(stack, tops[i]), thread_id=stack.group))
        first = min(
            (_tree_position(p, tree_order) for p in tops[i]), default=float(len(tree_order))
        )
        keys.append((first, i))
    for rank, (_, i) in enumerate(sorted(keys)):
        lanes[i].rank = rank
    return lanes


def _tree_position(p: Placed, tree_order: Mapping[str, int]) -> float:
    if p.node is not None:
        return float(tree_order.get(p.node.key, len(tree_order)))
    if p.owner is not None:
        return tree_order.get(p.owner.key, len(tree_order)) + 0.5
    return float(len(tree_order)) + 1


def _lane_name(stack: _Stack, tops: list[Placed]) -> str:
    if stack.group is not None:
        name = f"thread {stack.group}"
        return name if stack.ordinal == 1 else f"{name} ({stack.ordinal})"
    labels: list[str] = []
    kinds: set[str] = set()
    for p in tops:
        if p.node is not None:
            kinds.add(p.node.kind)
            label = span_label(p.node)
            if label not in labels:
                labels.append(label)
    if not labels:
        return "events"
    if len(labels) <= MAX_LANE_LABELS:
        return ", ".join(labels)
    if len(kinds) == 1:
        return f"{len(labels)} {next(iter(kinds))} spans: {labels[0]}, {labels[1]}, …"
    return f"{len(labels)} spans: {labels[0]}, {labels[1]}, …"


def layouts(tree: TraceTree) -> tuple[list[TraceLayout], int]:
    """The layout of a trace and of each joined child trace, parents first,
    and time zero for all of them: the earliest of the root's start and
    anything placed."""
    laid = [layout(sub) for sub in tree.traces()]
    t0 = min([tree.t0_ns, *(p.start_ns for lay in laid for p in lay.placed)])
    return laid, t0
