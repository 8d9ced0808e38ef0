"""Shutdown hooks for the abrupt paths: SIGTERM and interpreter exit.

The graceful paths (normal exit, an exception, cancellation -- which is also
what SIGINT becomes under ``asyncio.run``) go through the collector's
``__aexit__``.  These hooks cover the rest:

* SIGTERM while the loop runs in the main thread: every open collector on
  that loop is closed synchronously (``reason: "signal"``), then the signal is
  re-delivered to whatever handler was installed before us, so the process
  still dies (or does what its owner asked) afterwards.
* Interpreter exit with a collector still open (``reason: "atexit"``).

A collector whose loop runs in another thread is closed from that thread,
with a bounded wait.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._collector import Collector

log = logging.getLogger("asynctrace")

_lock = threading.RLock()
_open: weakref.WeakSet[Collector] = weakref.WeakSet()
_atexit_installed = False
# loop -> the SIGTERM disposition that was in place before we installed ours
_sigterm_loops: dict[asyncio.AbstractEventLoop, Any] = {}

_Handler = Callable[[int, FrameType | None], Any] | int | None


def register(collector: Collector) -> None:
    global _atexit_installed
    with _lock:
        _open.add(collector)
        if not _atexit_installed:
            atexit.register(_on_exit)
            _atexit_installed = True
    _install_sigterm(collector)


def unregister(collector: Collector) -> None:
    with _lock:
        _open.discard(collector)
        loop = collector._loop
        if loop is None or loop not in _sigterm_loops:
            return
        if any(c._loop is loop for c in _open):
            return
        previous = _sigterm_loops.pop(loop)
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous)
    except (RuntimeError, ValueError, OSError):
        pass


def _install_sigterm(collector: Collector) -> None:
    loop = collector._loop
    if loop is None or threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        if loop in _sigterm_loops:
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return  # the program chose to ignore SIGTERM; so do we
        try:
            loop.add_signal_handler(signal.SIGTERM, _on_sigterm, loop)
        except (NotImplementedError, RuntimeError, ValueError):
            return  # not a Unix loop, or not the main thread's
        _sigterm_loops[loop] = previous


def _on_sigterm(loop: asyncio.AbstractEventLoop) -> None:
    with _lock:
        victims = [c for c in _open if c._loop is loop]
        previous = _sigterm_loops.pop(loop, signal.SIG_DFL)
    for collector in victims:
        _close_quietly(collector, "signal")
    try:
        loop.remove_signal_handler(signal.SIGTERM)
    except (RuntimeError, ValueError):
        pass
    _redeliver(previous)


def _redeliver(previous: _Handler) -> None:
    if callable(previous):
        previous(signal.SIGTERM, None)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    os.kill(os.getpid(), signal.SIGTERM)


def _close_quietly(collector: Collector, reason: str) -> None:
    try:
        collector.close_sync(reason)
    except Exception as exc:  # the observer never breaks the observed
        log.error("asynctrace: could not close %s on %s: %r", collector.path, reason, exc)


def _on_exit() -> None:
    with _lock:
        victims = list(_open)
    for collector in victims:
        loop = collector._loop
        if (
            loop is not None
            and loop.is_running()
            and threading.get_ident() != collector._loop_thread
        ):
            # Its loop still runs in a daemon thread: close it there.
            done = threading.Event()

            def close(c: Collector = collector, d: threading.Event = done) -> None:
                _close_quietly(c, "atexit")
                d.set()

            try:
                loop.call_soon_threadsafe(close)
            except RuntimeError:
                _close_quietly(collector, "atexit")
                continue
            if done.wait(collector._shutdown_timeout):
                continue
        _close_quietly(collector, "atexit")
