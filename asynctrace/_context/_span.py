"""Spans: ``{kind}.start`` / ``{kind}.stop`` pairs carried by contextvars."""

from __future__ import annotations

import asyncio
import re
from time import monotonic_ns, time_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, runtime_checkable

import anyio
import msgspec

from .._events._ids import new_span_id
from .._events._schema import Event
from ._state import COLLECTORS, CURRENT_SPAN
from ._w3c import TraceParent, as_traceparent

if TYPE_CHECKING:
    from .._runtime._collector import Collector

_KIND_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
# kind -> (start name, stop name); doubles as the cache of validated kinds.
_NAMES: dict[str, tuple[str, str]] = {
    k: (f"{k}.start", f"{k}.stop") for k in ("run", "turn", "llm", "tool", "span")
}
_CANCELLED: Final = (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, SystemExit)


def span_names(kind: str) -> tuple[str, str]:
    """``(start, stop)`` event names for *kind*; validates a new kind once."""
    names = _NAMES.get(kind)
    if names is None:
        if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind) or kind == "trace":
            raise ValueError(f"span kind must be a lowercase identifier (not 'trace'), got {kind!r}")
        names = _NAMES[kind] = (f"{kind}.start", f"{kind}.stop")
    return names


def status_of(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, (*_CANCELLED, anyio.get_cancelled_exc_class())):
        return "cancelled"
    return "error"


def offer_nowait(collectors: tuple[Collector, ...], ev: Event) -> None:
    if len(collectors) == 1:
        collectors[0].offer_nowait(ev)
        return
    for c in collectors:
        # Each collector stamps its own trace_id and seq on its copy.
        c.offer_nowait(msgspec.structs.replace(ev))


async def offer(collectors: tuple[Collector, ...], ev: Event, *, shield: bool = False) -> None:
    """Offer to every collector, waiting only where a mailbox is full."""
    single = len(collectors) == 1
    for c in collectors:
        copy = ev if single else msgspec.structs.replace(ev)
        if c.has_room():
            c.offer_nowait(copy)
        elif shield:
            # A stop must land even while the task is being cancelled, or the
            # file would show a span that never ended.
            with anyio.CancelScope(shield=True):
                await c.offer(copy)
        else:
            await c.offer(copy)


class Span:
    """An open span: what ``with`` / ``async with asynctrace.span(...)`` binds.

    Entering emits ``{kind}.start``, leaving emits ``{kind}.stop`` with
    ``duration_ns`` and ``status`` -- on every exit path.  Neither raises
    into the traced code, and ``async with`` waits only when a collector's
    mailbox is full.  A span may be closed in another task or context than
    the one that opened it: the current-span ContextVar is restored only
    where this span is current, so no other task's state is touched.
    """

    __slots__ = (
        "__weakref__",
        "_attrs",
        "_children",
        "_collectors",
        "_given_parent",
        "_names",
        "_parent",
        "_start_mono",
        "_stopped",
        "agent_id",
        "kind",
        "name",
        "parent_span_id",
        "remote",
        "span_id",
        "start_ts_ns",
    )

    def __init__(
        self, name: str, kind: str, attrs: dict[str, Any], collectors: tuple[Collector, ...]
    ) -> None:
        self.name = name
        self.kind = kind
        names = _NAMES.get(kind)
        self._names = names if names is not None else span_names(kind)
        self._collectors = collectors
        # agent_id is a top-level field of the schema, not data.
        self.agent_id: str | None = attrs.pop("agent_id", None) if "agent_id" in attrs else None
        if self.agent_id is not None and not isinstance(self.agent_id, str):
            raise TypeError(f"agent_id must be a str, got {type(self.agent_id).__name__}")
        self._attrs = attrs
        self._children: list[str] | None = None
        self._parent: Span | None = None
        self._given_parent: tuple[Span | None, TraceParent | None] | None = None
        # The remote W3C parent this span (or an ancestor) continues, if any.
        self.remote: TraceParent | None = None
        self._stopped = False
        self.span_id = ""
        self.parent_span_id: str | None = None
        self._start_mono = 0
        self.start_ts_ns = 0

    def __repr__(self) -> str:
        return f"<Span {self.kind}:{self.name} {self.span_id or 'unstarted'}>"

    # --------------------------------------------------------------- start / stop

    def _start(self) -> Event:
        given = self._given_parent
        if given is None:
            parent = CURRENT_SPAN.get()
            self.remote = None if parent is None else parent.remote
            self.parent_span_id = None if parent is None else parent.span_id
        else:
            parent = self._start_under(given)
        self._parent = parent
        self.span_id = new_span_id()
        self.start_ts_ns = time_ns()
        self._start_mono = monotonic_ns()
        start_data = {"name": self.name, **self._attrs}
        self._attrs = {"name": self.name}  # from now on: what set() adds to the stop
        CURRENT_SPAN.set(self)
        for c in self._collectors:
            c.open_spans[self.span_id] = self
        return Event(
            ts_ns=self.start_ts_ns,
            event=self._names[0],
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            agent_id=self.agent_id,
            data=start_data,
        )

    def _stop(self, exc: BaseException | None) -> Event | None:
        if self._stopped or not self.span_id:
            return None
        self._stopped = True
        if CURRENT_SPAN.get() is self:
            CURRENT_SPAN.set(self._parent)
        data = self._attrs
        status = status_of(exc)
        if status == "error" and exc is not None:
            data["error_type"] = type(exc).__qualname__
            try:
                data["error_message"] = str(exc)
            except Exception:  # an exception whose __str__ fails must not break the span
                data["error_message"] = f"<unprintable {type(exc).__qualname__}>"
        if self._children:
            data["child_file_id"] = self._children[0]
            if len(self._children) > 1:
                data["child_file_ids"] = list(self._children)
        # Drop the parent link: a finished span must not keep its ancestors alive.
        self._parent = None
        for c in self._collectors:
            c.open_spans.pop(self.span_id, None)
        return self._stop_event(status, data)

    def _start_under(self, given: tuple[Span | None, TraceParent | None]) -> Span | None:
        """Parent this span as ``span(..., parent=...)`` asked: a local span or a remote one."""
        self._given_parent = None
        local, remote = given
        if local is not None:
            self.remote = local.remote
            self.parent_span_id = local.span_id
        elif remote is not None:
            self.remote = remote
            self.parent_span_id = remote.span_id
            # The caller's trace may differ from this file's: readers and
            # exporters put this span's subtree into that trace.
            self._attrs = {**self._attrs, "parent_trace_id": remote.trace_id}
        else:
            self.remote = None
            self.parent_span_id = None
        return local

    def _stop_event(self, status: str, data: dict[str, Any]) -> Event:
        return Event(
            ts_ns=time_ns(),
            event=self._names[1],
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            duration_ns=monotonic_ns() - self._start_mono,
            status=status,
            agent_id=self.agent_id,
            data=data,
        )

    def stop_for_close(self) -> Event:
        """The stop event a closing collector writes for a span still open in it.

        The span itself stays open for its other collectors; its real stop
        reaches this one later and is shed as ``closed``.
        """
        return self._stop_event("cancelled", {**self._attrs, "unfinished": True})

    def __enter__(self) -> Self:
        offer_nowait(self._collectors, self._start())
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ev = self._stop(exc)
        if ev is not None:
            offer_nowait(self._collectors, ev)

    async def __aenter__(self) -> Self:
        ev = self._start()
        collectors = self._collectors
        # One collector with room (the usual case): no extra coroutine.
        if len(collectors) != 1 or not collectors[0].offer_if_room(ev):
            await offer(collectors, ev)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ev = self._stop(exc)
        if ev is not None:
            collectors = self._collectors
            if len(collectors) != 1 or not collectors[0].offer_if_room(ev):
                await offer(collectors, ev, shield=True)

    # --------------------------------------------------------------- the handle

    def set(self, **attrs: Any) -> None:
        """Add attributes to the ``{kind}.stop`` event."""
        self._attrs.update(attrs)

    def event(self, name: str, **data: Any) -> None:
        """Emit a point event inside this span (never waits; sheds when full)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"event name must be a non-empty string, got {name!r}")
        ev = Event(ts_ns=time_ns(), event=name, parent_span_id=self.span_id or None, data=data)
        offer_nowait(self._collectors, ev)

    def link_child(self, file_id: str) -> None:
        """Record that the trace file *file_id* (a child's) hangs off this span."""
        if self._children is None:
            self._children = []
        self._children.append(file_id)

    @property
    def is_recording(self) -> bool:
        return True


class NoopSpan:
    """The span handed out when no collector is active: every call is a no-op."""

    __slots__ = ()
    name = ""
    kind = "span"
    span_id = ""
    parent_span_id: str | None = None
    start_ts_ns = 0
    is_recording = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def set(self, **attrs: Any) -> None:
        return None

    def event(self, name: str, **data: Any) -> None:
        return None

    remote: TraceParent | None = None

    def link_child(self, file_id: str) -> None:
        return None


NOOP_SPAN: Final = NoopSpan()


@runtime_checkable
class _Captured(Protocol):
    """What ``asynctrace.capture()`` returns, as far as a span's parent goes."""

    @property
    def span(self) -> Span | None: ...


def resolve_span_parent(parent: object) -> tuple[Span | None, TraceParent | None]:
    """``span(parent=...)``: a local span, or a remote W3C parent (loud on misuse)."""
    if isinstance(parent, Span):
        return parent, None
    if isinstance(parent, (str, TraceParent)):
        return None, as_traceparent(parent)
    if isinstance(parent, _Captured):
        return parent.span, None
    raise TypeError(
        "parent must be a traceparent string, a TraceParent, a Span or asynctrace.capture(), "
        f"got {type(parent).__name__}"
    )


def span(name: str, *, kind: str = "span", parent: object = None, **attrs: Any) -> Span | NoopSpan:
    """Open a span: ``async with asynctrace.span("search", kind="tool", q=q) as s:``.

    Works as ``async with`` in async code and ``with`` in sync code.  With no
    active collector it returns a shared no-op span and costs a ContextVar
    read.  *attrs* go into the start event; ``s.set(...)`` adds to the stop.

    *parent* overrides the current span as this span's parent: a
    ``traceparent`` string or ``TraceParent`` (a remote caller: a server
    handling many requests in one collector parents each request's span to
    its caller), a ``Span``, or what ``capture()`` returned.
    """
    collectors = COLLECTORS.get()
    if kind not in _NAMES:
        span_names(kind)
    given = None if parent is None else resolve_span_parent(parent)
    if not collectors:
        return NOOP_SPAN
    if type(name) is not str:
        raise TypeError(f"span name must be a str, got {type(name).__name__}")
    s = Span(name, kind, attrs, collectors)
    s._given_parent = given
    return s


def current_span() -> Span | None:
    """The span current in this context, or ``None``."""
    return CURRENT_SPAN.get()
