"""Spans: ``{kind}.start`` / ``{kind}.stop`` pairs carried by contextvars."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from time import monotonic_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self, TypeVar, runtime_checkable

from msgspec.structs import replace

from .._events import _clock
from .._events._ids import new_span_id
from .._events._mapping import check_event_name
from .._events._schema import Event
from ._state import CURRENT_SPAN, get_collectors, get_current_span, set_current_span
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
    # Classified without asking anyio for the backend's class: that needs a
    # running task, and a sync span may end in a thread or a loop callback.
    # asynctrace runs on asyncio only, whose cancellation is CancelledError.
    if isinstance(exc, _CANCELLED):
        return "cancelled"
    return "error"


def own_copy(ev: Event) -> Event:
    """*ev* for one of several collectors: each stamps its own trace_id and
    seq, and its processors may check (and change) the data dict in place."""
    return replace(ev, data=dict(ev.data))


def offer_nowait(collectors: tuple[Collector, ...], ev: Event) -> None:
    """*ev*'s data must be a dict made for it alone (keyword arguments are)."""
    if len(collectors) == 1:
        collectors[0]._put_nowait(ev, True)
        return
    for c in collectors:
        c._put_nowait(own_copy(ev), True)


async def offer(collectors: tuple[Collector, ...], ev: Event) -> None:
    """Offer to every collector, waiting only where a mailbox is full."""
    single = len(collectors) == 1
    for c in collectors:
        await c._put(ev if single else own_copy(ev), None, True)


# ------------------------------------------------------------ done awaitables
#
# ``async with`` awaits what __aenter__ and __aexit__ return.  A coroutine
# costs a frame every time; an asyncio future that is already done costs
# none: awaiting it hands back its result at once, in C, without touching
# its loop -- so it works under any running loop, from any thread.  The
# methods that never wait return one of those, made once, on first use
# under a running asyncio loop (without one, a plain coroutine).

_T = TypeVar("_T")
_EXITED: asyncio.Future[None] | None = None


def _done(value: _T) -> asyncio.Future[_T] | None:
    try:
        fut: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
    except RuntimeError:
        return None
    fut.set_result(value)
    return fut


async def _now(value: _T) -> _T:
    return value


def _exited() -> Awaitable[None]:
    """What ``__aexit__`` returns: a done future holding None."""
    global _EXITED
    if _EXITED is None:
        _EXITED = _done(None)
    return _EXITED if _EXITED is not None else _now(None)


class Span:
    """An open span: what ``with`` / ``async with asynctrace.span(...)`` binds.

    Entering emits ``{kind}.start``, leaving emits ``{kind}.stop`` with
    ``duration_ns`` and ``status`` -- on every exit path.  Neither raises
    into the traced code.  ``async with`` waits only while a collector's
    mailbox is full, and only on entry: a span whose start was accepted
    always gets its stop written (past the bound if need be), and one whose
    start was shed has its stop shed too, so a file never holds half a
    pair.  Cancelled while entering, the span never starts: nothing is
    written and it never becomes current.

    A span may be closed in another task or context than the one that
    opened it: the current-span ContextVar is restored only where this span
    is current, so no other task's state is touched, and a stopped span
    that stays current somewhere never becomes a parent (its nearest open
    ancestor does).
    """

    __slots__ = (
        "__weakref__",
        "_attrs",
        "_children",
        "_collectors",
        "_fast_stop",
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
        self,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        collectors: tuple[Collector, ...],
        given: tuple[Span | None, TraceParent | None] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        names = _NAMES.get(kind)
        self._names = names if names is not None else span_names(kind)
        self._collectors = collectors
        # agent_id is a top-level field of the schema, not data.
        if "agent_id" in attrs:
            agent_id = attrs.pop("agent_id")
            if agent_id is not None and not isinstance(agent_id, str):
                raise TypeError(f"agent_id must be a str, got {type(agent_id).__name__}")
            self.agent_id: str | None = agent_id
        else:
            self.agent_id = None
        self._attrs = attrs
        self._children: list[str] | None = None
        self._given_parent = given
        # The remote W3C parent this span (or an ancestor) continues, if any.
        self.remote: TraceParent | None = None
        self._stopped = False
        # Set by a collector whose built-in steps passed the start unchanged.
        self._fast_stop = False
        self.span_id = ""
        self.parent_span_id: str | None = None
        self.start_ts_ns = 0
        # _parent and _start_mono are set on entry: nothing reads them before.

    def __repr__(self) -> str:
        return f"<Span {self.kind}:{self.name} {self.span_id or 'unstarted'}>"

    # --------------------------------------------------------------- start / stop

    def _begin(self) -> Event:
        given = self._given_parent
        if given is None:
            parent = get_current_span()
            if parent is not None:
                if parent._stopped:
                    parent = parent._open_ancestor()
                if parent is not None:
                    self.remote = parent.remote
                    self.parent_span_id = parent.span_id
        else:
            parent = self._start_under(given)
        self._parent = parent
        self.span_id = sid = new_span_id()
        # One clock read: the start's wall time and the duration's origin (_clock).
        self._start_mono = mono = monotonic_ns()
        self.start_ts_ns = ts = mono + _clock.offset_ns
        data = self._attrs
        name = self.name
        data["name"] = name
        self._attrs = {"name": name}  # from now on: what set() adds to the stop
        return Event(
            ts_ns=ts,
            event=self._names[0],
            span_id=sid,
            parent_span_id=self.parent_span_id,
            agent_id=self.agent_id,
            data=data,
        )

    def _open_ancestor(self) -> Span | None:
        """The nearest ancestor of this (stopped) span that is still open."""
        parent = self._parent
        while parent is not None and parent._stopped:
            parent = parent._parent
        return parent

    def _end(self, exc: BaseException | None) -> Event | None:
        if self._stopped or not self.span_id:
            return None
        self._stopped = True
        # Keep only an open ancestor: a finished span must not keep finished
        # ones alive, yet must still know whom to hand its children to.
        parent = self._parent
        if parent is not None and parent._stopped:
            self._parent = parent._open_ancestor()
        # The current-span ContextVar is left as it is: a stopped span that
        # is current is never a parent (readers take its nearest open
        # ancestor), and not setting it back saves a ContextVar.set -- a new
        # context mapping -- per span.  Closing a collector settles it.
        # The stop owns that dict from now on (it is not copied again on the
        # way to the mailbox): set() -- and so an llm span's usage() -- no
        # longer writes to it once the span is stopped.
        data = self._attrs
        status = "ok" if exc is None else status_of(exc)
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
        # One clock read (see _clock): the stop is exactly its start plus its
        # duration, so a child never appears to stop after its parent.
        mono = monotonic_ns()
        return Event(
            ts_ns=mono + _clock.offset_ns,
            event=self._names[1],
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            duration_ns=mono - self._start_mono,
            status=status,
            agent_id=self.agent_id,
            data=data,
        )

    def _unfinished_stop(self) -> Event:
        """The stop a closing collector writes for a span still open in it.

        The span itself stays open for its other collectors; its real stop
        reaches this one later and is shed as ``closed``.
        """
        return self._stop_event("cancelled", {**self._attrs, "unfinished": True})

    def _deliver_stop(self, ev: Event) -> None:
        collectors = self._collectors
        if len(collectors) == 1:
            collectors[0]._stop(self, ev, self._fast_stop and len(ev.data) == 1)
            return
        for c in collectors:
            c._stop(self, own_copy(ev))

    def __enter__(self) -> Self:
        ev = self._begin()
        collectors = self._collectors
        if len(collectors) == 1:
            collectors[0]._start(self, ev, False)
        else:
            for c in collectors:
                c._start(self, own_copy(ev), False)
        set_current_span(self)
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ev = self._end(exc)
        if ev is not None:
            self._deliver_stop(ev)

    async def __aenter__(self) -> Self:
        ev = self._begin()
        collectors = self._collectors
        if len(collectors) == 1:
            c = collectors[0]
            waiting = c._start(self, ev, True)
            if waiting is not None:
                try:
                    await c._start_wait(self, waiting)
                except BaseException:
                    self._stopped = True  # never started: never anyone's parent
                    raise
        else:
            await self._start_many(ev)
        set_current_span(self)
        return self

    async def _start_many(self, ev: Event) -> None:
        started: list[Collector] = []
        try:
            for c in self._collectors:
                waiting = c._start(self, own_copy(ev), True)
                if waiting is not None:
                    await c._start_wait(self, waiting)
                started.append(c)
        except BaseException:
            # Cancelled half-way: where the start got in, the span ends at once.
            self._stopped = True
            stop = self._unfinished_stop()
            for c in started:
                c._stop(self, own_copy(stop))
            raise

    def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Awaitable[None]:
        # Never waits: a started span's stop goes in past the mailbox's bound,
        # here, in the call; what is awaited is already done (see _exited).
        ev = self._end(exc)
        if ev is not None:
            collectors = self._collectors
            if len(collectors) == 1:  # _deliver_stop's common case, one call less
                # Nothing but the name (set() and errors add keys): as it started.
                collectors[0]._stop(self, ev, self._fast_stop and len(ev.data) == 1)
            else:
                self._deliver_stop(ev)
        fut = _EXITED
        return fut if fut is not None else _exited()

    # --------------------------------------------------------------- the handle

    def set(self, **attrs: Any) -> None:
        """Add attributes to the ``{kind}.stop`` event (ignored once it is stopped)."""
        if self._stopped:
            return
        self._fast_stop = False  # set(name=...) could change the one key the stop has
        self._attrs.update(attrs)

    def event(self, name: str, **data: Any) -> None:
        """Emit a point event inside this span (never waits; sheds when full).

        Every keyword goes under ``data`` as it is.
        """
        ev = Event(
            ts_ns=_clock.now_ns(),
            event=check_event_name(name),
            parent_span_id=self.span_id or None,
            data=data,
        )
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

    # Made on first use (see _exited): the one awaitable __aenter__ returns.
    _entered: ClassVar[Awaitable[Any] | None] = None

    def __aenter__(self) -> Awaitable[Self]:
        fut = self._entered
        return fut if fut is not None else self._enter_first()

    def _enter_first(self) -> Awaitable[Self]:
        fut = _done(self)
        if fut is None:
            return _now(self)
        type(self)._entered = fut  # each no-op class has one instance
        return fut

    def __aexit__(self, *exc: object) -> Awaitable[None]:
        fut = _EXITED
        return fut if fut is not None else _exited()

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
    collectors = get_collectors()
    if not collectors:
        # Misuse is loud with tracing off too.
        if kind not in _NAMES:
            span_names(kind)
        if parent is not None:
            resolve_span_parent(parent)
        return NOOP_SPAN
    given = None if parent is None else resolve_span_parent(parent)
    if type(name) is not str:
        raise TypeError(f"span name must be a str, got {type(name).__name__}")
    return Span(name, kind, attrs, collectors, given)


def settle_current() -> None:
    """Make this context's current span an open one (or ``None``).

    Spans leave the ContextVar pointing at themselves when they stop (see
    ``Span._end``); a closing collector calls this so that the context does
    not keep a stopped span -- and the closed collector it names -- alive.
    """
    current = get_current_span()
    if current is not None and current._stopped:
        CURRENT_SPAN.set(current._open_ancestor())


def current_span() -> Span | None:
    """The span current in this context, or ``None`` (never a stopped span)."""
    current = get_current_span()
    if current is not None and current._stopped:
        return current._open_ancestor()
    return current
