"""The processor chain run on the caller's side before an event is queued.

A processor is any callable taking an ``Event`` and returning it (changed or
not) or a replacement ``Event``; it drops the event on purpose by raising
``DropEvent``.  The chain runs synchronously inside ``emit``, so secrets are
gone before the event sits in the mailbox, and it never raises into the
traced program: a processor that fails (raises, or returns anything but an
``Event``, ``None`` included) is disabled for the rest of the pipeline's life.

The built-in steps at the head of the default chain (a ``Redactor`` then a
``Sanitizer``) run as one step with a flat fast path (``_fast``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from .._events._schema import Event
from ._fast import FastPath
from ._redact import Redactor
from ._sanitize import Sanitizer

__all__ = ["BuiltinStep", "DropEvent", "Pipeline", "Processor", "processor_name"]

_log = logging.getLogger("asynctrace")

Processor: TypeAlias = Callable[[Event], Event]


class DropEvent(Exception):
    """Raised by a processor to drop the event on purpose.

    The event is not written, later processors do not run, and the trace's
    ``counts.filtered`` goes up by one::

        def drop_debug(ev: asynctrace.Event) -> asynctrace.Event:
            if ev.data.get("level") == "debug":
                raise asynctrace.DropEvent
            return ev
    """

    __module__ = "asynctrace"


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

    - A processor raising ``DropEvent`` drops the event: ``filtered`` goes up
      by one and later processors do not run.
    - A processor that raises anything else, or returns something that is
      not an ``Event`` (``None`` included: dropping is ``raise DropEvent``),
      is disabled for good: ``errors`` goes up by one, one warning naming it
      goes to the ``asynctrace`` logger, and the event goes on to the next
      processor as the failing one received it.

    When the chain starts with the built-in steps, their flat fast path is
    called directly; the rest is one loop over a list (``try`` costs
    nothing on Python 3.11 until something raises).
    """

    __slots__ = (
        "_head",
        "_known",
        "_lock",
        "_procs",
        "_redactors",
        "_rest",
        "_snap",
        "admit_key",
        "errors",
        "filtered",
        "flat",
        "values",
    )

    def __init__(self, processors: Iterable[Processor] = ()) -> None:
        procs = list(processors)
        for i, proc in enumerate(procs):
            if not callable(proc):
                raise TypeError(f"processor {i} is not callable: {proc!r}")
        self._procs: list[Processor] = _fuse(procs)
        self._redactors = [p for p in procs if isinstance(p, Redactor)]
        self._lock = threading.Lock()
        # The built-in head and its fast path, called without the loop.  It
        # never raises (both steps catch everything), so it is never disabled
        # and these never change.
        head = self._procs[0] if self._procs else None
        fast = head.fast if type(head) is BuiltinStep else None
        self._head: BuiltinStep | None = head if type(head) is BuiltinStep else None
        self._snap = None if fast is None else fast.snapshot
        self._known = None if fast is None else fast.known
        self._rest: list[Processor] = self._procs[1:] if fast is not None else self._procs
        # The whole chain is the built-in head: a producer that checks an
        # event with ``flat`` (and its header) has run the pipeline.  Fixed
        # for good: processors are only ever removed.
        only = fast if fast is not None and not self._rest else None
        self.flat: Callable[[dict[Any, Any]], int] | None = None if only is None else only.flat
        """``FastPath.flat`` when the chain is only the built-in steps, else None."""
        # flat's two halves, for a producer that keeps its own cache of keys.
        self.values: Callable[[dict[Any, Any]], int] | None = None if only is None else only.values
        self.admit_key: Callable[[Any], bool] | None = None if only is None else only.admit_key
        self.filtered = 0
        """Events dropped on purpose by a processor raising DropEvent."""
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
            if type(p) is BuiltinStep:
                if p.redactor is not None:
                    out.append(p.redactor)
                out.append(p.sanitizer)
            else:
                out.append(p)
        return tuple(out)

    def __len__(self) -> int:
        return len(self.processors)

    def __repr__(self) -> str:
        names = ", ".join(processor_name(p) for p in self.processors)
        return f"Pipeline([{names}], filtered={self.filtered}, errors={self.errors})"

    def __call__(self, ev: Event, owned: bool = False) -> Event | None:
        """The processed event, or None if a processor dropped it.

        ``owned=True`` says that ``ev.data`` is a dict made for this event
        alone (as ``Sink`` builds it from the caller's mapping) that nobody
        else holds: the built-in steps then check its top level in place
        rather than copy it again.  The result is the same either way.
        """
        snap = self._snap
        if snap is None:
            return self._run(ev, self._procs)
        data = ev.data
        out = snap(data, owned) if type(data) is dict else None
        if out is None:
            ev = self._head.general(ev)  # type: ignore[union-attr]
        else:
            ev.data = out
            # fix_header's own test, inline: the call is most of its cost.
            event, agent_id, status = ev.event, ev.agent_id, ev.status
            if not (
                type(event) is str
                and event.isascii()
                and (agent_id is None or (type(agent_id) is str and agent_id.isascii()))
                and (status is None or (type(status) is str and status.isascii()))
            ):
                self._head.sanitizer.fix_header(ev)  # type: ignore[union-attr]
        procs = self._rest
        return self._run(ev, procs) if procs else ev

    def run_known(self, ev: Event) -> Event | None:
        """``self(ev)`` for an event that owns its ``data`` dict, made fresh for it.

        When ``data`` holds only keys and short strings this pipeline has
        already seen pass its built-in steps unchanged, and plain scalars (a
        span stop's ``{"name": name}`` after its start, say), the built-in
        steps are skipped: two set lookups per item, no copy (nobody else
        holds the dict, so it is already a snapshot).  Anything else takes
        the full path.  Filters and user processors run either way; the
        result is always the same as ``self(ev)``.
        """
        known = self._known
        data = ev.data
        if known is None or type(data) is not dict or not known(data):
            return self(ev)
        event, agent_id, status = ev.event, ev.agent_id, ev.status
        if not (  # fix_header's own test, inline, as in __call__
            type(event) is str
            and event.isascii()
            and (agent_id is None or (type(agent_id) is str and agent_id.isascii()))
            and (status is None or (type(status) is str and status.isascii()))
        ):
            self._head.sanitizer.fix_header(ev)  # type: ignore[union-attr]
        procs = self._rest
        return self._run(ev, procs) if procs else ev

    def _run(self, ev: Event, procs: list[Processor]) -> Event | None:
        for proc in procs:
            try:
                out: Any = proc(ev)
            except DropEvent:
                # Emitting threads may share one pipeline; keep the count exact.
                with self._lock:
                    self.filtered += 1
                return None
            except Exception as exc:
                self._disable(proc, exc)
                continue
            if type(out) is not Event and not isinstance(out, Event):
                self._disable(proc, _bad_return(out))
                continue
            ev = out
        return ev

    def _disable(self, proc: Processor, exc: Exception) -> None:
        # Rebinding the lists (never mutating them) keeps a loop already
        # running in another thread safe; the lock makes the warning appear once.
        with self._lock:
            self.errors += 1
            if not any(p is proc for p in self._procs):
                return
            self._procs = [p for p in self._procs if p is not proc]
            self._rest = [p for p in self._rest if p is not proc]
        with contextlib.suppress(Exception):
            _log.warning(
                "asynctrace: processor %s failed and is disabled for this trace: %r",
                processor_name(proc),
                exc,
                exc_info=(type(exc), exc, exc.__traceback__),
            )


def _bad_return(out: object) -> TypeError:
    if out is None:
        return TypeError("returned None; to drop an event, raise asynctrace.DropEvent")
    return TypeError(f"returned {type(out).__name__}, expected an Event")


class BuiltinStep:
    """A ``Redactor`` (or none) followed by a ``Sanitizer``, as one processor.

    Same result as calling one then the other: the common event takes the
    flat fast path (``_fast``), anything else the two processors in turn.
    """

    __slots__ = ("fast", "redactor", "sanitizer")

    def __init__(self, redactor: Redactor | None, sanitizer: Sanitizer) -> None:
        self.redactor = redactor
        self.sanitizer = sanitizer
        self.fast: FastPath | None
        if redactor is None:
            self.fast = sanitizer.fast_path()
        else:
            search, extra_ok = redactor.fast_text_checks()
            self.fast = sanitizer.fast_path(
                redactor.admit_key, search, extra_ok, max_depth=redactor.max_depth
            )

    def __repr__(self) -> str:
        return f"BuiltinStep({self.redactor!r}, {self.sanitizer!r})"

    def general(self, ev: Event) -> Event:
        """The two processors in turn (neither raises)."""
        redactor = self.redactor
        return self.sanitizer(ev if redactor is None else redactor(ev))

    def __call__(self, ev: Event) -> Event:
        fast = self.fast
        data = ev.data
        out = fast.snapshot(data) if fast is not None and type(data) is dict else None
        if out is None:
            return self.general(ev)
        ev.data = out
        self.sanitizer.fix_header(ev)
        return ev


def _fuse(procs: list[Processor]) -> list[Processor]:
    out: list[Processor] = []
    i = 0
    while i < len(procs):
        p = procs[i]
        nxt = procs[i + 1] if i + 1 < len(procs) else None
        # Exact types only: a subclass may have changed what either does.
        if type(p) is Redactor and type(nxt) is Sanitizer:
            out.append(BuiltinStep(p, nxt))
            i += 2
        elif type(p) is Sanitizer and i == 0:
            # redact=False: the sanitizer alone heads the chain.
            out.append(BuiltinStep(None, p))
            i += 1
        else:
            out.append(p)
            i += 1
    return out
