"""The running summary that the writer puts in ``trace.stop``.

The writer hands it every batch of producer lines it writes, so
:meth:`SummaryBuilder.add_batch` is on the hot path: the timestamps and the
event count are taken for the whole batch at C speed, the lines whose names
need nothing more (starts, point events) are skipped by one set lookup each,
and only stop, call and error lines get the real accounting.  ``add`` does
the same for one line.
The reader recomputes the same summary from a file with the same class (see
``asynctrace.summarize``), which is what keeps the two in agreement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from .._events._schema import Event

# Route flags, one int per event name.
_STOP: Final = 1  # a ``{kind}.stop``: counts in spans_by_kind
_ENDS: Final = 2  # a ``*.stop`` or ``*.call``: status ``error`` counts in errors
_LLM: Final = 4  # ``llm.stop`` / ``llm.call``
_TOOL: Final = 8  # ``tool.stop`` / ``tool.call``
_ERROR_EVENT: Final = 16  # the ``error`` point event

_NOTHING: Final = (0, "")

# A producer may invent event names without bound; past this many distinct
# names the route of a new name is computed each time instead of cached.
_MAX_ROUTES: Final = 4096

# Keys of the summary, in the order they are written (docs/schema.md).
SUMMARY_KEYS: Final = (
    "events",
    "duration_ns",
    "spans_by_kind",
    "tool_calls",
    "tool_errors",
    "tool_success_rate",
    "llm_calls",
    "llm_errors",
    "llm_success_rate",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "unpriced_llm_calls",
    "errors",
)


def _route_of(name: str) -> tuple[int, str]:
    kind, dot, rest = name.partition(".")
    if not dot:
        return (_ERROR_EVENT, "") if name == "error" else _NOTHING
    if rest == "stop":
        flags = _STOP | _ENDS
    elif rest == "call":
        flags = _ENDS
    else:
        return _NOTHING
    if kind == "llm":
        flags |= _LLM
    elif kind == "tool":
        flags |= _TOOL
    return flags, kind


def _int(value: object) -> int:
    # Token counts come from user code: anything that is not a plain int
    # (None, a float, a string) is ignored rather than trusted.
    return value if type(value) is int else 0


def _tally(lines: list[Event]) -> dict[tuple[str, Any], int]:
    """How many of *lines* there are per (name, status)."""
    names = [ev.event for ev in lines]
    statuses = [ev.status for ev in lines]
    first = statuses[0]
    n = len(statuses)
    if statuses.count(first) == n:
        # The usual batch: the same status on every line that counts (stops
        # "ok", calls without one), so the names alone are counted, in C --
        # often one name only.
        name = names[0]
        if names.count(name) == n:
            return {(name, first): n}
        return {(name, first): k for name, k in Counter(names).items()}
    return Counter(zip(names, statuses, strict=True))


class SummaryBuilder:
    """Accumulates the ``summary`` object of ``trace.stop`` one event at a time.

    Feed it producer lines only: never ``trace.start``, ``agent.config`` or
    ``trace.stop``.  A ``trace.event_omitted`` replacement counts in
    ``events`` and nothing else, since its original data is gone.

    Success rates are the share of calls whose status is ``ok``; a call that
    ended ``cancelled`` is neither a success nor an error.
    """

    __slots__ = (
        "_cached_tokens",
        "_cost_usd",
        "_errors",
        "_events",
        "_first_ts_ns",
        "_input_tokens",
        "_last_ts_ns",
        "_llm_calls",
        "_llm_errors",
        "_llm_ok",
        "_output_tokens",
        "_plain",
        "_priced_llm_calls",
        "_routes",
        "_spans_by_kind",
        "_tool_calls",
        "_tool_errors",
        "_tool_ok",
        "_unpriced_llm_calls",
    )

    def __init__(self) -> None:
        self._routes: dict[str, tuple[int, str]] = {}
        # Names seen whose lines count in ``events`` and nothing else.
        self._plain: set[str] = set()
        self._events = 0
        self._first_ts_ns = 0
        self._last_ts_ns = 0
        self._spans_by_kind: dict[str, int] = {}
        self._tool_calls = 0
        self._tool_errors = 0
        self._tool_ok = 0
        self._llm_calls = 0
        self._llm_errors = 0
        self._llm_ok = 0
        self._input_tokens = 0
        self._output_tokens = 0
        self._cached_tokens = 0
        self._cost_usd = 0.0
        self._priced_llm_calls = 0
        self._unpriced_llm_calls = 0
        self._errors = 0

    def add(self, ev: Event) -> None:
        """Account for one written producer line."""
        ts = ev.ts_ns
        if self._events:
            # Lines are written in mailbox order, which is not quite ts
            # order when several tasks or threads emit.
            if ts < self._first_ts_ns:
                self._first_ts_ns = ts
            elif ts > self._last_ts_ns:
                self._last_ts_ns = ts
        else:
            self._first_ts_ns = self._last_ts_ns = ts
        self._events += 1

        name = ev.event
        if name in self._plain:
            return
        flags, kind = self._routes.get(name) or self._route(name)
        if flags:
            self._account(ev, flags, kind)

    def add_batch(self, events: Sequence[Event]) -> None:
        """Account for written producer lines: the same as ``add`` on each, in order.

        Lines are tallied per (name, status) in C-level passes; only the
        tallies of stop, call and error names are accounted, by count, and
        only ``llm`` lines (their tokens and cost are per line) one by one.
        """
        if not events:
            return
        plain = self._plain
        try:
            notable = [ev for ev in events if ev.event not in plain]
            tally = _tally(notable) if notable else {}
        except TypeError:  # an unhashable name or status, set by a user processor
            for ev in events:
                self.add(ev)
            return
        stamps = [ev.ts_ns for ev in events]
        lo, hi = min(stamps), max(stamps)
        if self._events:
            if lo < self._first_ts_ns:
                self._first_ts_ns = lo
            if hi > self._last_ts_ns:
                self._last_ts_ns = hi
        else:
            self._first_ts_ns, self._last_ts_ns = lo, hi
        self._events += len(events)
        llm_names: set[str] | None = None
        for (name, status), count in tally.items():
            flags, kind = self._route(name)
            if not flags:
                continue
            if flags & _LLM:
                if llm_names is None:
                    llm_names = set()
                llm_names.add(name)
            else:
                self._count(flags, kind, status, count)
        if llm_names is not None:
            for ev in events:
                if ev.event in llm_names:
                    flags, kind = self._route(ev.event)
                    self._account(ev, flags, kind)

    def _route(self, name: str) -> tuple[int, str]:
        route = self._routes.get(name)
        if route is None:
            route = _route_of(name)
            if len(self._routes) < _MAX_ROUTES:
                self._routes[name] = route
                if not route[0]:
                    self._plain.add(name)
        return route

    def _count(self, flags: int, kind: str, status: object, count: int) -> None:
        """``_account`` for ``count`` non-llm lines of one name and status."""
        if flags & _ERROR_EVENT:
            self._errors += count
            return
        if flags & _STOP:
            counts = self._spans_by_kind
            counts[kind] = counts.get(kind, 0) + count
        failed = status == "error"
        if failed:
            self._errors += count
        if flags & _TOOL:
            self._tool_calls += count
            if failed:
                self._tool_errors += count
            elif status == "ok":
                self._tool_ok += count

    def _account(self, ev: Event, flags: int, kind: str) -> None:
        if flags & _ERROR_EVENT:
            self._errors += 1
            return
        if flags & _STOP:
            counts = self._spans_by_kind
            counts[kind] = counts.get(kind, 0) + 1
        status = ev.status
        failed = status == "error"
        if failed:
            self._errors += 1
        if flags & _TOOL:
            self._tool_calls += 1
            if failed:
                self._tool_errors += 1
            elif status == "ok":
                self._tool_ok += 1
        elif flags & _LLM:
            self._llm_calls += 1
            if failed:
                self._llm_errors += 1
            elif status == "ok":
                self._llm_ok += 1
            data = ev.data
            self._input_tokens += _int(data.get("input_tokens"))
            self._output_tokens += _int(data.get("output_tokens"))
            self._cached_tokens += _int(data.get("cached_tokens"))
            cost = data.get("cost_usd")
            if type(cost) is float or type(cost) is int:
                self._cost_usd += cost
                self._priced_llm_calls += 1
            else:
                self._unpriced_llm_calls += 1

    def result(self) -> dict[str, Any]:
        """The summary so far, as the JSON-ready ``summary`` object."""
        tool_calls = self._tool_calls
        llm_calls = self._llm_calls
        # Rounded so that float noise from summing many small prices does not
        # show up as 0.30000000000000004 in the file.
        no_price = llm_calls and not self._priced_llm_calls
        cost = None if no_price else round(self._cost_usd, 10)
        return {
            "events": self._events,
            "duration_ns": self._last_ts_ns - self._first_ts_ns,
            "spans_by_kind": dict(self._spans_by_kind),
            "tool_calls": tool_calls,
            "tool_errors": self._tool_errors,
            "tool_success_rate": self._tool_ok / tool_calls if tool_calls else None,
            "llm_calls": llm_calls,
            "llm_errors": self._llm_errors,
            "llm_success_rate": self._llm_ok / llm_calls if llm_calls else None,
            "input_tokens": self._input_tokens,
            "output_tokens": self._output_tokens,
            "cached_tokens": self._cached_tokens,
            "cost_usd": cost,
            "unpriced_llm_calls": self._unpriced_llm_calls,
            "errors": self._errors,
        }
