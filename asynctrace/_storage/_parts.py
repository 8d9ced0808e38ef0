"""Part chains and trace groups.

A rotated trace is a chain of part files: part 1, then parts whose
``trace.start`` names the previous part (``prev_file_id``), the rotated
part's ``trace.stop`` naming the next (``next_file_id``).  A trace group is
everything that belongs to one trace: its part chains and its child files
(same trace id in schema v2; linked by ``parent_trace_id`` in v1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ._header import read_stop
from ._names import plain_path
from ._rotation import ROTATED
from ._scan import TraceFileInfo, recognize, scan


def _dedupe(files: Iterable[TraceFileInfo]) -> list[TraceFileInfo]:
    """One entry per file: a part that exists both plain and compressed (a
    crash between compressing and removing) counts once, as the plain copy."""
    by_key: dict[object, TraceFileInfo] = {}
    for info in files:
        key: object = (info.trace_id, info.file_id) if info.file_id else plain_path(info.path)
        seen = by_key.get(key)
        if seen is None or (seen.compressed and not info.compressed):
            by_key[key] = info
    return list(by_key.values())


def order_parts(files: Iterable[TraceFileInfo]) -> list[list[TraceFileInfo]]:
    """The files of one directory as part chains, each in part order.

    A file without a file id is a chain of its own.  A part whose previous
    part is missing starts a chain of its own, so nothing is lost.
    """
    unique = _dedupe(files)
    by_id = {(f.trace_id, f.file_id): f for f in unique if f.file_id}
    next_of: dict[tuple[str, str], TraceFileInfo] = {}
    for f in unique:
        if f.prev_file_id and (f.trace_id, f.prev_file_id) in by_id:
            next_of.setdefault((f.trace_id, f.prev_file_id), f)
    chains: list[list[TraceFileInfo]] = []
    linked = {id(f) for f in next_of.values()}
    for head in unique:
        if id(head) in linked:
            continue
        chain = [head]
        seen = {id(head)}
        while chain[-1].file_id:
            nxt = next_of.get((chain[-1].trace_id, chain[-1].file_id or ""))
            if nxt is None or id(nxt) in seen:
                break
            seen.add(id(nxt))
            chain.append(nxt)
        chains.append(chain)
    # Parts caught in a cycle of prev links have no head; keep them anyway.
    placed = {id(f) for c in chains for f in c}
    chains.extend([f] for f in unique if id(f) not in placed)
    chains.sort(key=lambda c: (c[0].start_ts_ns, c[0].path.name))
    return chains


@dataclass(eq=False)
class TraceGroup:
    """One trace: its root part chain first, then its children's chains."""

    trace_id: str
    chains: list[list[TraceFileInfo]] = field(default_factory=list)

    @property
    def root(self) -> list[TraceFileInfo]:
        return self.chains[0]

    @property
    def files(self) -> list[TraceFileInfo]:
        return [f for c in self.chains for f in c]

    @property
    def last_mtime_ns(self) -> int:
        return max(f.mtime_ns for f in self.files)


def group_traces(files: Iterable[TraceFileInfo]) -> list[TraceGroup]:
    """Trace groups, oldest root first.  Files that share a trace id belong
    together (v2), and so do v1 children with their ``parent_trace_id``."""
    chains = order_parts(files)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for chain in chains:
        head = chain[0]
        find(head.trace_id)
        if head.parent_trace_id:
            a, b = find(head.trace_id), find(head.parent_trace_id)
            if a != b:
                parent[a] = b
    groups: dict[str, list[list[TraceFileInfo]]] = {}
    for chain in chains:
        groups.setdefault(find(chain[0].trace_id), []).append(chain)
    out: list[TraceGroup] = []
    for members in groups.values():
        file_ids = {f.file_id for c in members for f in c if f.file_id}
        trace_ids = {c[0].trace_id for c in members}

        members.sort(
            key=lambda c, t=trace_ids, f=file_ids: (  # type: ignore[misc]
                not _is_root(c[0], t, f),
                c[0].start_ts_ns,
                c[0].path.name,
            )
        )
        out.append(TraceGroup(members[0][0].trace_id, members))
    out.sort(key=lambda g: (g.root[0].start_ts_ns, g.root[0].path.name))
    return out


def _is_root(head: TraceFileInfo, trace_ids: set[str], file_ids: set[str]) -> bool:
    """No parent link, or a link to a file that is not in this directory."""
    if head.parent_trace_id:
        return head.parent_trace_id not in trace_ids
    if head.parent_file_id:
        return head.parent_file_id not in file_ids
    return True


def find_parts(path: Path) -> list[Path]:
    """Every part of the trace ``path`` belongs to, in order (``[path]`` for a
    trace that was never rotated).  For a directory: the parts of its most
    recently written trace's root (``[]`` when it holds no trace).

    Siblings are looked up in ``path``'s directory: first those whose name
    holds the trace id or starts like ``path``'s, then, only if a rotated
    part's successor is still missing, every trace file there.
    """
    if path.is_dir():
        groups = group_traces(scan(path, by_name=False))
        if not groups:
            return []
        newest = max(groups, key=lambda g: (g.last_mtime_ns, g.root[0].path.name))
        return [f.path for f in newest.root]
    info = recognize(path, by_name=False)
    if info is None or not info.file_id:
        return [path]
    if not info.prev_file_id and not info.compressed:
        stop = read_stop(path)
        if stop is not None and stop.data.get("reason") != ROTATED:
            return [path]  # closed for good and never continued: one part
    stem = path.name.split(".", 1)[0]
    folder = path.parent
    # Headers are read only for names that can belong to this trace.
    candidates = list(
        scan(
            folder,
            by_name=False,
            name_filter=lambda name: info.trace_id in name or name.startswith(stem),
        )
    )
    chain = _chain_of(info, candidates)
    last = chain[-1]
    stop = read_stop(last.path)
    if (stop is not None and stop.data.get("reason") == ROTATED) or chain[0].prev_file_id:
        chain = _chain_of(info, list(scan(folder, by_name=False)))
    return [f.path for f in chain]


def _chain_of(info: TraceFileInfo, candidates: list[TraceFileInfo]) -> list[TraceFileInfo]:
    same = [f for f in candidates if f.trace_id == info.trace_id and f.file_id]
    if not any(f.path == info.path for f in same):
        same.append(info)
    for chain in order_parts(same):
        if any(f.file_id == info.file_id for f in chain):
            return chain
    return [info]
