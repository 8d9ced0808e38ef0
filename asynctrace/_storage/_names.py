"""Which file names are asynctrace's own trace files.

v1 names are ``{stamp}_{trace_id}.jsonl``; v2 names add the file id,
``{stamp}_{trace_id}_{file_id}.jsonl``.  Either may end in ``.gz`` once
compressed.  ``stamp`` is ``YYYY-MM-DD_HH-MM-SS`` (the date alone is
accepted too).  A name is necessary, not sufficient: the first line must be
a matching ``trace.start`` as well (see ``_scan.recognize``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

GZ_SUFFIX: Final = ".gz"
PARTIAL_SUFFIX: Final = ".partial"

_NAME_RE: Final = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}(?:_\d{2}-\d{2}-\d{2})?)"
    r"_(?P<trace_id>[0-9a-f]{32})"
    r"(?:_(?P<file_id>[0-9a-f]{16}))?"
    r"\.jsonl(?P<gz>\.gz)?"
)


@dataclass(frozen=True, slots=True)
class TraceName:
    """What a recognised file name says about the file."""

    stamp: str
    trace_id: str
    file_id: str | None
    compressed: bool


def parse_name(name: str) -> TraceName | None:
    """The parts of an asynctrace file name, or None if it is not one."""
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return None
    return TraceName(m["stamp"], m["trace_id"], m["file_id"], m["gz"] is not None)


def compressed_path(path: Path) -> Path:
    """Where ``compress_part`` puts the gzip copy of ``path``."""
    return path.with_name(path.name + GZ_SUFFIX)


def plain_path(path: Path) -> Path:
    """The uncompressed twin of ``x.jsonl.gz`` (``path`` itself if not compressed)."""
    if path.name.endswith(".jsonl" + GZ_SUFFIX):
        return path.with_name(path.name[: -len(GZ_SUFFIX)])
    return path


def temp_path(target: Path) -> Path:
    """A hidden sibling that no trace-name pattern matches (leading dot)."""
    return target.with_name(f".{target.name}{PARTIAL_SUFFIX}")
