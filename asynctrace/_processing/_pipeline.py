"""The processor chain run on the caller's side before an event is queued.

A processor is any callable taking an ``Event`` and returning it (changed or
not), a replacement ``Event``, or ``None`` to drop it on purpose.  The chain
runs synchronously inside ``emit``, so secrets are gone before the event
sits in the mailbox, and it never raises into the traced program: a
processor that fails is disabled for the rest of the pipeline's life.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeAlias

from .._events._schema import Event
from ._redact import Redactor
from ._sanitize import Sanitizer

__all__ = ["Pipeline", "Processor", "processor_name"]

_log = logging.getLogger("asynctrace")

Processor: TypeAlias = Callable[[Event], Event | None]


def processor_name(proc: object) -> str:
    """A readable name for logs: the function's or the instance's class name."""
    try:
        name = getattr(proc, "__qualname__", None)
        if isinstance(name, str):
            module = getattr(proc, "__module__", None)
            return f"{module}.{name}" if isinstance(module, str) else name
        cls = type(proc)
        return f"{cls.__module__}.{cls.__qualname__}"
    except Exception:
        return "<processor>"


class Pipeline:
    """Runs processors in order; counts drops and failures; never raises.

    - A processor returning ``None`` drops the event: ``filtered`` goes up by
      one and later processors do not run.
    - A processor that raises, or returns something that is neither an
      ``Event`` nor ``None``, is disabled for good: ``errors`` goes up by one,
      one warning naming it goes to the ``asynctrace`` logger, and the event
      goes on to the next processor as the failing one received it.

    The per-event cost is one loop over a list: no allocation, and ``try``
    costs nothing on Python 3.11 until something raises.
    """

    __slots__ = ("_lock", "_procs", "_redactors", "errors", "filtered")

    def __init__(self, processors: Iterable[Processor] = ()) -> None:
        procs = list(processors)
        for i, proc in enumerate(procs):
            if not callable(proc):
                raise TypeError(f"processor {i} is not callable: {proc!r}")
        self._procs: list[Processor] = _fuse(procs)
        self._redactors = [p for p in procs if isinstance(p, Redactor)]
        self._lock = threading.Lock()
        self.filtered = 0
        """Events dropped on purpose by a processor returning None."""
        self.errors = 0
        """Processor calls that raised or returned a non-event."""

    @property
    def failures(self) -> int:
        """Processor failures of every kind: ``errors`` plus events whose data a
        ``Redactor`` had to drop because redacting it failed (it never raises)."""
        return self.errors + sum(r.failures for r in self._redactors)

    @property
    def processors(self) -> tuple[Processor, ...]:
        """The processors still enabled, in order."""
        out: list[Processor] = []
        for p in self._procs:
            if type(p) is RedactThenSanitize:
                out.extend((p.redactor, p.sanitizer))
            else:
                out.append(p)
        return tuple(out)

    def __len__(self) -> int:
        return len(self.processors)

    def __repr__(self) -> str:
        names = ", ".join(processor_name(p) for p in self.processors)
        return f"Pipeline([{names}], filtered={self.filtered}, errors={self.errors})"

    def __call__(self, ev: Event) -> Event | None:
        for proc in self._procs:
            try:
                out = proc(ev)
            except Exception as exc:
                self._disable(proc, exc)
                continue
            if out is None:
                # Emitting threads may share one pipeline; keep the count exact.
                with self._lock:
                    self.filtered += 1
                return None
            if type(out) is not Event and not isinstance(out, Event):
                self._disable(
                    proc,
                    TypeError(f"returned {type(out).__name__}, expected Event or None"),
                )
                continue
            ev = out
        return ev

    def _disable(self, proc: Processor, exc: Exception) -> None:
        # Rebinding the list (never mutating it) keeps a loop already running
        # in another thread safe; the lock makes the warning appear once.
        with self._lock:
            self.errors += 1
            if not any(p is proc for p in self._procs):
                return
            self._procs = [p for p in self._procs if p is not proc]
        with contextlib.suppress(Exception):
            _log.warning(
                "asynctrace: processor %s failed and is disabled for this trace: %r",
                processor_name(proc),
                exc,
                exc_info=(type(exc), exc, exc.__traceback__),
            )


class RedactThenSanitize:
    """A ``Redactor`` followed by a ``Sanitizer``, as one processor.

    Same result as calling one then the other, in half the time on the
    common event: a small tree of plain values whose keys are known to be
    clean is checked and copied in one pass, with every string scanned in
    one go.  Anything else goes through the two processors in turn.
    """

    __slots__ = ("_fast", "redactor", "sanitizer")

    def __init__(self, redactor: Redactor, sanitizer: Sanitizer) -> None:
        self.redactor = redactor
        self.sanitizer = sanitizer
        scan, extra_ok = redactor.fast_text_checks()
        self._fast = sanitizer.fast_snapshot(
            set(), redactor.admit_key, extra_ok, max_depth=redactor.max_depth, scan=scan
        )

    def __repr__(self) -> str:
        return f"RedactThenSanitize({self.redactor!r}, {self.sanitizer!r})"

    def __call__(self, ev: Event) -> Event:
        data = ev.data
        if type(data) is dict:
            out = self._fast(data)
            if out is not None:
                ev.data = out
                event, agent_id, status = ev.event, ev.agent_id, ev.status
                if not (
                    type(event) is str
                    and event.isascii()
                    and (agent_id is None or (type(agent_id) is str and agent_id.isascii()))
                    and (status is None or (type(status) is str and status.isascii()))
                ):
                    self.sanitizer.fix_header(ev)
                return ev
        return self.sanitizer(self.redactor(ev))


def _fuse(procs: list[Processor]) -> list[Processor]:
    out: list[Processor] = []
    i = 0
    while i < len(procs):
        p = procs[i]
        nxt = procs[i + 1] if i + 1 < len(procs) else None
        # Exact types only: a subclass may have changed what either does.
        if type(p) is Redactor and type(nxt) is Sanitizer:
            out.append(RedactThenSanitize(p, nxt))
            i += 2
        else:
            out.append(p)
            i += 1
    return out
