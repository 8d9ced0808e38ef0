"""Rotation, as data: when a part is full, and what the boundary lines say.

The writer owns the files; this module only decides and describes, so the
reader's assumptions (``_parts``, ``_reading._reader``) and the writer's
lines cannot drift apart:

* a part is full when the next line would take it past ``max_file_bytes``
  and it already holds at least one producer line (so a line larger than
  the limit, or a limit smaller than one line, still makes progress: that
  line gets a part of its own, which is then over the limit);
* the rotated part ends with :func:`rotated_stop_data`; the next part
  begins with :func:`next_start_data`, which repeats the first part's
  ``trace.start`` data (label, parent links, ...) with ``part``,
  ``prev_file_id`` and its own ``file_id``; ``seq`` runs on;
* the ``trace.stop`` lines themselves are not counted against the limit
  (a part may pass it by the size of one stop line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ._names import parse_name

ROTATED: Final = "rotated"
_PART_RE: Final = re.compile(r"\.part\d+(?=\.|$)")


def check_max_file_bytes(value: object) -> int | None:
    """The ``max_file_bytes`` argument, checked (None: no rotation)."""
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise ValueError(f"max_file_bytes must be a positive int or None, got {value!r}")
    return value


def part_is_full(
    size_bytes: int, line_bytes: int, producer_lines: int, max_file_bytes: int | None
) -> bool:
    """Whether to rotate before writing a line of ``line_bytes`` to a part that
    has ``size_bytes`` and ``producer_lines`` so far."""
    if max_file_bytes is None or producer_lines == 0:
        return False
    return size_bytes + line_bytes > max_file_bytes


def rotated_stop_data(
    counts: Mapping[str, Any], summary: Mapping[str, Any], next_file_id: str
) -> dict[str, Any]:
    """``data`` of the ``trace.stop`` that closes a rotated part: the counts and
    summary of the whole trace so far, ``reason: "rotated"`` and the next part."""
    return {
        "counts": dict(counts),
        "summary": dict(summary),
        "reason": ROTATED,
        "next_file_id": next_file_id,
    }


def next_start_data(
    first_start: Mapping[str, Any], *, part: int, prev_file_id: str, file_id: str
) -> dict[str, Any]:
    """``data`` of the ``trace.start`` that opens part ``part`` (2, 3, ...)."""
    if part < 2:
        raise ValueError(f"a continuation part is number 2 or more, got {part}")
    return {**first_start, "file_id": file_id, "part": part, "prev_file_id": prev_file_id}


def next_part_path(first_path: Path, *, trace_id: str, file_id: str, part: int) -> Path:
    """Where part ``part`` goes: beside the first part, with the first part's
    stamp so the parts sort together; ``run.jsonl`` (a custom name) becomes
    ``run.part2.jsonl``."""
    name = parse_name(first_path.name)
    if name is not None:
        return first_path.with_name(f"{name.stamp}_{trace_id}_{file_id}.jsonl")
    base = _PART_RE.sub("", first_path.name, count=1)
    stem, dot, suffixes = base.partition(".")
    return first_path.with_name(f"{stem}.part{part}{dot}{suffixes}")
