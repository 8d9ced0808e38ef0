"""The lean floor: the least a tracer can do with asynctrace's semantics.

A hand-rolled, minimal tracer measured next to asynctrace in every run, so
the distance to the limit of pure Python is a number, not a guess.  It keeps
exactly what the hot path must do (issue 10):

- two JSONL lines per span: the start with trace_id, span_id, parent,
  ts_ns and the attributes; the stop with duration_ns and status;
- a bounded ``asyncio.Queue`` owned by the collector, with awaitable
  backpressure (``await put`` only when it is full) and counted shedding for
  the non-blocking emit;
- a single writer task that assigns ``seq`` and encodes msgspec Structs with
  ``encode_lines``; the writes run on a dedicated thread, one in flight, the
  next batches encoded behind it;
- parenting through a ContextVar;
- a snapshot of the event at emit time (a copy of the dict the caller gave);
- redaction of secret keys and secret-looking strings with a fast
  precheck: a set of keys and one of short strings already known clean, and
  asynctrace's compiled secret regex over the new strings, joined by NUL.
  Anything unusual (a container, a non-plain type, a secret, a path, a
  non-ASCII string) takes asynctrace's full Redactor and Sanitizer.

It leaves out what the issue allows a floor to leave out: the ledger beyond
a shed count, flush waiters, shutdown hooks, signals, threads, summaries,
exporters, size caps.  It is not a tracer anyone should use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from contextvars import ContextVar
from pathlib import Path
from random import getrandbits
from time import perf_counter_ns, time_ns
from types import TracebackType
from typing import Any

import msgspec

from asynctrace import Redactor, Sanitizer
from asynctrace._processing._redact import _JOINED_SEARCH

BATCH = 512
_BACKLOG_BYTES = 1 << 20
_BACKLOG_NS = 2_000_000
_KEYS_MAX = 4096
_SHORT = 64


class LeanEvent(msgspec.Struct, omit_defaults=True, gc=False):
    """The same line shape as asynctrace's Event, built positionally."""

    seq: int
    ts_ns: int
    event: str
    trace_id: str
    span_id: str | None = None
    parent_span_id: str | None = None
    duration_ns: int | None = None
    status: str | None = None
    data: dict[str, Any] = {}


_ENCODER = msgspec.json.Encoder()
_CURRENT: ContextVar[LeanSpan | None] = ContextVar("lean_span", default=None)


class LeanRedactor:
    """Keys and short strings known clean, one regex for the rest, else the full path."""

    def __init__(self) -> None:
        self._redactor = Redactor()
        self._sanitizer = Sanitizer()
        self._admit = self._redactor.admit_key
        self._keys: set[str] = set()
        self._strs: set[str] = set()

    def owned(self, d: dict[str, Any]) -> dict[str, Any]:
        """``d`` redacted; ``d`` is a fresh dict the caller gives up (the snapshot)."""
        keys = self._keys
        if len(d) > 100 or not (keys.issuperset(d) or self._learn(d)):
            return self._full(d)
        strs = self._strs
        new: list[str] | None = None
        for v in d.values():
            t = type(v)
            if t is str:
                if v not in strs:
                    if new is None:
                        new = [v]
                    else:
                        new.append(v)
            elif not (t is int or t is bool or v is None or (t is float and v - v == 0.0)):
                return self._full(d)
        if new is not None:
            s = new[0] if len(new) == 1 else "\x00".join(new)
            if not s.isascii() or len(s) > 65536 or _JOINED_SEARCH(s) is not None:
                return self._full(d)
            if len(strs) >= _KEYS_MAX:
                strs.clear()
            for v in new:
                if len(v) <= _SHORT:
                    strs.add(v)
        return d

    def _learn(self, d: dict[str, Any]) -> bool:
        for k in d:
            if k not in self._keys:
                if not self._admit(k):
                    return False
                self._keys.add(k)
        return True

    def _full(self, d: dict[str, Any]) -> dict[str, Any]:
        return self._sanitizer.sanitize_data(self._redactor.redact(d))


class LeanCollector:
    """Queue, writer task, writer thread; ``async with`` opens and closes the file."""

    def __init__(self, path: Path, *, maxsize: int = 10_000) -> None:
        self.path = path
        self.trace_id = f"{getrandbits(128):032x}"
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.redact = LeanRedactor().owned
        self.written = 0
        self.shed = 0
        self._file: Any = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeanCollector:
        self._file = open(self.path, "wb")  # noqa: ASYNC230, SIM115 (opened before timing)
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lean")
        self._task = asyncio.create_task(self._writer())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.put(None)
        assert self._task is not None and self._thread is not None
        await self._task
        self._thread.shutdown()
        self._file.close()

    async def flush(self) -> None:
        """Wait until everything put so far is on disk."""
        done = asyncio.get_running_loop().create_future()
        await self.queue.put(done)
        await done

    async def _put(self, ev: LeanEvent) -> None:
        q = self.queue
        if q.full():
            await q.put(ev)
        else:
            q.put_nowait(ev)

    def emit_nowait(self, event: dict[str, Any]) -> bool:
        data = event.copy()
        name = data.pop("event")
        ev = LeanEvent(
            -1, time_ns(), name, self.trace_id, None, None, None, None, self.redact(data)
        )
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.shed += 1
            return False
        return True

    async def emit(self, event: dict[str, Any]) -> None:
        data = event.copy()
        name = data.pop("event")
        ev = LeanEvent(
            -1, time_ns(), name, self.trace_id, None, None, None, None, self.redact(data)
        )
        await self._put(ev)

    def span(self, name: str, *, kind: str = "span", **attrs: Any) -> LeanSpan:
        return LeanSpan(self, name, kind, attrs)

    async def _writer(self) -> None:
        q = self.queue
        seq = 0
        pool = self._thread
        assert pool is not None
        write = self._file.write
        # One write in flight; batches encoded meanwhile coalesce in ``buf``
        # and go out as one write when it is done.  The writer thread needs
        # the GIL to finish a write, and a loop that never idles keeps it
        # (asynctrace's writer module explains why), so the loop blocks on
        # the write in flight once the backlog passes ~1 MiB or the write has
        # been pending ~2 ms, whether or not new events arrived meanwhile.
        inflight: concurrent.futures.Future[Any] | None = None
        inflight_n = inflight_t = 0
        buf: list[bytes] = []
        buf_bytes = buf_n = 0
        waiters: list[asyncio.Future[None]] = []
        stop = False
        while True:
            if inflight is not None and inflight.done():
                inflight.result()
                self.written += inflight_n
                inflight = None
            if q.empty():
                if inflight is None and buf:
                    inflight = pool.submit(write, b"".join(buf))
                    inflight_n, inflight_t = buf_n, perf_counter_ns()
                    buf.clear()
                    buf_bytes = buf_n = 0
                    continue
                if inflight is not None and (
                    waiters or stop or perf_counter_ns() - inflight_t >= _BACKLOG_NS
                ):
                    inflight.result()  # blocks the loop: hands the GIL to the writer thread
                    continue
                if inflight is None:
                    for w in waiters:
                        w.set_result(None)
                    waiters.clear()
                    if stop:
                        return
                # Nothing to do until an event (or a flush, or the end) arrives.
                item = await q.get()
            else:
                item = q.get_nowait()
            batch = []
            while True:
                if type(item) is LeanEvent:
                    item.seq = seq
                    seq += 1
                    batch.append(item)
                elif item is None:
                    stop = True
                else:
                    waiters.append(item)
                if len(batch) >= BATCH or q.empty():
                    break
                item = q.get_nowait()
            if not batch:
                continue
            blob = _ENCODER.encode_lines(batch)
            buf.append(blob)
            buf_bytes += len(blob)
            buf_n += len(batch)
            if inflight is not None:
                if buf_bytes < _BACKLOG_BYTES and perf_counter_ns() - inflight_t < _BACKLOG_NS:
                    continue
                inflight.result()  # blocks the loop: hands the GIL to the writer thread
                self.written += inflight_n
            inflight = pool.submit(write, b"".join(buf))
            inflight_n, inflight_t = buf_n, perf_counter_ns()
            buf.clear()
            buf_bytes = buf_n = 0


_NAMES: dict[str, tuple[str, str]] = {}


class LeanSpan:
    __slots__ = ("_c", "_names", "_parent", "_token", "attrs", "name", "span_id", "ts_ns")

    def __init__(self, c: LeanCollector, name: str, kind: str, attrs: dict[str, Any]) -> None:
        self._c = c
        self.name = name
        names = _NAMES.get(kind)
        if names is None:
            names = _NAMES[kind] = (f"{kind}.start", f"{kind}.stop")
        self._names = names
        self.attrs = attrs

    async def __aenter__(self) -> LeanSpan:
        c = self._c
        parent = _CURRENT.get()
        self._parent = None if parent is None else parent.span_id
        self.span_id = span_id = f"{getrandbits(64):016x}"
        self._token = _CURRENT.set(self)
        attrs = self.attrs
        attrs["name"] = self.name
        self.ts_ns = ts = time_ns()
        ev = LeanEvent(
            -1, ts, self._names[0], c.trace_id, span_id, self._parent, None, None, c.redact(attrs)
        )
        q = c.queue
        if q.full():
            await q.put(ev)
        else:
            q.put_nowait(ev)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _CURRENT.reset(self._token)
        c = self._c
        now = time_ns()
        if exc is None:
            status = "ok"
        elif isinstance(exc, asyncio.CancelledError):
            status = "cancelled"
        else:
            status = "error"
        ev = LeanEvent(
            -1,
            now,
            self._names[1],
            c.trace_id,
            self.span_id,
            self._parent,
            now - self.ts_ns,
            status,
            c.redact({"name": self.name}),
        )
        q = c.queue
        if q.full():
            await q.put(ev)
        else:
            q.put_nowait(ev)
