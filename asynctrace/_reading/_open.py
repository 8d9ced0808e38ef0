"""How a trace file is opened, by suffix; the seam for compressed traces."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final, cast

Opener = Callable[[Path], BinaryIO]


def _open_plain(path: Path) -> BinaryIO:
    # Unbuffered: the reader asks for large chunks itself.
    return open(path, "rb", buffering=0)


def _open_gzip(path: Path) -> BinaryIO:
    return cast(BinaryIO, gzip.open(path, "rb"))


_OPENERS: Final[dict[str, Opener]] = {".gz": _open_gzip}


def register_opener(suffix: str, opener: Opener) -> None:
    """Read files ending in ``suffix`` (e.g. ``".zst"``) through ``opener``.

    ``opener(path)`` must return a binary file object whose ``read(n)``
    yields the decompressed JSONL bytes.
    """
    if not suffix.startswith(".") or len(suffix) < 2:
        raise ValueError(f"suffix must look like '.gz', got {suffix!r}")
    if not callable(opener):
        raise TypeError("opener must be callable")
    _OPENERS[suffix.lower()] = opener


def opener_for(path: Path) -> Opener:
    return _OPENERS.get(path.suffix.lower(), _open_plain)


def is_plain(path: Path) -> bool:
    """True when the file can be read from the end without decompressing it."""
    return opener_for(path) is _open_plain


TRACE_SUFFIXES: Final = (".jsonl",)


def looks_like_trace_name(path: Path) -> bool:
    """``x.jsonl`` or ``x.jsonl.<registered compression suffix>``."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return True
    stem, dot, suffix = name.rpartition(".")
    return bool(dot) and stem.endswith(".jsonl") and f".{suffix}" in _OPENERS
