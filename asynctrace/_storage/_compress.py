"""Compressing a closed part: gzip to a temp file, fsync, rename, then remove
the plain file.

At every instant at least one complete copy exists: the plain file is only
removed after the ``.gz`` is complete, synced and in place under its final
name, and the directory entry of the rename is synced too.  A crash before
the rename leaves only a hidden ``.{name}.gz.partial`` (never read as a
trace; the next ``compress_part`` of the same file replaces it); a crash
after it leaves both copies, which readers and retention count once.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from ._names import GZ_SUFFIX, compressed_path, temp_path

Stage = Literal["written", "renamed"]
"""Hook points: ``written`` once the temp file is complete and synced;
``renamed`` once the ``.gz`` is in place, before the plain file is removed."""

_CHUNK: Final = 1 << 20
COMPRESS_LEVEL: Final = 6


def _private(path: str, flags: int) -> int:
    # 0600 from the first byte, like the trace file itself.
    return os.open(path, flags, 0o600)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every platform can open a directory; the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def compress_part(
    path: str | os.PathLike[str],
    *,
    level: int = COMPRESS_LEVEL,
    sync: bool = True,
    on_stage: Callable[[Stage], None] | None = None,
) -> Path:
    """Gzip the closed part ``path`` into ``path + ".gz"`` and remove ``path``;
    return the ``.gz`` path.  Blocking: call it from a thread (the finisher)
    or through :func:`compress_part_in_thread`.

    ``sync`` fsyncs the file and the directory (off only for tests and
    throwaway data).  ``on_stage`` is called at each stage; an exception it
    raises stops the work right there, as a crash would, and propagates.

    Raises ``FileNotFoundError`` if ``path`` is missing, ``ValueError`` if it
    is already compressed; any ``OSError`` while writing leaves ``path``
    untouched (the temp file is removed).
    """
    src = Path(path)
    if src.name.endswith(GZ_SUFFIX):
        raise ValueError(f"{src} is already compressed")
    if not 0 <= level <= 9:
        raise ValueError(f"level must be 0..9, got {level!r}")
    target = compressed_path(src)
    tmp = temp_path(target)
    tmp.unlink(missing_ok=True)  # a crash of an earlier attempt
    try:
        with open(src, "rb") as fin, open(tmp, "xb", opener=_private) as raw:
            # mtime=0: the same part compresses to the same bytes every time.
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0
            ) as gz:
                shutil.copyfileobj(fin, gz, _CHUNK)
            raw.flush()
            if sync:
                os.fsync(raw.fileno())
        shutil.copystat(src, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if on_stage is not None:
        on_stage("written")
    os.replace(tmp, target)
    if sync:
        _fsync_dir(target.parent)
    if on_stage is not None:
        on_stage("renamed")
    src.unlink(missing_ok=True)
    if sync:
        _fsync_dir(src.parent)
    return target


async def compress_part_in_thread(
    path: str | os.PathLike[str],
    *,
    level: int = COMPRESS_LEVEL,
    sync: bool = True,
    on_stage: Callable[[Stage], None] | None = None,
) -> Path:
    """:func:`compress_part` on a worker thread, so the event loop keeps running.

    Cancellation: the caller is cancelled at once, but the thread runs to
    completion (a half-done compression is never abandoned mid-rename);
    the plain file is then gone and the ``.gz`` complete.
    """
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: compress_part(path, level=level, sync=sync, on_stage=on_stage),
        abandon_on_cancel=True,
    )


COMPRESSIONS: Final = ("gzip",)


def check_compress(value: object) -> str | None:
    """The collector's ``compress`` argument, checked: None (off) or ``"gzip"``."""
    if value is None:
        return None
    if isinstance(value, str) and value in COMPRESSIONS:
        return value
    raise ValueError(f"compress must be None or 'gzip', got {value!r}")
