"""The collector's mailbox: a bounded ``asyncio.Queue`` the writer drains in batches."""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(asyncio.Queue[T], Generic[T]):
    """A bounded ``asyncio.Queue`` with the extras the writer needs.

    ``wait()``/``wake()`` let the single consumer sleep until there is work
    or a flush or shutdown needs it.  ``take(n)`` removes up to *n* items in one call, so the writer pays the
    queue's bookkeeping once per batch instead of once per event.
    ``drain_sync()`` empties it without touching the event loop, for the
    shutdown hooks that run while the loop is stopped or blocked.

    The items live in ``self.items``, a deque we own, rather than in the
    base class's private attribute.
    """

    items: collections.deque[T]
    _waiter: asyncio.Future[None] | None

    def _init(self, maxsize: int) -> None:
        # Also the base class's storage, which its qsize()/full() read directly.
        self.items = collections.deque()
        self._queue: collections.deque[T] = self.items
        self._waiter = None

    def _put(self, item: T) -> None:
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, item: T) -> None:
        """``put_nowait`` for a caller that has already checked for room.

        Skips the base class's bookkeeping for ``get()`` and ``join()``,
        which nobody uses on a mailbox: per event, that is most of the cost.
        """
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Wait until there is an item or somebody calls ``wake()``.

        The single consumer uses this instead of ``get()`` so it can be woken
        for a flush or shutdown without an item, and then take a whole batch.
        """
        if self.items:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _get(self) -> T:
        return self.items.popleft()

    def take(self, n: int) -> list[T]:
        """Remove and return up to *n* items; wake producers waiting for room."""
        items = self.items
        if len(items) <= n:
            batch = list(items)
            items.clear()
        else:
            popleft = items.popleft
            batch = [popleft() for _ in range(n)]
        # One waiting producer per freed slot; a woken producer re-checks for
        # room itself, so waking too many is harmless and too few is not.
        for _ in range(len(batch)):
            if not self._putters:  # type: ignore[attr-defined]
                break
            self._wakeup_next(self._putters)  # type: ignore[attr-defined]
        return batch

    def drain_sync(self) -> list[T]:
        """Remove every item without waking anyone (the loop may be gone)."""
        batch = list(self.items)
        self.items.clear()
        return batch
