"""The first and last lines of a trace file, plain or gzip, without reading
the whole file when it is plain."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import BinaryIO, Final, cast

import msgspec

from .._events._codec import EVENT_DECODER
from .._events._schema import TRACE_START, TRACE_STOP, Event
from ._names import GZ_SUFFIX

# A trace.start line is small; a "first line" longer than this is not one.
MAX_HEADER_BYTES: Final = 1 << 20
_BLOCK: Final = 64 * 1024
_FIRST_READ: Final = 8 * 1024


def is_compressed(path: Path) -> bool:
    return path.name.endswith(GZ_SUFFIX)


def _open(path: Path, compressed: bool | None = None) -> BinaryIO:
    if is_compressed(path) if compressed is None else compressed:
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


def read_start(path: Path, *, compressed: bool | None = None) -> Event | None:
    """The ``trace.start`` on the first line, or None (not a trace, unreadable,
    empty, or a gzip stream that is not one).  ``compressed`` overrides the
    ``.gz`` suffix rule (a truncated gzip stream still yields its first line)."""
    head = b""
    try:
        with _open(path, compressed) as f:
            # Small reads: the first line is short, the file may be large.
            while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
                chunk = f.read(_FIRST_READ)
                if not chunk:
                    break
                head += chunk
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    cut = head.find(b"\n")
    if cut < 0:
        return None
    try:
        ev = EVENT_DECODER.decode(head[:cut])
    except msgspec.MsgspecError:
        return None
    return ev if ev.event == TRACE_START else None


def read_stop(path: Path) -> Event | None:
    """The ``trace.stop`` on the last line, or None when the file does not end
    with one (still open, crashed, or unreadable).

    A plain file is read from its end; a gzip file is decompressed in
    streaming fashion (constant memory), keeping only the last line.
    """
    try:
        last = _last_line_gz(path) if is_compressed(path) else _last_line_plain(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if last is None:
        return None
    try:
        ev = EVENT_DECODER.decode(last)
    except msgspec.MsgspecError:
        return None
    return ev if ev.event == TRACE_STOP else None


def _last_line_plain(path: Path) -> bytes | None:
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        block = _BLOCK
        while True:
            begin = max(0, size - block)
            f.seek(begin)
            data = f.read(size - begin)
            if not data.endswith(b"\n"):
                return None  # empty, or a torn final line
            body = data.rstrip()
            cut = body.rfind(b"\n")
            if cut >= 0 or begin == 0:
                return body[cut + 1 :] or None
            block *= 4


def _last_line_gz(path: Path) -> bytes | None:
    tail = b""
    with gzip.open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            tail = (tail + chunk)[-(MAX_HEADER_BYTES * 4) :]
            # Keep from the last complete line on, so memory stays bounded.
            cut = tail.rstrip(b"\n").rfind(b"\n")
            if cut >= 0:
                tail = tail[cut + 1 :]
    if not tail.endswith(b"\n"):
        return None
    return tail.strip() or None
