"""The collector's housekeeping: retention at open, compression of closed parts.

Both work on files, so both run off the event loop, and neither may break
the traced program: a failure is counted here (process-wide, per kind),
logged once to the ``asynctrace`` logger, and the trace goes on -- a failed
cleanup deletes nothing more, a failed compression leaves the plain file.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Final

from .._storage._compress import compress_part
from .._storage._retention import Retention, cleanup_in_thread

log = logging.getLogger("asynctrace")

RETENTION: Final = "retention"
COMPRESS: Final = "compress"


class OpsErrors:
    """Failures of housekeeping, by kind; the first of each kind is logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {RETENTION: 0, COMPRESS: 0}

    def record(self, kind: str, what: str, exc: BaseException) -> None:
        with self._lock:
            self.counts[kind] += 1
            first = self.counts[kind] == 1
        if first:
            log.warning(
                "asynctrace: %s failed (%r); the traced program continues "
                "(further %s failures are counted, not logged)",
                what,
                exc,
                kind,
            )


ERRORS: Final = OpsErrors()


async def apply_retention(directory: Path, retention: Retention | None) -> list[Path]:
    """Delete what *retention* expires in *directory*, on a worker thread.

    The trace just opened there is open (no ``trace.stop`` yet, modified
    now), and retention never deletes an open trace.  Returns the removed
    files; ``[]`` when off or when the cleanup failed (counted, logged once).
    """
    if retention is None:
        return []
    try:
        return await cleanup_in_thread(directory, retention)
    except Exception as exc:  # the observer never breaks the observed
        ERRORS.record(RETENTION, f"retention cleanup of {directory}", exc)
        return []


def compress_closed(path: Path) -> Path:
    """Gzip the closed trace file *path*; the ``.gz`` path, or *path* itself
    if that failed (the plain file is then intact: counted, logged once)."""
    try:
        return compress_part(path)
    except Exception as exc:
        ERRORS.record(COMPRESS, f"compressing {path}", exc)
        return path


async def compress_off_loop(path: Path, timeout_s: float) -> Path:
    """:func:`compress_closed` on a daemon thread, waiting at most *timeout_s*.

    Past it the thread goes on alone and the plain path is returned: the
    close path stays bounded by ``shutdown_timeout``.  Exit does not wait
    for a daemon thread, and ``compress_part`` keeps one complete copy at
    every instant, so an exit during it loses nothing.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Path] = loop.create_future()

    def done(result: Path) -> None:
        if not fut.done():
            fut.set_result(result)

    def run() -> None:
        result = compress_closed(path)
        try:
            loop.call_soon_threadsafe(done, result)
        except RuntimeError:
            pass  # the loop is gone: nobody waits any more

    threading.Thread(target=run, name="asynctrace-compress", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
    except TimeoutError:
        log.warning(
            "asynctrace: compressing %s did not finish within shutdown_timeout; "
            "it goes on in the background",
            path,
        )
        return path


class PartCompressions:
    """Rotated parts gzip-compressed while the trace goes on, one daemon thread each.

    A rotated part is complete (it ends with its ``trace.stop``) once the
    writer thread has opened the next one, so it is compressed right then,
    off the loop and off the writer thread; the close path then only waits
    for these (bounded by ``shutdown_timeout``) instead of compressing them
    again.  ``compress_part`` keeps one complete copy at every instant.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Path, threading.Event] = {}
        self._result: dict[Path, Path] = {}

    def start(self, path: Path) -> None:
        """Compress the closed part *path* in the background (any thread)."""
        done = threading.Event()
        with self._lock:
            self._done[path] = done

        def run() -> None:
            result = compress_closed(path)
            with self._lock:
                self._result[path] = result
            done.set()

        threading.Thread(target=run, name="asynctrace-compress", daemon=True).start()

    def started(self, path: Path) -> bool:
        with self._lock:
            return path in self._done

    async def wait(self, path: Path, timeout_s: float) -> Path:
        """The ``.gz`` of *path* once its compression ended, or *path* itself
        if it failed or is still running after *timeout_s* (it goes on)."""
        with self._lock:
            done = self._done[path]
        if not await asyncio.to_thread(done.wait, timeout_s):
            log.warning(
                "asynctrace: compressing %s did not finish within shutdown_timeout; "
                "it goes on in the background",
                path,
            )
            return path
        with self._lock:
            return self._result[path]
