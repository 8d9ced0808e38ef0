"""The collector actor: one mailbox, one writer task, one JSONL file."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import platform
import socket
import threading
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from threading import get_ident
from typing import Any, Final

import aiofiles.os
import aiofiles.threadpool
import anyio
from anyio.abc import TaskGroup

from .._context._span import Span
from .._events._schema import SCHEMA_VERSION, TRACE_START, TRACE_STOP, Counts, Event, ShedCounts
from .._processing._pipeline import Pipeline
from .._version import __version__
from . import _shutdown
from ._file import TraceFile
from ._lines import LineEncoder, stop_data
from ._mailbox import Mailbox
from ._sink import Sink
from ._stats import Stats, TraceResult

log = logging.getLogger("asynctrace")

# The writer's "batch in hand" when it has none; never mutated.
_NOTHING_TAKEN: Final[list[Event]] = []
_OPEN: Final = "open"
_CLOSING: Final = "closing"
_CLOSED: Final = "closed"

# The writer thread needs the GIL to hand a finished write back, and CPython
# passes the GIL to a waiting thread only when the holder blocks or runs a
# whole switch interval (5 ms) without releasing it.  A loop that never idles
# but yields often (a hot producer with ``sleep(0)``) does neither, so a write
# of microseconds could stay unfinished for as long as the loop is busy while
# the mailbox fills and sheds.  A write still pending after _UNSTARVE_AFTER_S
# (on an idle loop, writes to the page cache are back well before) gets a
# short blocking wait on the loop, which hands the GIL over and lasts about
# as long as the write.  A write slower than that wait (writeback, a stalled
# disk) gets another one later, at doubling intervals up to _UNSTARVE_MAX_S,
# so it costs the loop at most about a tenth of its time.
_UNSTARVE_AFTER_S: Final = 0.00025
_UNSTARVE_WAIT_S: Final = 0.0005
_UNSTARVE_MAX_S: Final = 0.004
# How long the writer may keep the loop to encode a backlog before it yields.
_WRITER_TURN_S: Final = 0.0005


def _unstarve(fut: concurrent.futures.Future[Any], delay: float, timer: list[Any]) -> None:
    if fut.done():
        return
    try:
        fut.result(timeout=_UNSTARVE_WAIT_S)
        return
    except concurrent.futures.TimeoutError:
        pass  # still running: try again later
    except Exception:
        return  # failed: the awaiting writer sees why
    delay = min(delay * 2, _UNSTARVE_MAX_S)
    timer[0] = asyncio.get_running_loop().call_later(delay, _unstarve, fut, delay, timer)


class _WriterExecutor(concurrent.futures.ThreadPoolExecutor):
    """The collector's one writer thread, remembering the last job it was given."""

    latest: concurrent.futures.Future[Any] | None = None

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        fut = super().submit(fn, *args, **kwargs)
        self.latest = fut
        return fut


_aio_open = aiofiles.os.wrap(TraceFile)
_aio_fsync = aiofiles.os.wrap(os.fsync)


class Collector:
    """An open trace: the object bound by ``async with asynctrace.collector(...) as trace``.

    It is an actor.  Producers (``trace.sink``, spans, ``asynctrace.emit``)
    run the processor chain on their own side and put the result in a
    bounded mailbox; a single writer task numbers the events, encodes them in
    batches and writes them on the collector's own thread.
    Only the loop thread touches the mailbox and the counters; other threads
    go through ``call_soon_threadsafe``.
    """

    def __init__(
        self,
        *,
        path: Path,
        trace_id: str,
        start_data: dict[str, Any],
        pipeline: Pipeline,
        max_mailbox_len: int,
        max_event_bytes: int,
        batch_size: int,
        batch_bytes: int,
        fsync: bool,
        shutdown_timeout: float,
        parent_span_id: str | None,
        file_id: str = "",
        trace_flags: int = 0x01,
        tracestate: str | None = None,
    ) -> None:
        self.path = path
        self.trace_id = trace_id
        # Schema v2: this file's own id, and the W3C flags and tracestate
        # that inject() sends on for this trace.
        self.file_id = file_id
        self.trace_flags = trace_flags
        self.tracestate = tracestate
        self.sink = Sink(self)
        self.parent_span_id = parent_span_id
        self._start_data = start_data
        self._pipeline = pipeline
        self._max_mailbox_len = max_mailbox_len
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._fsync = fsync
        self._shutdown_timeout = shutdown_timeout

        self._state = _OPEN
        self._reason = "exit"
        self._status = "ok"
        self._start_ns = time.time_ns()
        self._start_mono_ns = time.monotonic_ns()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._mailbox: Mailbox[Event] = Mailbox(max_mailbox_len)
        self._lines = LineEncoder(trace_id, max_event_bytes)
        # Writer's state, kept on the instance so the shutdown hooks can finish
        # its work when the writer task will never run again.
        self._buf: list[bytes] = []
        self._buf_bytes = 0
        self._buf_events = 0
        self._inflight_events = 0
        self._taken: list[Event] = _NOTHING_TAKEN
        self._writing = False
        self._file: TraceFile | None = None
        self._executor: _WriterExecutor | None = None
        self._afile: Any = None
        self._writer_done = threading.Event()
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._waiting_producers = 0
        self._warned_write = False
        self._result: TraceResult | None = None
        self._close_waiter: asyncio.Future[None] | None = None
        # Spans started in this trace and not yet stopped, so closing can end them.
        self.open_spans: dict[str, Span] = {}
        self._writer_exited = False
        self._writer_scope = anyio.CancelScope(shield=True)

        # Counters touched only on the loop thread...
        self._emitted = 0
        self._written = 0
        self._write_errors = 0
        self._shed_full = 0
        self._shed_timeout = 0
        self._shed_closed = 0
        self._shed_cancelled = 0
        # ...except these, which other threads update under the lock.
        self._tlock = threading.Lock()
        self._thread_pending = 0
        self._thread_shed_full = 0
        self._thread_shed_closed = 0

    # ------------------------------------------------------------------ producer side

    def _prepare(self, ev: Event) -> Event | None:
        ev.trace_id = self.trace_id
        return self._pipeline(ev)

    def has_room(self) -> bool:
        """Whether ``offer_nowait`` would accept without shedding (off-loop: True)."""
        if get_ident() != self._loop_thread:
            return True
        return self._state is not _OPEN or len(self._mailbox.items) < self._max_mailbox_len

    def offer_nowait(self, ev: Event) -> bool:
        """Offer a built event without waiting; safe from any thread."""
        if get_ident() != self._loop_thread:
            return self._offer_threadsafe_nowait(ev)
        prepared = self._prepare(ev)
        return prepared is not None and self._accept_nowait(prepared)

    def offer_if_room(self, ev: Event) -> bool:
        """``offer_nowait`` unless the mailbox is full on the loop thread.

        Returns False, having done nothing, when the caller should
        ``await offer(ev)`` instead: the spans' path, which waits for room
        only then, in one call instead of ``has_room`` plus ``offer_nowait``.
        """
        if get_ident() != self._loop_thread:
            self._offer_threadsafe_nowait(ev)
            return True
        if self._state is _OPEN and len(self._mailbox.items) >= self._max_mailbox_len:
            return False
        prepared = self._prepare(ev)
        if prepared is not None:
            # The mailbox can still be full here if a processor emitted.
            self._accept_nowait(prepared)
        return True

    def _push_if_room(self, ev: Event) -> bool:
        """Accept *ev* (counted as emitted) if the trace is open and has room."""
        if self._state is _OPEN and len(self._mailbox.items) < self._max_mailbox_len:
            self._emitted += 1
            self._mailbox.push(ev)
            return True
        return False

    def _accept_nowait(self, ev: Event) -> bool:
        """Accept *ev*, or shed it, counted by reason."""
        if self._push_if_room(ev):
            return True
        self._emitted += 1
        if self._state is _OPEN:
            self._shed_full += 1
        else:
            self._shed_closed += 1
        return False

    async def offer(self, ev: Event, timeout: float | None = None) -> bool:
        """Offer a built event, waiting while the mailbox is full."""
        if get_ident() != self._loop_thread:
            # Awaited on another loop: wait there without blocking it.
            return await anyio.to_thread.run_sync(self.offer_from_thread, ev, timeout)
        prepared = self._prepare(ev)
        if prepared is None:
            return False
        return self._push_if_room(prepared) or await self._wait_and_put(prepared, timeout)

    async def _wait_and_put(self, ev: Event, timeout: float | None) -> bool:
        self._emitted += 1
        if self._state is not _OPEN:
            self._shed_closed += 1
            await anyio.lowlevel.checkpoint()
            return False
        self._waiting_producers += 1
        try:
            # anyio's scope, not asyncio.wait_for: on 3.11 wait_for can report a
            # timeout for a put that went through, which would count it twice.
            with anyio.move_on_after(timeout) as scope:
                await self._mailbox.put(ev)
            if scope.cancelled_caught:
                self._shed_timeout += 1
                return False
        except BaseException:
            # Cancelled (or the coroutine was closed) while waiting: not accepted.
            self._shed_cancelled += 1
            raise
        finally:
            self._waiting_producers -= 1
        return True

    def _offer_threadsafe_nowait(self, ev: Event) -> bool:
        prepared = self._prepare(ev)
        if prepared is None:
            return False
        loop = self._loop
        with self._tlock:
            if self._state is not _OPEN or loop is None:
                self._thread_shed_closed += 1
                return False
            # Bound what waits in the loop's callback queue by the same limit
            # as the mailbox, so a flooding thread cannot grow memory there.
            if self._thread_pending + len(self._mailbox.items) >= self._max_mailbox_len:
                self._thread_shed_full += 1
                return False
            self._thread_pending += 1
        try:
            loop.call_soon_threadsafe(self._accept_from_thread, prepared)
        except RuntimeError:  # the loop is closed
            with self._tlock:
                self._thread_pending -= 1
                self._thread_shed_closed += 1
            return False
        return True

    def _accept_from_thread(self, ev: Event) -> None:
        with self._tlock:
            self._thread_pending -= 1
        self._accept_nowait(ev)

    def offer_from_thread(self, ev: Event, timeout: float | None) -> bool:
        loop = self._loop
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(
                "emit_from_thread() was called on the collector's own event loop thread, "
                "where it would deadlock; use 'await trace.sink.emit(...)' there"
            )
        if loop is None or self._state is not _OPEN:
            with self._tlock:
                self._thread_shed_closed += 1
            return False
        prepared = self._prepare(ev)
        if prepared is None:
            return False
        try:
            fut = asyncio.run_coroutine_threadsafe(self._put_prepared(prepared, timeout), loop)
        except RuntimeError:
            with self._tlock:
                self._thread_shed_closed += 1
            return False
        return fut.result()

    async def _put_prepared(self, ev: Event, timeout: float | None) -> bool:
        return self._push_if_room(ev) or await self._wait_and_put(ev, timeout)

    # ------------------------------------------------------------------ public handle

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event accepted so far has been written.

        Returns ``True`` when they were, ``False`` if *timeout* seconds passed
        first (the events stay queued and will still be written).  Always a
        checkpoint.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        target = self._emitted
        idle = not self._buf and not self._writing
        if (idle and self._processed() >= target) or self._state is _CLOSED:
            await anyio.lowlevel.checkpoint()
            return self._processed() >= target
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((target, fut))
        self._mailbox.wake()
        with anyio.move_on_after(timeout):
            await asyncio.shield(fut)
            return True
        return False

    def stats(self) -> Stats:
        """A snapshot of the counts; cheap, never blocks."""
        counts = self._counts()
        queued = counts.emitted - counts.written - counts.shed - counts.write_errors
        return Stats(counts=counts, queued=queued, state=self._state)

    @property
    def result(self) -> TraceResult:
        """The path, trace id and final counts, once the block has exited."""
        if self._result is None:
            raise RuntimeError("trace.result is available once the collector has closed")
        return self._result

    def _processed(self) -> int:
        shed = self._shed_full + self._shed_timeout + self._shed_closed + self._shed_cancelled
        return self._written + self._write_errors + shed

    def _counts(self) -> Counts:
        with self._tlock:
            t_full = self._thread_shed_full
            t_closed = self._thread_shed_closed
        by_reason = ShedCounts(
            mailbox_full=self._shed_full + t_full,
            timeout=self._shed_timeout,
            closed=self._shed_closed + t_closed,
            cancelled=self._shed_cancelled,
        )
        shed = by_reason.mailbox_full + by_reason.timeout + by_reason.closed + by_reason.cancelled
        return Counts(
            emitted=self._emitted + t_full + t_closed,
            written=self._written,
            shed=shed,
            oversize=self._lines.oversize,
            write_errors=self._write_errors,
            shed_by_reason=by_reason,
            filtered=self._pipeline.filtered,
            processor_errors=self._pipeline.failures,
        )

    # ------------------------------------------------------------------ lifecycle

    async def _open(self, tg: TaskGroup) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        # A thread of our own: user code that saturates the default executor
        # cannot stall the trace, and FIFO order is what the shutdown hooks
        # rely on to wait for an in-flight write.
        self._executor = _WriterExecutor(max_workers=1, thread_name_prefix="asynctrace-writer")
        try:
            self._file = await _aio_open(str(self.path), executor=self._executor)
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        # Every write goes through aiofiles on that thread; the shutdown hooks
        # use self._file directly once the loop can no longer run.
        self._afile = aiofiles.threadpool.wrap(self._file, executor=self._executor)
        # The trace starts when the caller gets it back, not when we began
        # opening the file: offsets in the views should measure their code.
        self._start_ns = time.time_ns()
        self._start_mono_ns = time.monotonic_ns()
        start = Event(ts_ns=self._start_ns, event=TRACE_START, data=self._start_data)
        self._append(self._lines.own_line(start), 0)
        _shutdown.register(self)
        await tg.start(self._writer_main)

    def _begin_close(self, exc: BaseException | None) -> None:
        if isinstance(exc, asyncio.CancelledError | anyio.get_cancelled_exc_class()):
            self._reason, self._status = "cancelled", "cancelled"
        elif exc is not None:
            self._reason, self._status = "exception", "error"
        if self._state is _OPEN:
            self._end_open_spans()
            self._state = _CLOSING
        self._mailbox.wake()

    def _end_open_spans(self) -> None:
        # Straight into the mailbox, past its bound: these lines are what keeps
        # the file free of spans that never ended, and there are few of them.
        for span in list(self.open_spans.values()):
            ev = span.stop_for_close()
            ev.trace_id = self.trace_id
            prepared = self._pipeline(ev)
            if prepared is not None:
                self._emitted += 1
                self._mailbox.items.append(prepared)
        self.open_spans.clear()

    async def _close(self, exc: BaseException | None) -> None:
        """Drain every accepted event and write ``trace.stop``.

        Shielded from cancellation, and bounded by ``shutdown_timeout``: past
        it (a hung disk), or if the waiting itself is cancelled from outside
        anyio, the rest is written synchronously instead of being lost.
        """
        self._begin_close(exc)
        if not self._writer_done.is_set() and not self._writer_exited:
            self._close_waiter = asyncio.get_running_loop().create_future()
            try:
                with anyio.CancelScope(shield=True), anyio.move_on_after(self._shutdown_timeout):
                    await self._close_waiter
            except asyncio.CancelledError:
                self.close_sync(self._reason)
                raise
        if not self._writer_done.is_set():
            if not self._writer_exited:
                log.warning(
                    "asynctrace: writer did not finish within shutdown_timeout=%ss; "
                    "closing %s synchronously",
                    self._shutdown_timeout,
                    self.path,
                )
            # We already waited shutdown_timeout: a write still in flight now
            # gets only a moment more before it is taken as stuck.
            self.close_sync(self._reason, wait=0.05)
        if not self._writer_exited:
            # Still awaiting a stuck write: stop it, or the task group would
            # wait for it forever.  (Cancelling a shielded scope from the
            # inside is what its shield does not prevent.)
            self._writer_scope.cancel()

    # ------------------------------------------------------------------ writer

    def _append(self, blob: bytes, n_events: int) -> None:
        self._buf.append(blob)
        self._buf_bytes += len(blob)
        self._buf_events += n_events

    async def _writer_main(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        try:
            # Shielded: an outer cancel scope must not stop the writer before
            # the close path has drained it; the close path stops it.
            with self._writer_scope:
                await self._writer_loop()
        except asyncio.CancelledError:
            # Cancelled from outside anyio (e.g. asyncio.run tearing down a
            # loop whose collector was never exited).  Leave everything on
            # the instance for the atexit hook.
            return
        except Exception as exc:  # the observer never breaks the observed
            log.error("asynctrace: writer for %s failed: %r; closing synchronously", self.path, exc)
            self.close_sync("writer_error")
            return
        finally:
            self._writer_exited = True
            waiter = self._close_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def _writer_loop(self) -> None:
        mailbox = self._mailbox
        items = mailbox.items
        perf_counter = time.perf_counter
        turn_start = -1.0  # when the writer last got the loop; -1: at the next batch
        while True:
            if self._state is _CLOSED:  # a shutdown hook finished the job
                return
            if not items:
                if self._buf:
                    await self._write_buf()
                    turn_start = -1.0
                    continue
                self._resolve_flush_waiters()
                if self._state is _CLOSING and not self._waiting_producers and not self._thread_pending:
                    await self._write_stop()
                    return
                await mailbox.wait()
                turn_start = -1.0
                continue
            if turn_start < 0:
                turn_start = perf_counter()
            batch = self._taken = mailbox.take(self._batch_size)
            blob, urgent = self._lines.encode(batch)
            self._taken = _NOTHING_TAKEN
            self._append(blob, len(batch))
            if urgent or self._buf_bytes >= self._batch_bytes:
                await self._write_buf(fsync=urgent and self._fsync)
                turn_start = -1.0
            elif perf_counter() - turn_start >= _WRITER_TURN_S:
                # Let the program run: a backlog is encoded a slice at a
                # time, never in one long stall of the loop.
                await asyncio.sleep(0)
                turn_start = -1.0

    async def _write_buf(self, *, fsync: bool = False) -> None:
        blob = b"".join(self._buf)
        n = self._buf_events
        self._buf.clear()
        self._buf_bytes = 0
        self._buf_events = 0
        self._inflight_events = n
        self._writing = True
        try:
            await self._aio(self._afile.write(blob))
            if fsync:
                await self._afsync()
        except OSError as exc:
            self._writing = False
            if self._state is _CLOSED:
                return
            self._inflight_events = 0
            self._count_write_error(n, exc)
            return
        self._writing = False
        if self._state is _CLOSED:
            return  # the shutdown hook already accounted for this write
        self._inflight_events = 0
        self._written += n

    async def _aio(self, op: Awaitable[Any]) -> Any:
        """Await an aiofiles operation on the writer thread, unstarving it if needed.

        aiofiles keeps the executor's future to itself; our executor
        remembers the last one it was handed, which is this operation's, since
        only the writer submits to it and one operation is in flight.
        """
        assert self._loop is not None and self._executor is not None
        executor = self._executor
        timer: list[Any] = [None]

        def unstarve() -> None:
            fut = executor.latest
            if fut is not None:
                _unstarve(fut, _UNSTARVE_AFTER_S, timer)

        timer[0] = self._loop.call_later(_UNSTARVE_AFTER_S, unstarve)
        try:
            return await op
        finally:
            timer[0].cancel()

    async def _afsync(self) -> None:
        assert self._file is not None
        await self._aio(_aio_fsync(self._file.fileno(), executor=self._executor))

    def _count_write_error(self, n: int, exc: Exception) -> None:
        self._write_errors += n
        if not self._warned_write:
            self._warned_write = True
            log.warning(
                "asynctrace: writing %s failed (%s); events are counted as write_errors "
                "and the traced program continues (further failures are not logged)",
                self.path,
                exc,
            )

    def _resolve_flush_waiters(self) -> None:
        if not self._flush_waiters:
            return
        done = self._processed()
        keep = []
        for target, fut in self._flush_waiters:
            if target <= done:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((target, fut))
        self._flush_waiters = keep

    def _stop_event(self, reason: str, status: str) -> Event:
        duration = time.monotonic_ns() - self._start_mono_ns
        counts = self._counts()
        return Event(
            ts_ns=time.time_ns(),
            event=TRACE_STOP,
            duration_ns=duration,
            status=status,
            data=stop_data(counts, self._lines.summary.result(), reason),
        )

    async def _write_stop(self) -> None:
        line = self._lines.own_line(self._stop_event(self._reason, self._status))
        try:
            await self._aio(self._afile.write(line))
            if self._fsync:
                await self._afsync()
        except OSError as exc:
            self._count_write_error(0, exc)
        self._finish(self._reason)

    def _finish(self, reason: str, *, close_file: bool = True) -> None:
        self._state = _CLOSED
        self._result = TraceResult(
            path=self.path, trace_id=self.trace_id, counts=self._counts(), reason=reason
        )
        # A file whose write is stuck in the writer thread is left to that
        # thread: closing it under the write could hang this one too.
        if self._file is not None and close_file:
            try:
                self._file.close()
            except OSError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        for _, fut in self._flush_waiters:
            if not fut.done():
                fut.set_result(None)
        self._flush_waiters.clear()
        _shutdown.unregister(self)
        self._writer_done.set()

    # ------------------------------------------------------------------ shutdown hooks

    def close_sync(self, reason: str, *, wait: float | None = None) -> None:
        """Finish the trace without the event loop: drain, write, stop.

        Called by the signal and atexit hooks, when the writer itself fails,
        and when the close path gave up waiting for the writer.  It waits (at
        most *wait* seconds, default ``shutdown_timeout``) for an in-flight
        write by queueing behind it on the writer's thread, accounts for it,
        then writes what is left from this thread.  If the in-flight write is
        still stuck (a hung disk), it writes nothing more -- another write
        would hang too -- and counts everything unwritten as write_errors.
        """
        if self._state is _CLOSED:
            return
        self._end_open_spans()
        self._state = _CLOSED
        status = "aborted" if reason in ("signal", "atexit") else self._status
        stuck = False
        if self._executor is not None:
            try:
                self._executor.submit(lambda: None).result(
                    timeout=self._shutdown_timeout if wait is None else wait
                )
            except RuntimeError:
                pass  # interpreter shutdown has already joined the thread
            except concurrent.futures.TimeoutError:
                stuck = True
        if self._inflight_events:
            err = None if self._file is None else self._file.last_error
            if stuck:
                self._count_write_error(self._inflight_events, TimeoutError("a write is stuck"))
            elif err is not None:
                self._count_write_error(self._inflight_events, err)
            else:
                self._written += self._inflight_events
            self._inflight_events = 0
        # What the writer had taken but not encoded when it stopped, then the rest.
        batch = [*self._taken, *self._mailbox.drain_sync()]
        self._taken = _NOTHING_TAKEN
        if batch:
            try:
                blob, _ = self._lines.encode(batch)
            except Exception as exc:  # the encoder itself is what broke
                self._count_write_error(len(batch), exc)
            else:
                self._append(blob, len(batch))
        blob = b"".join(self._buf)
        n = self._buf_events
        self._buf.clear()
        self._buf_events = self._buf_bytes = 0
        file = None if stuck else self._file
        if file is not None and blob:
            try:
                file.write(blob)
                self._written += n
            except OSError as exc:
                self._count_write_error(n, exc)
        elif n:
            self._count_write_error(n, OSError("the trace file cannot be written"))
        if file is None:
            log.warning(
                "asynctrace: %s could not be finished (its writes are stuck); "
                "the counts are in trace.result only",
                self.path,
            )
        else:
            stop = self._lines.own_line(self._stop_event(reason, status))
            try:
                file.write(stop)
                file.fsync()
            except OSError as exc:
                self._count_write_error(0, exc)
        self._finish(reason, close_file=not stuck)


def host_metadata() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "asynctrace_version": __version__,
        "python_version": platform.python_version(),
    }


def build_start_data(
    *,
    trace_kind: str | None,
    producer: str | None,
    label: str | None,
    model: str | None,
    query: str | None,
    meta: dict[str, Any],
    max_event_bytes: int,
    max_mailbox_len: int,
    parent: Sequence[str | None] = (None, None),
    sampled: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "trace_kind": trace_kind,
        "producer": producer,
        "label": label,
        "model": model,
        "query": query,
        "meta": meta,
        **host_metadata(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "max_event_bytes": max_event_bytes,
        "max_mailbox_len": max_mailbox_len,
    }
    parent_trace_id, parent_span_id = parent
    if parent_trace_id is not None:
        data["parent_trace_id"] = parent_trace_id
        data["parent_span_id"] = parent_span_id
        data["sampled"] = sampled
    return data
