"""Live exporters: the hook that hands every written batch to, e.g., an OTLP shipper.

The file stays the source of truth.  An exporter sees events only after
they reached the file, must never block the loop, and can never reach the
traced program: a method that raises is counted in ``export_errors``,
logged once, and that exporter is disabled for the rest of the trace.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import msgspec

from .._events._schema import Event

log = logging.getLogger("asynctrace")


class ExportCounts(msgspec.Struct, frozen=True):
    """What an exporter's ``close`` reports: errors it hit, events it dropped."""

    errors: int = 0
    dropped: int = 0


@runtime_checkable
class Exporter(Protocol):
    """What ``collector(..., exporters=[...])`` accepts.

    * ``open(start)``: once, on the loop, with the ``trace.start`` line (seq 0).
    * ``submit(events)``: on the loop, with each batch right after it was
      written to the file (``seq`` set).  Must never block: buffer (bounded)
      and ship on your own thread, counting what you drop.
    * ``close(timeout_s)``: once, off the loop, before ``trace.stop`` is
      written; block at most *timeout_s*; return :class:`ExportCounts`,
      which ``trace.stop`` adds to ``export_errors`` / ``export_dropped``.
    """

    def open(self, start: Event) -> None: ...

    def submit(self, events: Sequence[Event]) -> None: ...

    def close(self, timeout_s: float) -> ExportCounts: ...


def check_exporters(exporters: Iterable[object]) -> list[Exporter]:
    """The API boundary: each exporter must have callable open/submit/close."""
    out: list[Exporter] = []
    for i, exp in enumerate(exporters):
        if not isinstance(exp, Exporter) or not all(
            callable(getattr(exp, m, None)) for m in ("open", "submit", "close")
        ):
            raise TypeError(
                f"exporters[{i}] must have open(start), submit(events) and close(timeout_s) "
                f"methods (asynctrace.export.Exporter), got {exp!r}"
            )
        out.append(exp)
    return out


def _name(exp: object) -> str:
    return f"{type(exp).__module__}.{type(exp).__qualname__}"


class Exporters:
    """The collector's live exporters, each isolated from the others and the program."""

    __slots__ = ("_live", "_lock", "dropped", "errors")

    def __init__(self, exporters: Sequence[Exporter]) -> None:
        self._live = list(exporters)
        self._lock = threading.Lock()
        self.errors = 0
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self._live)

    def _fail(self, exp: Exporter, what: str, exc: BaseException | None) -> None:
        with self._lock:
            self.errors += 1
            live = any(e is exp for e in self._live)
            if live:
                self._live = [e for e in self._live if e is not exp]
        if not live and what != "close":
            return  # already disabled, already logged
        with contextlib.suppress(Exception):
            log.warning(
                "asynctrace: exporter %s failed in %s and is disabled for this trace: %r",
                _name(exp),
                what,
                exc if exc is not None else "no answer in time",
            )

    def open(self, start: Event) -> None:
        for exp in self._live:
            try:
                exp.open(start)
            except Exception as exc:
                self._fail(exp, "open", exc)

    def submit(self, events: Sequence[Event]) -> None:
        for exp in self._live:
            try:
                exp.submit(events)
            except Exception as exc:
                self._fail(exp, "submit", exc)

    def close(self, timeout_s: float) -> None:
        """Close every exporter, in parallel daemon threads; return within *timeout_s*.

        An exporter whose ``close`` has not returned by then is counted as
        an error and abandoned (its thread is a daemon: exit never waits).
        """
        live, self._live = self._live, []
        if not live:
            return
        results: dict[int, object] = {}
        threads = []
        for i, exp in enumerate(live):

            def run(i: int = i, exp: Exporter = exp) -> None:
                try:
                    results[i] = exp.close(timeout_s)
                except BaseException as exc:
                    results[i] = exc

            t = threading.Thread(target=run, name="asynctrace-export-close", daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + timeout_s
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for i, exp in enumerate(live):
            res = results.get(i)
            if isinstance(res, ExportCounts):
                self.errors += res.errors
                self.dropped += res.dropped
            elif isinstance(res, BaseException):
                self._fail(exp, "close", res)
            elif i not in results:
                self._fail(exp, "close", None)
            else:
                self._fail(exp, "close", TypeError(f"returned {res!r}, not ExportCounts"))

    def abandon(self) -> None:
        """Forget every exporter without calling it (a forked child)."""
        self._live = []
