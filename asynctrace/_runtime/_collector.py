"""The collector: the thin public handle over admission, the writer and the finisher.

Producers (``trace.sink``, spans, ``asynctrace.emit``) run the processor
chain on their own side and hand the result to the mailbox in one call; a
single writer task numbers the events, encodes them in batches and writes
them on the collector's own thread.  Every close path -- the block's exit,
a signal, interpreter exit, a writer failure, a fork -- ends in the
finisher, which uses the same writer parts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from threading import get_ident, get_native_id
from typing import TYPE_CHECKING, Any, Final

import anyio
from msgspec.structs import replace

from .._events import _clock
from .._events._schema import SCHEMA_VERSION, TRACE_START, TRACE_STOP, Counts, Event
from .._processing._pipeline import Pipeline
from .._version import __version__
from . import _shutdown
from ._admission import CLOSED, FULL, Admission
from ._exporter import Exporter, Exporters
from ._file import TraceFile
from ._lines import LineEncoder, Summary, stop_data
from ._ops import PartCompressions, compress_off_loop
from ._rotate import Rotator
from ._sink import Sink
from ._stats import Stats, TraceResult
from ._writer import Writer

if TYPE_CHECKING:
    from .._context._span import Span as SpanLike

log = logging.getLogger("asynctrace")

_OPEN: Final = "open"
_CLOSING: Final = "closing"
_CLOSED: Final = "closed"
_ABORTED_REASONS: Final = frozenset({"signal", "atexit"})


def _plain_header(ev: Event) -> bool:
    """The header test of the sanitizer (``fix_header``) passes: nothing to fix."""
    event, agent_id, status = ev.event, ev.agent_id, ev.status
    return (
        event.isascii()
        and (agent_id is None or agent_id.isascii())
        and (status is None or status.isascii())
    )


async def _in_daemon_thread(fn: Callable[[], object]) -> None:
    """Run *fn* on a daemon thread of its own and await it: exit never waits for it."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def done(_: object = None) -> None:
        if not fut.done():
            fut.set_result(None)

    def run() -> None:
        try:
            fn()
        finally:
            try:
                loop.call_soon_threadsafe(done)
            except RuntimeError:
                pass

    threading.Thread(target=run, name="asynctrace-close", daemon=True).start()
    await fut


class Collector:
    """An open trace: what ``async with asynctrace.collector(...) as trace`` binds.

    ``trace.sink`` takes events, ``await trace.flush()`` waits until what was
    accepted is on disk, ``trace.stats()`` tells the live counts and
    ``trace.result`` the final ones once the block has exited.
    """

    def __init__(
        self,
        *,
        path: Path,
        trace_id: str,
        start_data: dict[str, Any],
        pipeline: Pipeline,
        max_mailbox_len: int,
        max_mailbox_bytes: int,
        max_event_bytes: int,
        batch_size: int,
        batch_bytes: int,
        fsync: bool,
        shutdown_timeout: float,
        parent_span_id: str | None,
        exporters: Sequence[Exporter],
        summary: Summary,
        file_id: str = "",
        trace_flags: int = 0x01,
        tracestate: str | None = None,
        compress: str | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self.path = path
        self.trace_id = trace_id
        # Schema v2: this file's own id, and the W3C flags and tracestate
        # that inject() sends on for this trace.
        self.file_id = file_id
        self.trace_flags = trace_flags
        self.tracestate = tracestate
        self.parent_span_id = parent_span_id
        self._start_data = start_data
        self._pipeline = pipeline
        self._flat = pipeline.flat
        self._adm = Admission(max_mailbox_len, max_mailbox_bytes)
        self.sink = Sink(self)
        self._lines = LineEncoder(trace_id, max_event_bytes, summary)
        self._exporters = Exporters(exporters)
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._fsync = fsync
        self._shutdown_timeout = shutdown_timeout
        self._state = _OPEN
        self._reason = "exit"
        self._status = "ok"
        self._start_mono_ns = time.monotonic_ns()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = -1
        self._writer: Writer | None = None
        self._task: asyncio.Task[None] | None = None
        self._result: TraceResult | None = None
        self._compress = compress
        self._part_compressions = PartCompressions()
        self._max_file_bytes = max_file_bytes

    def __repr__(self) -> str:
        return f"<asynctrace.Collector {self.trace_id} {self._state} {str(self.path)!r}>"

    # ------------------------------------------------------------------ producers

    def _put_nowait(self, ev: Event, owned: bool = False) -> bool:
        """An event, without waiting: accepted, or shed (counted).

        *owned*: ``ev.data`` was made for this event alone (see ``Pipeline``)."""
        ev.trace_id = self.trace_id
        flat = self._flat
        if owned and flat is not None and get_ident() == self._loop_thread:
            # The common case in one pass: the whole pipeline is the built-in
            # head, and its flat check measures the event for the mailbox too.
            size = flat(ev.data)
            if size >= 0 and _plain_header(ev):
                self._adm.note(ev)
                return self._adm.offer(ev, False, size) is True
        out = self._pipeline(ev, owned)
        if out is None:
            return False
        if get_ident() == self._loop_thread:
            self._adm.note(out)
            return self._adm.offer(out, False) is True
        return self._adm.push_threadsafe(out)

    async def _put(self, ev: Event, timeout: float | None, owned: bool = False) -> bool:
        """An event, waiting while the mailbox is full (see ``Sink.emit``)."""
        ev.trace_id = self.trace_id
        flat = self._flat
        if owned and flat is not None and get_ident() == self._loop_thread:
            size = flat(ev.data)
            if size >= 0 and _plain_header(ev):
                self._adm.note(ev)
                return await self._adm.put(ev, timeout, None, size)
        out = self._pipeline(ev, owned)
        if get_ident() != self._loop_thread:
            # Awaited on another thread's loop: wait in a worker thread, not on it.
            if out is None:
                await anyio.lowlevel.checkpoint()
                return False
            return await anyio.to_thread.run_sync(self._adm.put_blocking, out, timeout)
        if out is None:
            await asyncio.sleep(0)
            return False
        self._adm.note(out)
        return await self._adm.put(out, timeout)

    def _put_blocking(self, ev: Event, timeout: float | None, owned: bool = False) -> bool:
        if get_ident() == self._loop_thread:
            raise RuntimeError(
                "emit_from_thread() was called on the collector's own event loop thread, "
                "where it would deadlock; use 'await trace.sink.emit(...)' there"
            )
        ev.trace_id = self.trace_id
        out = self._pipeline(ev, owned)
        return out is not None and self._adm.put_blocking(out, timeout)

    def _start(self, span: SpanLike, ev: Event, can_wait: bool) -> Event | None:
        """A span's start.  Accepted (the span is open here from now on) or shed;
        or, if *can_wait* and there is no room, returned to be ``_start_wait``-ed.

        ``ev.data`` is the span's own attributes dict, which the span no
        longer holds (a copy per collector when there are several): owned.
        A start that passed the built-in steps unchanged on the loop thread
        marks the span ``_fast_stop``: its stop, if it carries nothing but
        the same name, needs no processing (see ``_stop``)."""
        ev.trace_id = self.trace_id
        adm = self._adm
        flat = self._flat
        if get_ident() == self._loop_thread:
            size = -1 if flat is None else flat(ev.data)
            if size >= 0 and (ev.agent_id is None or ev.agent_id.isascii()):
                out = ev
                span._fast_stop = True
                if ev.agent_id is not None:
                    adm.note(ev)  # an agent's first span may carry its config
            else:
                processed = self._pipeline(ev, True)
                if processed is None:
                    return None
                out = processed
                size = -1
                adm.note(out)  # a user processor may have made it one
            accepted = adm.offer(out, can_wait, size)
            if accepted is None:
                return out
            if accepted:
                adm.spans.add(span)
            return None
        other = self._pipeline(ev, True)
        if other is None:
            return None
        other.thread_id = get_native_id()
        with adm.lock:  # accepted and open together, or neither, as the close path sees it
            if adm.push_threadsafe(other):
                self._adm.spans.add(span)
        return None

    async def _start_wait(self, span: SpanLike, ev: Event) -> None:
        """Wait for room for a span's start; cancelled: shed, and the span never opened."""
        await self._adm.put(ev, None, span)

    def _stop(self, span: SpanLike, ev: Event, processed: bool = False) -> None:
        """A span's stop: written (past the bound) if its start was, else shed with it.

        *processed*: ``ev.data`` is the span's name alone and its start went
        through ``flat`` unchanged, so the pipeline (only the built-in head)
        would change nothing.  Otherwise ``ev.data`` is fresh and the span
        stopped: ``set()`` no longer reaches it, so the known-clean shortcut
        applies (``run_known``)."""
        ev.trace_id = self.trace_id
        out = ev if processed else self._pipeline.run_known(ev)
        adm = self._adm
        if get_ident() == self._loop_thread:
            if out is not None and not processed:
                adm.note(out)  # force() sees an error status itself, not a renamed stop
            # _settle_stop inline: this runs once per span.
            try:
                adm.spans.remove(span)
            except KeyError:
                if out is not None:
                    adm.shed(FULL if adm.open else CLOSED)
                return
            if out is not None:
                adm.force(out)
            return
        with adm.lock:  # open-or-not and the stop's fate together, as the close path sees it
            self._settle_stop(span, out, adm.force_threadsafe)

    def _settle_stop(self, span: SpanLike, out: Event | None, force: Callable[[Event], None]) -> None:
        adm = self._adm
        if span in adm.spans:
            adm.spans.discard(span)
            if out is not None:
                force(out)
        elif out is not None:
            adm.shed(FULL if adm.open else CLOSED)

    # ------------------------------------------------------------------ public handle

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event accepted before the call has been written.

        Returns ``True`` when they were (or failed with a counted write
        error), ``False`` if *timeout* seconds passed first; the events stay
        queued and are still written.  Always a checkpoint.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        writer = self._writer
        if writer is None or self._state is _CLOSED:
            await asyncio.sleep(0)
            return True
        if get_ident() != self._loop_thread:
            assert self._loop is not None
            cf = asyncio.run_coroutine_threadsafe(writer.flush(timeout), self._loop)
            return await asyncio.wrap_future(cf)
        return await writer.flush(timeout)

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

    def _counts(self) -> Counts:
        return self._adm.counts(
            oversize=self._lines.oversize,
            filtered=self._pipeline.filtered,
            processor_errors=self._pipeline.failures,
            export_errors=self._exporters.errors,
            export_dropped=self._exporters.dropped,
        )

    # ------------------------------------------------------------------ opening

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        # Off the loop, like every file operation; its OSError reaches the caller as is.
        file = await asyncio.to_thread(TraceFile, str(self.path))
        self._loop = loop
        self._loop_thread = self.sink._loop_thread = get_ident()
        self._adm.bind(loop)
        writer = self._writer = Writer(
            adm=self._adm,
            lines=self._lines,
            file=file,
            exporters=self._exporters,
            batch_size=self._batch_size,
            batch_bytes=self._batch_bytes,
            fsync=self._fsync,
            path=self.path,
        )
        # The trace starts when the caller gets it back, not when we began
        # opening the file: offsets in the views should measure their code.
        self._start_mono_ns = time.monotonic_ns()
        if self._max_file_bytes is not None:
            self._lines.rotator = Rotator(
                max_file_bytes=self._max_file_bytes,
                first_path=self.path,
                trace_id=self.trace_id,
                start_data=self._start_data,
                counts=self._counts,
                elapsed_ns=lambda: time.monotonic_ns() - self._start_mono_ns,
            )
            if self._compress is not None:
                writer.thread.on_part_closed = self._part_compressions.start
        _clock.reanchor()
        start = Event(ts_ns=_clock.now_ns(), event=TRACE_START, data=self._start_data)
        writer.add_own_line(start)
        self._exporters.open(start)
        _shutdown.register(self)
        self._task = loop.create_task(self._writer_main(writer), name="asynctrace-writer")

    async def _writer_main(self, writer: Writer) -> None:
        try:
            await writer.run()
        except asyncio.CancelledError:
            # Cancelled from outside: asyncio.run tearing down a loop whose
            # collector was never exited.  The write in flight finishes on
            # its own thread; the atexit hook writes the rest.
            return
        except Exception as exc:  # the observer never breaks the observed
            log.error("asynctrace: writer for %s failed: %r; closing synchronously", self.path, exc)
            self._close_sync("writer_error")

    # ------------------------------------------------------------------ the finisher

    def _set_reason(self, exc: BaseException | None) -> None:
        if isinstance(exc, asyncio.CancelledError | anyio.get_cancelled_exc_class()):
            self._reason, self._status = "cancelled", "cancelled"
        elif exc is not None:
            self._reason, self._status = "exception", "error"

    def _begin_close(self) -> None:
        """Stop accepting; end the spans still open here; refuse waiting producers."""
        adm = self._adm
        with adm.lock:
            if self._state is not _OPEN:
                return
            self._state = _CLOSING
            adm.open = False
            # Straight into the mailbox, past its bound: these lines keep the
            # file free of spans that never ended, and there are few of them.
            spans = list(self._adm.spans)
            self._adm.spans.clear()
            for span in spans:
                ev = span._unfinished_stop()
                ev.trace_id = self.trace_id
                out = self._pipeline(ev)
                if out is not None:
                    adm.force_threadsafe(out)
        adm.close()
        if get_ident() == self._loop_thread:
            adm.wake()

    async def _close(self, exc: BaseException | None) -> None:
        """Drain every accepted event, close the exporters, write ``trace.stop``.

        Shielded from cancellation and bounded by ``shutdown_timeout``: past
        it (a hung disk), or if a native ``task.cancel()`` gets through the
        shield, the rest is written synchronously instead of being lost.
        """
        self._set_reason(exc)
        self._begin_close()
        task, writer = self._task, self._writer
        if self._state is _CLOSED or task is None or writer is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._shutdown_timeout
        try:
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task}, timeout=self._shutdown_timeout)
                if self._state is _CLOSED:
                    return  # the writer failed and closed the trace itself
                if not task.done():
                    log.warning(
                        "asynctrace: writer did not finish within shutdown_timeout=%ss; "
                        "closing %s synchronously",
                        self._shutdown_timeout,
                        self.path,
                    )
                    # We already waited: a write still in flight gets only a moment more.
                    self._close_sync(self._reason, wait_s=0.05)
                    return
                if self._exporters:
                    remaining = max(deadline - loop.time(), 0.1)
                    await _in_daemon_thread(lambda: self._exporters.close(remaining))
                if self._state is _CLOSED:
                    return  # a signal closed it meanwhile
                stop = self._stop_event(self._reason, self._status)
                ok = await writer.write_own(stop, max(deadline - loop.time(), 0.05))
                self._finish(self._reason, close_file=ok)
                if ok and self._compress is not None:
                    # Its own shutdown_timeout, like the exporters': the trace is complete.
                    await self._compress_file(self._shutdown_timeout)
        except asyncio.CancelledError:
            self._close_sync(self._reason)
            raise

    async def _compress_file(self, timeout_s: float) -> None:
        """Gzip the closed file off the loop, waiting at most *timeout_s*;
        ``result.path`` then names the ``.gz`` (past it, the plain path).

        Only on this (async) close path: the signal, atexit and
        writer-failure paths leave the plain file, so that exit never waits
        for a compression (docs/operations.md)."""
        rot = self._lines.rotator
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        first = self.path
        # A rotated trace's parts in order: the rotated ones were compressed as
        # they closed, the last one is compressed now (docs/operations.md).
        for part in [self.path] if rot is None else rot.paths:
            remaining = max(deadline - loop.time(), 0.05)
            if self._part_compressions.started(part):  # rotated: already under way
                path = await self._part_compressions.wait(part, remaining)
            else:
                path = await compress_off_loop(part, remaining)
            if part is self.path:
                first = path
        if first != self.path and self._result is not None:
            self._result = replace(self._result, path=first)

    def _stop_event(self, reason: str, status: str) -> Event:
        counts = self._counts()
        return Event(
            ts_ns=_clock.now_ns(),
            event=TRACE_STOP,
            duration_ns=time.monotonic_ns() - self._start_mono_ns,
            status=status,
            data=stop_data(counts, self._lines.summary.result(), reason),
        )

    def _close_sync(self, reason: str, *, wait_s: float | None = None) -> None:
        """Finish the trace without the event loop: drain, write, stop.

        For signals, interpreter exit, a failed writer, and a close path that
        gave up waiting.  Waits at most *wait_s* (default
        ``shutdown_timeout``) for the write in flight, then writes the rest
        from this thread with the writer's own parts.
        """
        if self._state is _CLOSED:
            return
        status = "aborted" if reason in _ABORTED_REASONS else self._status
        self._begin_close()
        writer = self._writer
        if writer is None:
            self._finish(reason, close_file=False)
            return
        wait = self._shutdown_timeout if wait_s is None else wait_s
        writable = writer.finish_sync(wait)
        self._exporters.close(self._shutdown_timeout)
        if writable and not writer.stop_sent:
            writable = writer.write_own_sync(self._stop_event(reason, status), max(wait, 0.05))
        if not writable:
            log.warning(
                "asynctrace: %s could not be finished (its writes are stuck); "
                "the counts are in trace.result only",
                self.path,
            )
        self._finish(reason, close_file=writable)

    def _finish(self, reason: str, *, close_file: bool = True) -> None:
        if self._result is not None:
            return  # another close path finished first: its result stands
        self._state = _CLOSED
        self._result = TraceResult(
            path=self.path, trace_id=self.trace_id, counts=self._counts(), reason=reason
        )
        writer = self._writer
        if writer is not None:
            writer.stopped = True
            writer.thread.stop()
            # A file whose write is stuck in the writer thread is left to that
            # thread: closing it under the write could hang this one too.
            if close_file:
                try:
                    writer.file.close()
                except OSError:
                    pass
            self._resolve_waiters(writer)
        _shutdown.unregister(self)

    def _resolve_waiters(self, writer: Writer) -> None:
        loop = self._loop
        if get_ident() == self._loop_thread or loop is None:
            writer.fail_flushes()
            self._adm.wake()
            return
        try:
            loop.call_soon_threadsafe(writer.fail_flushes)
            loop.call_soon_threadsafe(self._adm.wake)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting on it

    def _after_fork_in_child(self) -> None:
        """In a forked child: inert.  Never writes to the parent's file, never waits."""
        self._adm.reinit_after_fork()
        self._exporters.abandon()
        self._state = _CLOSED
        writer = self._writer
        if writer is not None:
            writer.stopped = True
            try:
                os.close(writer.file.fileno())
            except (OSError, ValueError):
                pass
        self._result = TraceResult(
            path=self.path, trace_id=self.trace_id, counts=self._counts(), reason="forked"
        )


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
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``trace.start``'s data; what the caller supplied goes through *redact* first."""
    supplied: dict[str, Any] = {
        "trace_kind": trace_kind,
        "producer": producer,
        "label": label,
        "model": model,
        "query": query,
        "meta": meta,
    }
    if redact is not None:
        supplied = redact(supplied)
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        **supplied,
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
