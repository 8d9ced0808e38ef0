"""Process-wide hooks for the abrupt paths: SIGTERM, interpreter exit, fork.

The graceful paths (normal exit, an exception, cancellation -- which is also
what SIGINT becomes under ``asyncio.run``) go through the collector's
``__aexit__``.  These hooks cover the rest:

* SIGTERM: a ``signal.signal`` handler, installed while a collector opened
  in the main thread is open, chained to whatever was installed before.  It
  never touches the event loop's own signal handlers (``loop.add_signal_handler``,
  which aiohttp and others use): those keep running as before, and what was
  installed with ``signal.signal`` is put back exactly once the last
  collector closes.  Collectors whose loop the signal interrupted are closed
  on that loop, between its callbacks (``reason: "signal"``); then the
  signal goes to the previous handler: the default one ends the process
  with SIGTERM.  A second SIGTERM while the first is still being handled
  goes to the previous handler at once, so a stuck loop never leaves the
  program unable to stop.
* Interpreter exit with a collector still open (``reason: "atexit"``).
* fork: the child's copies of open collectors become inert -- they never
  write to the parent's file and cost the child nothing at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._collector import Collector

log = logging.getLogger("asynctrace")

_lock = threading.RLock()
# Strong references: an accepted event must be written even if the program
# dropped every reference to a collector it never exited.
_open: set[Collector] = set()
_atexit_installed = False
_sig_installed = False
_sig_previous: Any = None
_sig_handling = False


def register(collector: Collector) -> None:
    global _atexit_installed
    with _lock:
        _open.add(collector)
        if not _atexit_installed:
            atexit.register(_on_exit)
            _atexit_installed = True
    _install_sigterm()


def unregister(collector: Collector) -> None:
    with _lock:
        _open.discard(collector)
        last = not _open
    if last:
        _restore_sigterm()


def _install_sigterm() -> None:
    global _sig_installed, _sig_previous
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        if _sig_installed:
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return  # the program chose to ignore SIGTERM; so do we
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError, RuntimeError):
            return
        _sig_previous = previous
        _sig_installed = True


def _restore_sigterm() -> None:
    global _sig_installed
    with _lock:
        if not _sig_installed:
            return
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may; our handler just chains meanwhile
        if not _put_back_previous():
            return
        _sig_installed = False


def _put_back_previous() -> bool:
    """Put back exactly what was installed before us, unless the program replaced us since."""
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            previous = _sig_previous
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _sig_handling
    previous = _sig_previous
    if _sig_handling:
        _redeliver(signum, frame, previous)
        return
    _sig_handling = True
    with _lock:
        victims = list(_open)
    here = threading.get_ident()
    on_this_loop = []
    for c in victims:
        loop = c._loop
        if loop is not None and loop.is_running():
            if c._loop_thread == here:
                on_this_loop.append(c)
            else:
                _close_on_its_loop(c, "signal")
        else:
            _close_quietly(c, "signal")
    if not on_this_loop:
        _redeliver(signum, frame, previous)
        return
    loop = on_this_loop[0]._loop
    assert loop is not None

    def finish() -> None:
        # Between the loop's callbacks: no writer or producer is half-way through.
        for c in on_this_loop:
            _close_quietly(c, "signal")
        _redeliver(signum, None, previous)

    try:
        loop.call_soon_threadsafe(finish)
    except RuntimeError:
        finish()


def _redeliver(signum: int, frame: FrameType | None, previous: Any) -> None:
    global _sig_handling
    _sig_handling = False
    _restore_sigterm()
    if callable(previous):
        previous(signum, frame)
        return
    # SIG_DFL (or nothing installed from Python): die of the signal, as the
    # program would have without us.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _close_quietly(collector: Collector, reason: str) -> None:
    try:
        collector._close_sync(reason)
    except Exception as exc:  # the observer never breaks the observed
        log.error("asynctrace: could not close %s on %s: %r", collector.path, reason, exc)


def _close_on_its_loop(collector: Collector, reason: str) -> None:
    """Close a collector whose loop runs in another thread, there; bounded wait."""
    loop = collector._loop
    done = threading.Event()

    def close() -> None:
        _close_quietly(collector, reason)
        done.set()

    try:
        assert loop is not None
        loop.call_soon_threadsafe(close)
    except (RuntimeError, AssertionError):
        _close_quietly(collector, reason)
        return
    # Its own close waits up to shutdown_timeout for a write, then writes the rest.
    if not done.wait(collector._shutdown_timeout * 3 + 1):
        _close_quietly(collector, reason)


def _on_exit() -> None:
    with _lock:
        victims = list(_open)
    here = threading.get_ident()
    for c in victims:
        loop = c._loop
        if loop is not None and loop.is_running() and c._loop_thread != here:
            # Its loop still runs in a daemon thread: close it there.
            _close_on_its_loop(c, "atexit")
        else:
            _close_quietly(c, "atexit")


def _after_fork_in_child() -> None:
    global _lock, _sig_installed, _sig_handling
    # Another thread of the parent may have held the lock at the fork.
    _lock = threading.RLock()
    victims = list(_open)
    _open.clear()
    for c in victims:
        try:
            c._after_fork_in_child()
        except Exception:
            pass
    if _sig_installed:
        _put_back_previous()
    _sig_installed = False
    _sig_handling = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
