"""The writer: takes batches from the mailbox, numbers and encodes them, writes them.

Writes run on the collector's own daemon thread, one at a time.  While one
is in flight, new batches coalesce behind it into the next.  The writer
thread needs the GIL to finish a write, and CPython hands it over only when
the loop blocks or has run a whole 5 ms switch interval, so a busy loop
that never idles could keep a write of microseconds pending while the
mailbox fills; the writer therefore blocks the loop briefly -- only once the
backlog passes ~1 MiB or the write has been pending ~2 ms -- which hands
the GIL over.  A write that is slow for real (a stalled disk) gets such a
wait again only after a growing pause, so it never costs the loop more
than a small share of its time, and the backlog it lets pile up is capped:
past the cap the writer stops taking from the mailbox, and producers see
backpressure (``emit``) or shedding (``emit_nowait``).

The close path writes what is left with the very same encoder and write
function, synchronously, when the loop cannot be used.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .._events import _clock
from .._events._schema import Event
from ._admission import CONFIG, URGENT, Admission
from ._exporter import Exporters
from ._file import TraceFile
from ._lines import LineEncoder
from ._rotate import Rotator

log = logging.getLogger("asynctrace")

_COALESCE_BYTES: Final = 1 << 20
_COALESCE_S: Final = 0.002
_BLOCK_S: Final = 0.001
_BLOCK_PAUSE_MAX_S: Final = 0.016
# The backlog behind a write in flight holds at most this many batches' bytes.
_BACKLOG_BATCHES: Final = 4
# How long the writer may keep the loop to encode a backlog before it yields.
_TURN_S: Final = 0.0005
# How often the producers' clock is anchored to the wall clock again.
_ANCHOR_S: Final = 1.0


class Latch:
    """Set once, by the writer thread; waited for with a timeout by anyone.

    ``threading.Event``'s job for one write, at a tenth of its cost (an
    Event is a Condition over a lock; this is the lock alone, held until
    set): a write job is made for every batch.
    """

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._set = False
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._set = True
        self._lock.release()

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """True once set, False if *timeout* seconds passed first."""
        if self._set:
            return True
        if self._lock.acquire(timeout=timeout):
            self._lock.release()  # let every other waiter through too
            return True
        return self._set


class WriteJob:
    """One write handed to the writer thread; its outcome is known exactly."""

    __slots__ = (
        "blob", "done", "error", "events", "fsync", "n", "n_ok", "own", "segments", "submitted"
    )

    def __init__(
        self,
        blob: bytes,
        n: int,
        own: int,
        events: list[list[Event]],
        fsync: bool,
        segments: list[Segment] | None = None,
    ) -> None:
        self.blob = blob
        # A job that crosses rotation boundaries: written segment by segment,
        # each with a path opening a new part first; n_ok counts the events
        # of the segments written before an error.
        self.segments = segments
        self.n_ok = 0
        self.n = n
        self.own = own
        self.events = events
        self.fsync = fsync
        self.done = Latch()
        self.error: BaseException | None = None
        self.submitted = time.perf_counter()


# (path of a new part to open first, or None; bytes; producer events)
Segment = tuple[Path | None, bytes, int]


def write_blob(file: TraceFile, blob: bytes, fsync: bool) -> None:
    """The one write path, used by the writer thread and by the close path alike."""
    file.write(blob)
    if fsync:
        file.fsync()


class WriteThread:
    """A daemon thread running write jobs in order: exit never waits for a stuck disk."""

    def __init__(self, file: TraceFile, on_done: Callable[[], None], fsync: bool = False) -> None:
        # The part being written; replaced only here, by _open_part.
        self.file = file
        self._fsync = fsync
        self._on_done = on_done
        # Called on this thread with each rotated part once the next one is
        # open (compression while the trace goes on); set before the first write.
        self.on_part_closed: Callable[[Path], None] | None = None
        self._jobs: queue.SimpleQueue[WriteJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="asynctrace-writer", daemon=True)
        self._thread.start()

    def submit(self, job: WriteJob) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if job.segments is None:
                    write_blob(self.file, job.blob, job.fsync)
                else:
                    self._write_segments(job)
            except BaseException as exc:
                job.error = exc
            job.done.set()
            try:
                self._on_done()
            except Exception:
                pass  # the loop is gone; the close path reads job.done itself

    def _write_segments(self, job: WriteJob) -> None:
        for path, blob, n in job.segments or ():
            if path is not None:
                self._open_part(path)
            write_blob(self.file, blob, job.fsync)
            job.n_ok += n

    def _open_part(self, path: Path) -> None:
        """Close the rotated part (it ends with its trace.stop) and go on in *path*.

        If *path* cannot be created, nothing more is written -- not after
        the rotated part's trace.stop, nor a part after a missing one: the
        closed part stays ``self.file``, so every later write fails, counted
        as write_errors."""
        old = self.file
        if old.closed:
            raise ValueError(f"not opening {path}: an earlier part could not be created")
        try:
            if self._fsync:
                old.fsync()
            self.file = TraceFile(str(path))
        finally:
            try:
                old.close()
            except OSError:
                pass
        if self.on_part_closed is not None:
            try:
                self.on_part_closed(Path(str(old.name)))
            except Exception:
                pass  # housekeeping never stops the writer; compress_closed counts its own


class Writer:
    """Batches, seq, encoding and writing for one collector (see the module docstring)."""

    def __init__(
        self,
        *,
        adm: Admission,
        lines: LineEncoder,
        file: TraceFile,
        exporters: Exporters,
        batch_size: int,
        batch_bytes: int,
        fsync: bool,
        path: object,
    ) -> None:
        self.adm = adm
        self.lines = lines
        self.exporters = exporters
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._backlog_cap = _BACKLOG_BATCHES * batch_bytes
        self._coalesce_bytes = min(_COALESCE_BYTES, self._backlog_cap)
        self._fsync = fsync
        self._path = path
        self._keep_events = bool(exporters)
        self._blobs: list[bytes] = []
        self._backlog_bytes = 0
        self._backlog_n = 0
        self._backlog_own = 0
        self._backlog_events: list[list[Event]] = []
        # Rotation boundaries in the backlog: (index into _blobs, _backlog_n
        # before it, the new part's path).
        self._splits: list[tuple[int, int, Path]] = []
        self._urgent = False
        # The collector's own lines (trace.start/stop) handed over and done with.
        self._own_added = 0
        self._own_done = 0
        self.job: WriteJob | None = None
        self._block_pause = _COALESCE_S
        self._next_block = 0.0
        self._next_anchor = time.perf_counter() + _ANCHOR_S
        self._flushes: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._warned = False
        self.stopped = False  # set by the close path: the task must not touch anything more
        self.stop_sent = False  # trace.stop handed to the writer thread
        # Whether the writer task needs waking when a write is done (see _job_done).
        self._done_wanted = True
        self.thread = WriteThread(file, self._job_done, fsync)

    @property
    def file(self) -> TraceFile:
        """The part being written (the only file, unless the trace rotates)."""
        return self.thread.file

    # ------------------------------------------------------------------ shared parts

    def add_own_line(self, ev: Event) -> None:
        """trace.start / trace.stop: written in order, not counted as events."""
        blob = self.lines.own_line(ev)
        self._blobs.append(blob)
        self._backlog_bytes += len(blob)
        self._backlog_own += 1
        self._own_added += 1
        self._urgent = True

    def _encode(self, batch: list[Event], marks: int = CONFIG, held: int = -1) -> None:
        # Without the mailbox's marks (the close path's drained rest), a batch
        # may hold configs; it is not urgent: trace.stop's write fsyncs anyway.
        if marks & URGENT:
            self._urgent = True
        if self.lines.rotator is not None:
            self._encode_parts(batch, self.lines.rotator, held)
            return
        try:
            blob, out, held = self.lines.encode(batch, held, bool(marks & CONFIG))
        except BaseException:
            # A bug in the encoder: the batch in hand is counted, never lost silently.
            self.adm.failed(len(batch))
            raise
        self.adm.release(held)
        self._blobs.append(blob)
        self._backlog_bytes += len(blob)
        self._backlog_n += len(batch)
        if self._keep_events:
            self._backlog_events.append(out)

    def _encode_parts(self, batch: list[Event], rot: Rotator, held: int) -> None:
        try:
            pieces, held = self.lines.encode_parts(batch, rot, held)
        except BaseException:
            self.adm.failed(len(batch))
            raise
        self.adm.release(held)
        for path, blob, out, n in pieces:
            if path is not None:
                self._splits.append((len(self._blobs), self._backlog_n, path))
            self._blobs.append(blob)
            self._backlog_bytes += len(blob)
            self._backlog_n += n
            if self._keep_events:
                self._backlog_events.append(out)

    def _segments(self) -> list[Segment]:
        blobs = self._blobs
        segments: list[Segment] = []
        i, n = 0, 0
        path: Path | None = None
        for j, m, next_path in self._splits:
            segments.append((path, b"".join(blobs[i:j]), m - n))
            i, n, path = j, m, next_path
        segments.append((path, b"".join(blobs[i:]), self._backlog_n - n))
        self._splits = []
        return segments

    def _cut(self) -> WriteJob:
        if self._splits:
            segments: list[Segment] | None = self._segments()
            blob = b""
        else:
            segments = None
            blob = b"".join(self._blobs) if len(self._blobs) != 1 else self._blobs[0]
        job = WriteJob(
            blob,
            self._backlog_n,
            self._backlog_own,
            self._backlog_events,
            self._urgent and self._fsync,
            segments,
        )
        self._blobs = []
        self._backlog_bytes = 0
        self._backlog_n = 0
        self._backlog_own = 0
        self._backlog_events = []
        self._urgent = False
        return job

    def _account(self, job: WriteJob) -> None:
        self._own_done += job.own
        if job.error is None:
            self.adm.wrote(job.n)
            if job.events:
                for events in job.events:
                    self.exporters.submit(events)
        else:
            self.adm.wrote(job.n_ok)
            self.adm.failed(job.n - job.n_ok)
            self.warn_write_error(job.error)

    def warn_write_error(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "asynctrace: writing %s failed (%s); events are counted as write_errors "
                "and the traced program continues (further failures are not logged)",
                self._path,
                exc,
            )

    # ------------------------------------------------------------------ on the loop

    def _job_done(self) -> None:
        # On the writer thread: wake the writer task only if it sleeps on us
        # and has a use for the news (a backlog to send, a flush to answer,
        # a close to finish).  Otherwise the next event or flush() finds the
        # write done: one wake-up -- a self-pipe write and a loop turn -- less
        # per write on a busy loop.
        if self._done_wanted:
            self.adm.wake_threadsafe(force=True)

    def _submit(self) -> None:
        job = self.job = self._cut()
        self.thread.submit(job)
        if job.submitted >= self._next_anchor:
            # Follow a stepped wall clock within a second (see _clock).
            _clock.reanchor()
            self._next_anchor = job.submitted + _ANCHOR_S

    def _harvest(self) -> None:
        job = self.job
        assert job is not None and job.done.is_set()
        self.job = None
        self._block_pause = _COALESCE_S
        self._account(job)
        if self._flushes:
            self._resolve_flushes()

    def _block_briefly(self, job: WriteJob) -> None:
        now = time.perf_counter()
        if now < self._next_block:
            return
        if job.done.wait(_BLOCK_S):
            self._harvest()
        else:  # slow for real: pause before blocking again, longer each time
            self._next_block = now + self._block_pause
            self._block_pause = min(self._block_pause * 2, _BLOCK_PAUSE_MAX_S)

    def _resolve_flushes(self, everything: bool = False) -> None:
        done = self.adm.processed()
        own_done = self._own_done
        keep = []
        for target, own, fut in self._flushes:
            ok = target <= done and own <= own_done
            if everything or ok:
                if not fut.done():
                    fut.set_result(ok)
            else:
                keep.append((target, own, fut))
        self._flushes = keep

    async def flush(self, timeout: float | None) -> bool:
        """Until the events accepted so far (and the trace's own lines) are written."""
        target, own = self.adm.accepted_total(), self._own_added
        if (self.adm.processed() >= target and self._own_done >= own) or self.stopped:
            await asyncio.sleep(0)
            return self.adm.processed() >= target
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._flushes.append((target, own, fut))
        self.adm.wake()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            return False

    async def run(self) -> None:
        """The writer task's body: returns once the mailbox is closed and drained."""
        adm = self.adm
        perf = time.perf_counter
        turn = perf()
        while not self.stopped:
            job = self.job
            if job is not None and job.done.is_set():
                self._harvest()
                job = None
            if adm.items and self._backlog_bytes < self._backlog_cap:
                self._encode(*adm.take(self._batch_size))
                if job is None:
                    if self._urgent or self._backlog_bytes >= self._batch_bytes or not adm.items:
                        self._submit()
                elif (
                    self._backlog_bytes >= self._coalesce_bytes
                    or perf() - job.submitted >= _COALESCE_S
                ):
                    self._block_briefly(job)
                if perf() - turn >= _TURN_S:
                    # Let the program run: a backlog is encoded a slice at a
                    # time, never in one long stall of the loop.
                    await asyncio.sleep(0)
                    turn = perf()
                continue
            if job is None:
                if self._blobs:
                    self._submit()
                    continue
                if self._flushes:
                    self._resolve_flushes()
                if not adm.open and not adm.items:
                    return
                await adm.wait(want_items=True)
                turn = perf()
                continue
            # A write is in flight and there is nothing (or no room) to take.
            if perf() - job.submitted >= _COALESCE_S:
                self._block_briefly(job)
                if self.job is None:
                    continue
            self._done_wanted = bool(self._blobs or self._flushes or not adm.open)
            try:
                await adm.wait(want_items=self._backlog_bytes < self._backlog_cap, done=job.done)
            finally:
                self._done_wanted = True
            turn = perf()

    def fail_flushes(self) -> None:
        self._resolve_flushes(everything=True)

    # ------------------------------------------------------------------ the close path

    def finish_sync(self, wait_s: float) -> bool:
        """Write everything still in hand, without the loop, waiting at most *wait_s* per write.

        The writes still go through the writer thread -- the one write path --
        so a stalled disk costs this thread a bounded wait, never a hang.
        The write in flight is waited for first (its outcome is recorded
        even if the coroutine that submitted it will never resume).  If a
        write is stuck, nothing more is written -- another would hang too --
        and everything unwritten is counted as write_errors.  Returns
        whether the file can still be written.
        """
        self.stopped = True
        job = self.job
        if job is not None:
            if not job.done.wait(wait_s):
                return self._give_up(job)
            self._harvest()
        rest = self.adm.drain()
        for i in range(0, len(rest), self._batch_size):
            try:
                self._encode(rest[i : i + self._batch_size])
            except Exception as exc:  # the encoder itself is what broke
                self.adm.failed(max(0, len(rest) - i - self._batch_size))
                self.warn_write_error(exc)
                break
        if self._blobs or self._backlog_n:
            job = self.job = self._cut()
            self.thread.submit(job)
            if not job.done.wait(wait_s):
                return self._give_up(job)
            self._harvest()
        return True

    def _give_up(self, job: WriteJob) -> bool:
        self.job = None
        self.adm.failed(job.n)
        rest = self._cut()
        self.adm.failed(rest.n + len(self.adm.drain()))
        self.warn_write_error(TimeoutError("a write is stuck"))
        return False

    def write_own_sync(self, ev: Event, wait_s: float) -> bool:
        """trace.stop through the writer thread, without the loop; bounded wait."""
        self.add_own_line(ev)
        self.stop_sent = True
        job = self._cut()
        job.fsync = self._fsync
        self.thread.submit(job)
        if not job.done.wait(wait_s):
            return False
        if job.error is not None:
            self.warn_write_error(job.error)
        return True

    async def write_own(self, ev: Event, timeout: float) -> bool:
        """trace.stop through the writer thread, waiting at most *timeout*."""
        self.add_own_line(ev)
        self.stop_sent = True
        job = self._cut()
        job.fsync = self._fsync
        self.job = job
        self.thread.submit(job)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not job.done.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self.adm.wait(want_items=False, done=job.done)
            except TimeoutError:
                return False
        self.job = None
        if job.error is not None:
            self.warn_write_error(job.error)
        return True
