"""Span trees: start/stop pairs joined by span_id, nested by parent_span_id,
and child trace files joined in under the span that spawned them.

Files are joined by their links: schema v2 ``file_id`` / ``parent_file_id``
/ ``child_file_id(s)``; version 1 files by ``trace_id`` /
``parent_trace_id`` / ``child_trace_id(s)`` (each v1 file was its own trace).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._events._ids import is_file_id, is_trace_id
from .._events._schema import AGENT_CONFIG, EVENT_OMITTED, TRACE_START, TRACE_STOP, Event
from . import _problems as P
from ._open import looks_like_trace_name
from ._problems import Problem
from ._reader import TraceReader, read


def kind_of(event_name: str) -> str:
    """The part of an event name before the first dot."""
    return event_name.partition(".")[0]


@dataclass(eq=False, slots=True)
class SpanNode:
    """One span (a start/stop pair) or one after-the-fact ``*.call``."""

    key: str
    """The span_id, or ``call:<seq>`` for a ``*.call`` without a span_id."""
    kind: str
    name: str
    trace_id: str
    start_ts_ns: int
    duration_ns: int | None
    """None while the span is open (no stop in the file)."""
    status: str | None
    data: dict[str, Any]
    """The start attributes, updated with the stop attributes."""
    parent_span_id: str | None = None
    agent_id: str | None = None
    file_id: str = ""
    """The id of the file this span was read from (see ``TraceTree.file_id``)."""
    started: bool = False
    """The ``*.start`` line was read (False for a stop without its start)."""
    stop_ts_ns: int | None = None
    """When the ``*.stop`` (or the ``*.call``) was emitted."""
    recorded: bool = False
    """A ``*.call``: recorded after the fact rather than opened and closed."""
    order: int = 0
    children: list[SpanNode] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    """Point events inside this span, in file order."""
    child_traces: list[TraceTree] = field(default_factory=list)
    parent: SpanNode | None = field(default=None, repr=False)

    @property
    def span_id(self) -> str | None:
        return None if self.key.startswith("call:") else self.key

    @property
    def is_open(self) -> bool:
        return self.duration_ns is None

    @property
    def end_ts_ns(self) -> int | None:
        return None if self.duration_ns is None else self.start_ts_ns + self.duration_ns

    @property
    def child_file_ids(self) -> list[str]:
        """Child files linked to this span: v2 ``child_file_id(s)``, v1 ``child_trace_id(s)``."""
        return child_file_ids(self.data)

    def walk(self, *, into_child_traces: bool = False) -> Iterator[SpanNode]:
        """This span and its descendants, depth first, children in start order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            more = list(node.children)
            if into_child_traces:
                for sub in node.child_traces:
                    more.extend(sub.roots)
                more.sort(key=_start_key)
            stack.extend(reversed(more))


def child_file_ids(data: dict[str, Any]) -> list[str]:
    """The child files a span's stop data links to, v2 keys then v1 keys, without repeats."""
    ids: list[str] = []
    for one, many in (("child_file_id", "child_file_ids"), ("child_trace_id", "child_trace_ids")):
        first = data.get(one)
        if isinstance(first, str) and first not in ids:
            ids.append(first)
        more = data.get(many)
        if isinstance(more, list):
            ids.extend(v for v in more if isinstance(v, str) and v not in ids)
    return ids


def _start_key(node: SpanNode) -> tuple[int, int]:
    return (node.start_ts_ns, node.order)


@dataclass(eq=False)
class TraceTree:
    """The spans of one trace file, with its linked child traces."""

    path: Path
    start: Event | None
    stop: Event | None
    roots: list[SpanNode]
    """Spans without a parent in this file, in start order."""
    spans: dict[str, SpanNode]
    """Every span and call by key."""
    events: list[Event]
    """Point events outside any span of this file."""
    problems: list[Problem]
    torn_tail: bool = False
    event_count: int = 0
    """Producer events read (the collector's own lines excluded)."""
    first_ts_ns: int = 0
    last_ts_ns: int = 0
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``agent.config`` data by agent_id."""
    children: list[TraceTree] = field(default_factory=list)
    """Child traces joined into this one (also reachable from their spans)."""
    parent_node: SpanNode | None = field(default=None, repr=False)
    parts: list[Path] = field(default_factory=list)
    """The files this trace was read from, in part order (one unless it was rotated)."""
    part_file_ids: list[str] = field(default_factory=list)
    """The file id of each part read, in order (the first is :attr:`file_id`)."""

    @property
    def trace_id(self) -> str:
        return self.start.trace_id if self.start is not None else ""

    @property
    def file_id(self) -> str:
        """This file's id: ``file_id`` in a v2 ``trace.start``, the trace id of a v1 file."""
        return file_id_of(self.start)

    @property
    def short_id(self) -> str:
        """For headings: the trace id's first 8 characters, then (v2) the file id's."""
        fid = self.file_id
        if fid == self.trace_id:
            return self.trace_id[:8]
        return f"{self.trace_id[:8]}/{fid[:8]}"

    @property
    def parent_file_id(self) -> str | None:
        """The file this one hangs off, if its ``trace.start`` names one."""
        return parent_file_id_of(self.start)

    @property
    def t0_ns(self) -> int:
        """Time zero for offsets: the trace.start timestamp."""
        return self.start.ts_ns if self.start is not None else self.first_ts_ns

    @property
    def label(self) -> str:
        data = self.start.data if self.start is not None else {}
        for key in ("label", "trace_kind", "producer"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
        return self.file_id[:8] or self.path.name

    @property
    def open_spans(self) -> list[SpanNode]:
        return [n for n in self.spans.values() if n.is_open]

    def walk(self, *, into_child_traces: bool = False) -> Iterator[SpanNode]:
        """Every span, depth first from the roots in start order."""
        roots = list(self.roots)
        if into_child_traces:
            # Child traces that hang off no span of this file.
            roots.extend(r for c in self.children if c.parent_node is None for r in c.roots)
            roots.sort(key=_start_key)
        for root in roots:
            yield from root.walk(into_child_traces=into_child_traces)

    def traces(self) -> Iterator[TraceTree]:
        """This trace and all joined child traces, parents first."""
        yield self
        for child in self.children:
            yield from child.traces()

    def all_problems(self) -> Iterator[tuple[TraceTree, Problem]]:
        for tree in self.traces():
            for problem in tree.problems:
                yield tree, problem

    def find(self, span_id: str) -> SpanNode:
        """The span whose id is ``span_id`` or starts with it (in any joined trace).

        Raises ``KeyError`` when none or more than one span matches.
        """
        matches: list[SpanNode] = []
        for tree in self.traces():
            exact = tree.spans.get(span_id)
            if exact is not None:
                return exact
            matches.extend(n for k, n in tree.spans.items() if k.startswith(span_id))
        if len(matches) != 1:
            what = "no span" if not matches else f"{len(matches)} spans"
            raise KeyError(f"{what} with id starting {span_id!r}")
        return matches[0]


def file_id_of(start: Event | None) -> str:
    """The id that links to a file: v2 ``file_id``, else (v1) its trace id."""
    if start is None:
        return ""
    fid = start.data.get("file_id")
    return fid if isinstance(fid, str) else start.trace_id


def parent_file_id_of(start: Event | None) -> str | None:
    """The parent file named by a ``trace.start``: v2 ``parent_file_id``, v1 ``parent_trace_id``."""
    if start is None:
        return None
    key = "parent_file_id" if "file_id" in start.data else "parent_trace_id"
    value = start.data.get(key)
    return value if isinstance(value, str) else None


def _is_link_id(value: str) -> bool:
    return is_file_id(value) or is_trace_id(value)


class _Builder:
    def __init__(self, reader: TraceReader) -> None:
        self.reader = reader
        self.file_id = ""
        self.file_ids: list[str] = []
        self.spans: dict[str, SpanNode] = {}
        self.events_by_parent: dict[str, list[Event]] = {}
        self.loose: list[Event] = []
        self.configs: dict[str, dict[str, Any]] = {}
        self.count = 0
        self.first_ts_ns = 0
        self.last_ts_ns = 0

    def _node(self, key: str, ev: Event, kind: str) -> SpanNode:
        node = self.spans.get(key)
        if node is None:
            node = SpanNode(
                key=key,
                kind=kind,
                name="",
                trace_id=ev.trace_id,
                file_id=self.file_id,
                start_ts_ns=ev.ts_ns,
                duration_ns=None,
                status=None,
                data={},
                order=len(self.spans),
            )
            self.spans[key] = node
        return node

    def add(self, ev: Event) -> None:
        name = ev.event
        if name in (TRACE_START, TRACE_STOP):
            if name == TRACE_START:
                self.file_id = file_id_of(ev)
                if self.file_id not in self.file_ids:
                    self.file_ids.append(self.file_id)
            return
        if name == AGENT_CONFIG:
            if ev.agent_id is not None:
                self.configs[ev.agent_id] = ev.data
            return
        if self.count == 0:
            self.first_ts_ns = self.last_ts_ns = ev.ts_ns
        elif ev.ts_ns < self.first_ts_ns:
            self.first_ts_ns = ev.ts_ns
        elif ev.ts_ns > self.last_ts_ns:
            self.last_ts_ns = ev.ts_ns
        self.count += 1
        data = ev.data
        if name == EVENT_OMITTED:
            original = data.get("event")
            if isinstance(original, str):
                # The replacement keeps the ids, so the pairing still holds.
                name = original
                data = {"omitted_bytes": data.get("bytes")}
        kind, _, phase = name.partition(".")
        span_id = ev.span_id
        if span_id and phase == "start":
            node = self._node(span_id, ev, kind)
            node.started = True
            node.start_ts_ns = ev.ts_ns
            node.parent_span_id = ev.parent_span_id
            node.agent_id = ev.agent_id
            node.data = {**data, **node.data}
        elif span_id and phase == "stop":
            node = self._node(span_id, ev, kind)
            node.stop_ts_ns = ev.ts_ns
            node.duration_ns = ev.duration_ns or 0
            node.status = ev.status
            node.data.update(data)
            if not node.started:
                node.start_ts_ns = ev.ts_ns - node.duration_ns
                node.parent_span_id = ev.parent_span_id
                node.agent_id = ev.agent_id
        elif phase == "call":
            key = span_id or f"call:{ev.seq}"
            duration = ev.duration_ns or 0
            node = self._node(key, ev, kind)
            node.started = True
            node.stop_ts_ns = ev.ts_ns
            node.recorded = True
            # ts_ns of a call is when it was emitted, after it ended.
            node.start_ts_ns = ev.ts_ns - duration
            node.duration_ns = duration
            node.status = ev.status
            node.parent_span_id = ev.parent_span_id
            node.agent_id = ev.agent_id
            node.data = dict(data)
        elif ev.parent_span_id:
            self.events_by_parent.setdefault(ev.parent_span_id, []).append(ev)
        else:
            self.loose.append(ev)

    def build(self) -> TraceTree:
        for ev in self.reader:
            self.add(ev)
        reader = self.reader
        problems = list(reader.problems)
        spans = self.spans
        for node in spans.values():
            node.name = _name_of(node)
            if not node.started:
                problems.append(
                    Problem(0, P.UNPAIRED_STOP, f"{node.kind}.stop {node.key} has no start")
                )
            elif node.is_open:
                problems.append(
                    Problem(
                        0,
                        P.OPEN_SPAN,
                        f"{node.kind} span {node.key} ({node.name}) was never stopped",
                    )
                )
        roots: list[SpanNode] = []
        for node in spans.values():
            parent = spans.get(node.parent_span_id) if node.parent_span_id else None
            if parent is None:
                roots.append(node)
            else:
                node.parent = parent
                parent.children.append(node)
        self._cut_cycles(roots, problems)
        for node in spans.values():
            node.children.sort(key=_start_key)
        roots.sort(key=_start_key)
        loose = self.loose
        for parent_id, evs in self.events_by_parent.items():
            owner = spans.get(parent_id)
            if owner is None:
                loose.extend(evs)
            else:
                owner.events = evs
        loose.sort(key=lambda e: e.seq)
        return TraceTree(
            path=reader.path,
            start=reader.start,
            stop=reader.stop,
            roots=roots,
            spans=spans,
            events=loose,
            problems=problems,
            torn_tail=reader.torn_tail,
            event_count=self.count,
            first_ts_ns=self.first_ts_ns,
            last_ts_ns=self.last_ts_ns,
            configs=self.configs,
            parts=list(reader.parts),
            part_file_ids=list(self.file_ids),
        )

    def _cut_cycles(self, roots: list[SpanNode], problems: list[Problem]) -> None:
        seen: set[str] = set()

        def mark(root: SpanNode) -> None:
            stack = [root]
            while stack:
                node = stack.pop()
                if node.key in seen:
                    continue
                seen.add(node.key)
                stack.extend(node.children)

        for root in roots:
            mark(root)
        for node in self.spans.values():
            if node.key in seen:
                continue
            # Unreachable from any root: its ancestors loop.  Cut the loop
            # above this node and make it a root.
            parent = node.parent
            if parent is not None:
                parent.children = [c for c in parent.children if c is not node]
            node.parent = None
            roots.append(node)
            problems.append(
                Problem(0, P.SPAN_CYCLE, f"span {node.key}'s parent links form a loop; cut")
            )
            mark(node)


def _name_of(node: SpanNode) -> str:
    for key in ("name", "model"):
        value = node.data.get(key)
        if isinstance(value, str) and value:
            return value
    return node.kind


def build_tree(source: str | os.PathLike[str] | TraceReader) -> TraceTree:
    """The span tree of one trace file, without following child links."""
    reader = source if isinstance(source, TraceReader) else read(source)
    return _Builder(reader).build()


# -- child traces ------------------------------------------------------------


class _Directory:
    """file id → file, for the trace files of one directory (headers only)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_id: dict[str, list[Path]] | None = None
        self._by_parent: dict[str, list[Path]] = {}

    def _index(self) -> dict[str, list[Path]]:
        if self._by_id is None:
            self._by_id = {}
            try:
                entries = sorted(p for p in self.folder.iterdir() if looks_like_trace_name(p))
            except OSError:
                entries = []
            for path in entries:
                try:
                    start = read(path, parts=False).start
                except OSError:
                    continue
                if start is None or start.data.get("prev_file_id"):
                    # A continuation part is read through its first part.
                    continue
                self._by_id.setdefault(file_id_of(start), []).append(path)
                parent = parent_file_id_of(start)
                if parent is not None:
                    self._by_parent.setdefault(parent, []).append(path)
        return self._by_id

    def find(self, file_id: str) -> Path | None:
        # The writer names files ``{timestamp}_{trace_id}_{file_id}.jsonl``
        # (v1: ``{timestamp}_{trace_id}.jsonl``): try that before reading
        # every header in the directory.
        for path in sorted(self.folder.glob(f"*_{file_id}.jsonl*")):
            if looks_like_trace_name(path):
                try:
                    start = read(path, parts=False).start
                except OSError:
                    continue
                if start is not None and file_id_of(start) == file_id:
                    return path
        paths = self._index().get(file_id)
        return paths[0] if paths else None

    def children_of(self, file_ids: list[str]) -> list[Path]:
        """Files naming any of *file_ids* (a trace's parts) as their parent file."""
        self._index()
        out: list[Path] = []
        for fid in file_ids:
            out.extend(p for p in self._by_parent.get(fid, []) if p not in out)
        return out


def load_tree(path: str | os.PathLike[str], *, follow_children: bool = True) -> TraceTree:
    """The span tree of a trace file with its child traces joined in.

    A span whose stop carries ``child_file_id`` (v1: ``child_trace_id``)
    gets that file's tree in ``node.child_traces``.  Children are looked up
    by file id among the trace files of the same directory; a child file
    whose ``trace.start`` names this file as its parent is joined even if
    the link on the parent side is missing (the parent may have crashed
    before its span stopped).
    Missing children and cycles are reported in the trees' ``problems``.
    """
    root = build_tree(path)
    if follow_children and root.start is not None:
        folder = _Directory(root.path.parent)
        loaded = {fid: root.path.resolve() for fid in root.part_file_ids or [root.file_id]}
        _join_children(root, folder, loaded, ancestors=tuple(loaded))
    return root


def _join_children(
    tree: TraceTree,
    folder: _Directory,
    loaded: dict[str, Path],
    ancestors: tuple[str, ...],
) -> None:
    linked: list[tuple[SpanNode | None, str]] = []
    for node in tree.walk():
        linked.extend((node, child_id) for child_id in node.child_file_ids)
    for path in folder.children_of(tree.part_file_ids or [tree.file_id]):
        try:
            start = read(path, parts=False).start
        except OSError:
            continue
        if start is None:
            continue
        child_key = file_id_of(start)
        if child_key in loaded or any(cid == child_key for _, cid in linked):
            continue
        parent_span = start.data.get("parent_span_id")
        owner = tree.spans.get(parent_span) if isinstance(parent_span, str) else None
        linked.append((owner, child_key))

    for owner, child_id in linked:
        where = f"span {owner.key}" if owner is not None else "this trace"
        if not _is_link_id(child_id):
            tree.problems.append(
                Problem(0, P.BAD_CHILD, f"{where} links to a malformed file id {child_id!r}")
            )
            continue
        if child_id in ancestors:
            tree.problems.append(
                Problem(0, P.TRACE_CYCLE, f"{where} links back to file {child_id}; not followed")
            )
            continue
        if child_id in loaded:
            tree.problems.append(
                Problem(
                    0,
                    P.TRACE_CYCLE,
                    f"{where} links to file {child_id}, already joined elsewhere; not followed",
                )
            )
            continue
        child_path = folder.find(child_id)
        if child_path is None:
            tree.problems.append(
                Problem(
                    0,
                    P.MISSING_CHILD,
                    f"{where} links to child file {child_id}, not found in {folder.folder}",
                )
            )
            continue
        try:
            child = build_tree(child_path)
        except OSError as exc:
            tree.problems.append(
                Problem(0, P.BAD_CHILD, f"child file {child_id} unreadable: {exc}")
            )
            continue
        for fid in child.part_file_ids or [child_id]:
            loaded[fid] = child_path
        back = child.parent_file_id
        if back not in (tree.part_file_ids or [tree.file_id]):
            tree.problems.append(
                Problem(
                    0,
                    P.BAD_CHILD,
                    f"child file {child_id} names {back!r} as its parent, not this file",
                )
            )
        child.parent_node = owner
        _drop_shared_spans(tree, child)
        tree.children.append(child)
        if owner is not None:
            owner.child_traces.append(child)
        _join_children(child, folder, loaded, (*ancestors, *(child.part_file_ids or [child_id])))


def _drop_shared_spans(tree: TraceTree, child: TraceTree) -> None:
    """Keep spans recorded in both files only in the child trace.

    A child collector opened in the same process as its parent receives
    the same events as the parent while both are open, so its spans appear
    in both files with the same ids; joined, they would show twice.
    """
    shared = [key for key in child.spans if key in tree.spans]
    if not shared:
        return
    for key in shared:
        node = tree.spans.pop(key)
        parent = node.parent
        if parent is not None and parent.key not in child.spans:
            parent.children = [c for c in parent.children if c is not node]
        elif parent is None:
            tree.roots = [r for r in tree.roots if r is not node]
