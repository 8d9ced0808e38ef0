"""Recognising asynctrace's own files in a directory: by name AND first line."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._events._schema import Event
from ._header import read_start
from ._names import TraceName, parse_name


@dataclass(frozen=True, slots=True)
class TraceFileInfo:
    """One recognised trace file: its name, its ``trace.start`` and its stat."""

    path: Path
    name: TraceName | None
    """None when the file was recognised by its header alone (a custom name)."""
    start: Event
    size: int
    mtime_ns: int

    @property
    def data(self) -> dict[str, Any]:
        return self.start.data

    @property
    def trace_id(self) -> str:
        return self.start.trace_id

    @property
    def file_id(self) -> str | None:
        value = self.data.get("file_id")
        if isinstance(value, str):
            return value
        return self.name.file_id if self.name is not None else None

    @property
    def part(self) -> int:
        value = self.data.get("part")
        return value if type(value) is int and value >= 1 else 1

    @property
    def prev_file_id(self) -> str | None:
        value = self.data.get("prev_file_id")
        return value if isinstance(value, str) else None

    @property
    def parent_trace_id(self) -> str | None:
        """v1: the parent's trace id when it differs from this one."""
        value = self.data.get("parent_trace_id")
        return value if isinstance(value, str) and value != self.trace_id else None

    @property
    def parent_file_id(self) -> str | None:
        value = self.data.get("parent_file_id")
        return value if isinstance(value, str) else None

    @property
    def is_child(self) -> bool:
        """The file was opened under a parent span (any schema version)."""
        d = self.data
        return bool(d.get("parent_trace_id") or d.get("parent_file_id") or d.get("parent_span_id"))

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(".gz")

    @property
    def start_ts_ns(self) -> int:
        return self.start.ts_ns


def recognize(path: Path, *, by_name: bool = True) -> TraceFileInfo | None:
    """A :class:`TraceFileInfo` if ``path`` is one of asynctrace's files.

    With ``by_name`` (what retention uses) the name must match the writer's
    pattern and agree with the first line's trace id (and file id, when both
    have one); without it any readable file whose first line is a
    ``trace.start`` counts (what the reader uses for custom names).
    """
    name = parse_name(path.name)
    if by_name and name is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    start = read_start(path)
    if start is None:
        return None
    if name is not None and by_name:
        if start.trace_id != name.trace_id:
            return None
        header_fid = start.data.get("file_id")
        if name.file_id is not None and isinstance(header_fid, str) and header_fid != name.file_id:
            return None
    return TraceFileInfo(path, name, start, st.st_size, st.st_mtime_ns)


def scan(
    directory: Path,
    *,
    by_name: bool = True,
    name_filter: Callable[[str], bool] | None = None,
) -> Iterator[TraceFileInfo]:
    """Recognised trace files directly in ``directory`` (not recursive), in
    name order; files that vanish meanwhile are skipped.  ``name_filter``
    skips names before any file is opened."""
    try:
        with os.scandir(directory) as it:
            names = sorted(e.name for e in it if e.is_file() and not e.name.startswith("."))
    except OSError:
        return
    for entry in names:
        if not by_name and not _trace_like(entry):
            continue
        if name_filter is not None and not name_filter(entry):
            continue
        info = recognize(directory / entry, by_name=by_name)
        if info is not None:
            yield info


def _trace_like(name: str) -> bool:
    return name.endswith((".jsonl", ".jsonl.gz"))
