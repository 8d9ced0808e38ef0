"""Admission: the collector's bounded mailbox and the one ledger of its counts.

Every event that reaches a collector is accounted here exactly once, by
whichever path it took (the loop, another thread, a waiting producer, the
close path), through a handful of methods:

* accepted -- it is in the mailbox and will be written (``push``, ``put``,
  ``force`` and their thread-side twins);
* shed, by reason -- it was refused (``shed``);
* then, for accepted events, written or failed (``wrote``, ``failed``).

So ``emitted == written + shed + write_errors + queued`` holds at every
moment, and ``queued`` is zero once the trace has stopped.

The mailbox is a deque bounded by count and by (estimated) bytes.  Waiting
producers queue behind it the way anyio's memory object streams do: each
waits on its own future holding its event, and the consumer moves waiting
events into the mailbox as it makes room, in order, so a waiter is either
admitted or withdrawn, never both.  Producers on other threads take the
lock; the loop thread touches only its own counters without it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any, Final, Protocol

from .._events._schema import Counts, Event, ShedCounts
from .._processing._fast import SIZE_BASE, SIZE_PER_ITEM

# What an event costs beyond its strings: SIZE_BASE and SIZE_PER_ITEM, the
# model the processors' flat pass measures the events it passes with.
# Forced events (span stops) are not measured: there is at most one per open span.
FORCED_BYTES: Final = 256
_CONTAINERS: Final = (dict, list, tuple)

# Events after which the writer writes at once (fsync too, with fsync=True):
# they are what a reader of a crashed run needs most.
URGENT_EVENTS: Final = frozenset({"error", "checkpoint"})
# What the mailbox marks for the writer (``marks``): a batch to write at
# once; a batch holding an agent's config, which the writer turns into an
# ``agent.config`` line.  Both are rare: without them the writer only
# numbers the lines.
URGENT: Final = 1
CONFIG: Final = 2


def marks_of(ev: Event) -> int:
    """The marks *ev* puts on the mailbox (see ``URGENT``, ``CONFIG``)."""
    marks = URGENT if ev.status == "error" or ev.event in URGENT_EVENTS else 0
    if ev.agent_id is not None and "agent_config" in ev.data:
        marks |= CONFIG
    return marks

FULL: Final = "mailbox_full"
TIMEOUT: Final = "timeout"
CLOSED: Final = "closed"
CANCELLED: Final = "cancelled"


def approx_bytes(data: dict[str, Any], _str: type = str, _type: type = type) -> int:
    """A cheap estimate of what *data* holds: strings by length, the rest by count.

    Run once per admitted event, so it looks only at what can be big.
    """
    n = SIZE_BASE + SIZE_PER_ITEM * len(data)
    for v in data.values():
        t = _type(v)
        if t is _str:
            n += len(v)
        elif t in _CONTAINERS:
            n += _deep_bytes(v, 0)
    return n


def _deep_bytes(value: Any, depth: int) -> int:
    if depth > 32:  # the sanitizer bounds depth far below this
        return SIZE_PER_ITEM
    n = SIZE_PER_ITEM
    items = value.items() if type(value) is dict else enumerate(value)
    for k, v in items:
        if type(k) is str:
            n += len(k)
        t = type(v)
        if t is str:
            n += len(v) + 4
        elif t in _CONTAINERS:
            n += _deep_bytes(v, depth + 1)
        else:
            n += SIZE_PER_ITEM
    return n


class _Done(Protocol):
    def is_set(self) -> bool: ...


class Admission:
    """The mailbox and its ledger (see the module docstring).

    While an event waits in the mailbox its ``seq`` holds its estimated size
    in bytes, so the consumer can give those bytes back without a second
    queue; the writer then replaces it with the real ``seq``.
    """

    __slots__ = (
        "_byte_limit",
        "_consumer",
        "_consumer_asleep",
        "_direct",
        "_loop",
        "_putters",
        "_room",
        "_shed",
        "_wake_pending",
        "accepted",
        "bytes_in",
        "bytes_out",
        "items",
        "lock",
        "marks",
        "max_bytes",
        "max_len",
        "open",
        "spans",
        "t_accepted",
        "t_bytes_in",
        "t_waiting",
        "write_errors",
        "written",
    )

    def __init__(self, max_len: int, max_bytes: int) -> None:
        self.items: collections.deque[Event] = collections.deque()
        self.max_len = max_len
        self.max_bytes = max_bytes
        self.open = True
        # Written by the loop thread only...
        self.accepted = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.written = 0
        self.write_errors = 0
        # ...and these only under the lock.
        self.t_accepted = 0
        self.t_bytes_in = 0
        self.t_waiting = 0
        # What bytes_in may reach: max_bytes + bytes_out - t_bytes_in, kept up
        # to date under the lock by release() and the threads' appends, so
        # the loop thread's test is one comparison.
        self._byte_limit = max_bytes
        # open and no producer waiting: an offer may go straight in.
        self._direct = True
        # Marks (URGENT, CONFIG) of events admitted and not yet all taken.
        self.marks = 0
        self._shed: dict[str, int] = {FULL: 0, TIMEOUT: 0, CLOSED: 0, CANCELLED: 0}
        # Reentrant: a signal handler may close the trace on a thread that
        # was inside a locked region when the signal arrived.
        self.lock = threading.RLock()
        self._room = threading.Condition(self.lock)
        self._putters: collections.deque[
            tuple[asyncio.Future[bool], Event, int, object | None]
        ] = collections.deque()
        # The spans whose start was admitted and whose stop has not come:
        # added at admission itself, so the close path sees exactly those.
        self.spans: set[Any] = set()
        self._consumer: asyncio.Future[None] | None = None
        self._consumer_asleep = False
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # ------------------------------------------------------------------ the ledger

    def shed(self, reason: str, n: int = 1) -> None:
        with self.lock:
            self._shed[reason] += n

    def wrote(self, n: int) -> None:
        self.written += n

    def failed(self, n: int) -> None:
        self.write_errors += n

    def counts(self, **extra: int) -> Counts:
        with self.lock:
            shed = dict(self._shed)
            t_accepted = self.t_accepted
        by_reason = ShedCounts(**shed)
        total_shed = sum(shed.values())
        return Counts(
            emitted=self.accepted + t_accepted + total_shed,
            written=self.written,
            shed=total_shed,
            write_errors=self.write_errors,
            shed_by_reason=by_reason,
            **extra,
        )

    def processed(self) -> int:
        """Accepted events that are written or failed: flush targets compare to it."""
        return self.written + self.write_errors

    def accepted_total(self) -> int:
        return self.accepted + self.t_accepted

    # ------------------------------------------------------------------ loop thread

    def _has_room(self, size: int) -> bool:
        items = self.items
        return len(items) < self.max_len and (not items or self.bytes_in + size <= self._byte_limit)

    def note(self, ev: Event) -> None:
        """Put *ev*'s marks on the mailbox (loop thread; see ``marks_of``).

        ``offer`` and ``put`` leave this to their callers, which know when an
        event can have none (a span's start without an agent, an emit under
        a name seen before); every other way in marks for itself.
        """
        marks = marks_of(ev)
        if marks:
            self.marks |= marks

    def offer(self, ev: Event, can_wait: bool, size: int = -1) -> bool | None:
        """Accept *ev* if the mailbox is open and has room.

        Otherwise shed it, counted -- except that with *can_wait* a full (but
        open) mailbox returns ``None``, having done nothing: the caller then
        awaits ``put``.  The hot path of every emit and span start.

        *size*: the event's estimate as the processors' flat pass made it
        (``FastPath.flat``), so it needs no second walk; -1 to measure it here.
        """
        if size < 0:
            size = approx_bytes(ev.data)
        items = self.items
        if (
            self._direct
            and len(items) < self.max_len
            and (not items or self.bytes_in + size <= self._byte_limit)
        ):
            ev.seq = size
            items.append(ev)
            self.accepted += 1
            self.bytes_in += size
            if self._consumer_asleep:
                self._consumer_asleep = False  # one wake-up is enough
                self._wake()
            return True
        if not self.open:
            self.shed(CLOSED)
            return False
        if can_wait:
            return None
        self.shed(FULL)
        return False

    def force(self, ev: Event) -> None:
        """Accept *ev* past the bound: a started span's stop must be written."""
        if ev.status == "error":
            self.marks |= URGENT
        ev.seq = FORCED_BYTES
        self.items.append(ev)
        self.accepted += 1
        self.bytes_in += FORCED_BYTES
        if self._consumer_asleep:
            self._consumer_asleep = False
            self._wake()

    async def put(
        self, ev: Event, timeout: float | None, span: object | None = None, size: int = -1
    ) -> bool:
        """Wait for room, then accept *ev*; ``False`` (shed) on timeout or close.

        Cancelled while waiting: shed as ``cancelled`` and the cancellation
        propagates -- unless the event had been admitted in the meantime, in
        which case it is written and the cancellation still propagates.
        *size*: as for ``offer``.
        """
        fast = self.offer(ev, True, size)
        if fast is not None:
            if fast and span is not None:
                self.spans.add(span)
            if not fast:
                await asyncio.sleep(0)  # a checkpoint, like every await
            return fast
        assert self._loop is not None
        fut: asyncio.Future[bool] = self._loop.create_future()
        entry = (fut, ev, approx_bytes(ev.data), span)
        self._putters.append(entry)
        self._direct = False
        try:
            if timeout is None:
                return await fut
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            if self._withdraw(entry):
                self.shed(TIMEOUT)
                return False
            return fut.result()
        except BaseException:
            if self._withdraw(entry):
                self.shed(CANCELLED)
            raise

    def _withdraw(self, entry: tuple[asyncio.Future[bool], Event, int, object | None]) -> bool:
        try:
            self._putters.remove(entry)
        except ValueError:
            return False  # already admitted or refused
        self._direct = self.open and not self._putters
        return True

    def take(self, n: int) -> tuple[list[Event], int, int]:
        """Remove up to *n* events: the writer's batch, its marks, and the
        bytes it holds if it emptied the mailbox (else -1: the sum of its
        events' estimates, which the encoder adds up).

        A batch carries the mailbox's marks while the events that made them
        may not all have been taken: once it is empty, every marked event
        has been in a batch that was told so.
        """
        items = self.items
        # Under the lock: a thread appending between the copy and the clear
        # would lose an event it was told was accepted.  Once per batch.
        with self.lock:
            if len(items) <= n:
                batch = list(items)
                items.clear()
                held = self.bytes_in + self.t_bytes_in - self.bytes_out
            else:
                popleft = items.popleft
                batch = [popleft() for _ in range(n)]
                held = -1
            marks = self.marks
            if marks and not items:
                self.marks = 0
        return batch, marks, held

    def release(self, nbytes: int) -> None:
        """Give back what a taken batch held; admit waiting producers into the room."""
        with self.lock:
            self.bytes_out += nbytes
            self._byte_limit += nbytes
        putters = self._putters
        while putters:
            fut, ev, size, span = putters[0]
            if not self._has_room(size):
                break
            putters.popleft()
            ev.seq = size
            self.items.append(ev)
            self.accepted += 1
            self.bytes_in += size
            if span is not None:
                self.spans.add(span)
            if not fut.done():
                fut.set_result(True)
        if not putters:
            self._direct = self.open
        if self.t_waiting:
            with self.lock:
                self._room.notify_all()

    def close(self) -> None:
        """Stop accepting; every producer still waiting is shed as ``closed``."""
        with self.lock:
            self.open = False
            self._direct = False
            putters = list(self._putters)
            self._putters.clear()
            self._shed[CLOSED] += len(putters)
            self._room.notify_all()
        for fut, _, _, _ in putters:
            try:
                if not fut.done():
                    fut.set_result(False)
            except RuntimeError:
                pass  # its loop is closed: nobody is waiting any more

    def drain(self) -> list[Event]:
        """Every event still in the mailbox (for the close path)."""
        with self.lock:
            batch = list(self.items)
            self.items.clear()
        return batch

    # ------------------------------------------------------------------ the consumer

    async def wait(self, *, want_items: bool, done: _Done | None = None) -> None:
        """Sleep until ``wake()``, or *done* is set, or (if *want_items*) an event arrives.

        The writer task only.  Setting the waiter before re-checking the
        conditions is what makes a wake-up from another thread impossible
        to miss.
        """
        assert self._loop is not None
        fut = self._loop.create_future()
        self._consumer = fut
        if want_items:
            with self.lock:
                self._consumer_asleep = True
                self._wake_pending = False
        try:
            if (want_items and self.items) or (done is not None and done.is_set()):
                return
            await fut
        finally:
            self._consumer_asleep = False
            self._consumer = None

    def _wake(self) -> None:
        fut = self._consumer
        if fut is not None and not fut.done():
            fut.set_result(None)

    def wake(self) -> None:
        """Wake the consumer (loop thread)."""
        self._wake()

    def wake_threadsafe(self, *, force: bool = False) -> None:
        """Wake the consumer from any thread.

        For new events (``force=False``) only while it waits for events, at
        most one pending wake-up at a time; for a finished write, whenever
        it waits at all.
        """
        loop = self._loop
        with self.lock:
            if loop is None or self._consumer is None:
                return
            if not force:
                if not self._consumer_asleep or self._wake_pending:
                    return
                self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # the loop is closed: the close path will find the events

    # ------------------------------------------------------------------ other threads

    def push_threadsafe(self, ev: Event) -> bool:
        size = approx_bytes(ev.data)
        marks = marks_of(ev)
        with self.lock:
            if not self.open:
                self._shed[CLOSED] += 1
                return False
            if not self._has_room(size):
                self._shed[FULL] += 1
                return False
            self._append_locked(ev, size)
            self.marks |= marks
        self.wake_threadsafe()
        return True

    def force_threadsafe(self, ev: Event) -> None:
        with self.lock:
            self._append_locked(ev, FORCED_BYTES)
            self.marks |= marks_of(ev)
        self.wake_threadsafe()

    def put_blocking(self, ev: Event, timeout: float | None) -> bool:
        """Block this (non-loop) thread until there is room; ``False`` on timeout or close."""
        size = approx_bytes(ev.data)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while True:
                if not self.open:
                    self._shed[CLOSED] += 1
                    return False
                if not self._putters and self._has_room(size):
                    self._append_locked(ev, size)
                    self.marks |= marks_of(ev)
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._shed[TIMEOUT] += 1
                    return False
                self.t_waiting += 1
                try:
                    # Bounded: a consumer that died without closing must not
                    # strand this thread forever.
                    self._room.wait(0.5 if remaining is None else min(remaining, 0.5))
                finally:
                    self.t_waiting -= 1
        self.wake_threadsafe()
        return True

    def _append_locked(self, ev: Event, size: int) -> None:
        ev.seq = size
        self.items.append(ev)
        self.t_accepted += 1
        self.t_bytes_in += size
        self._byte_limit -= size

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh locks (another thread may have held them), closed."""
        self.lock = threading.RLock()
        self._room = threading.Condition(self.lock)
        self.open = False
        self._direct = False
        self._putters.clear()
        self.spans = set()
        self._consumer = None
        self._loop = None

