"""Carrying trace context where contextvars do not go by themselves.

asyncio tasks, TaskGroups, ``gather``, ``asyncio.to_thread``, anyio task
groups and ``anyio.to_thread.run_sync`` all copy the current context, so
spans and collectors follow them with no help.  ``loop.run_in_executor``,
``threading.Thread`` and other processes need ``capture()`` plus
``attach()``, ``wrap()`` or ``child_environ()``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .._events._ids import new_file_id, new_span_id
from .._events._mapping import point_event
from .._events._schema import Event
from ._span import Span, current_span, offer, offer_nowait
from ._state import COLLECTORS, CURRENT_SPAN, UNSAMPLED, get_collectors
from ._w3c import FLAG_SAMPLED, TraceParent, inject_parent

if TYPE_CHECKING:
    from .._runtime._collector import Collector

P = ParamSpec("P")
R = TypeVar("R")

# What a child process's collector needs beyond TRACEPARENT to link its file
# both ways (schema v2): its own file id, recorded by the parent span as
# child_file_id, and the parent's file id.
ENV_CHILD_FILE_ID = "ASYNCTRACE_FILE_ID"
ENV_PARENT_FILE_ID = "ASYNCTRACE_PARENT_FILE_ID"


class Context:
    """A captured trace context: the open collectors and the current span.

    Holds only asynctrace's own values, not a copy of the whole
    ``contextvars`` context, so capturing never keeps unrelated objects alive.
    """

    __slots__ = ("collectors", "span", "unsampled")

    def __init__(
        self,
        collectors: tuple[Collector, ...],
        span: Span | None,
        unsampled: TraceParent | None,
    ) -> None:
        self.collectors = collectors
        self.span = span
        # The context of an enclosing trace that head sampling dropped.
        self.unsampled = unsampled

    def __repr__(self) -> str:
        return f"<asynctrace.Context collectors={len(self.collectors)} span={self.span!r}>"

    @property
    def traceparent(self) -> TraceParent | None:
        """The W3C context to send on (``None`` outside any trace).

        The trace id and ``tracestate`` are the trace's (or those of the
        remote parent given to ``span(parent=...)``), the parent id is the
        current span's, and the flags byte is kept with ``sampled`` set:
        this context is being recorded.
        """
        if self.collectors:
            span = self.span
            remote = span.remote if span is not None else None
            span_id = span.span_id if span is not None else new_span_id()
            if remote is not None:
                return TraceParent(
                    remote.trace_id, span_id, remote.flags | FLAG_SAMPLED, remote.tracestate
                )
            c = self.collectors[-1]
            return TraceParent(c.trace_id, span_id, c.trace_flags | FLAG_SAMPLED, c.tracestate)
        if self.unsampled is not None:
            u = self.unsampled
            return TraceParent(u.trace_id, new_span_id(), u.flags & ~FLAG_SAMPLED, u.tracestate)
        return None


def capture() -> Context:
    """Capture the current trace context, to carry into a thread or process."""
    return Context(COLLECTORS.get(), current_span(), UNSAMPLED.get())


class AttachToken:
    """What ``attach()`` returns: pass it to ``detach()``, or use it as a ``with`` block."""

    __slots__ = ("_ctx", "_detached", "_outer", "_prev")

    def __init__(self, ctx: Context, prev: tuple[Any, Any, Any], outer: AttachToken | None) -> None:
        self._ctx = ctx
        self._prev = prev
        self._outer = outer
        self._detached = False

    def __repr__(self) -> str:
        return f"<asynctrace attach token {'detached' if self._detached else 'attached'}>"

    def __enter__(self) -> Context:
        return self._ctx

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        detach(self)


# The innermost attach() in this context, so detach() can tell misuse.
_ATTACHED: ContextVar[AttachToken | None] = ContextVar("asynctrace.attached", default=None)


def attach(ctx: Context) -> AttachToken:
    """Make *ctx* current in this thread, at once; undo with ``detach(token)``.

    Works both ways::

        token = asynctrace.attach(ctx)      # as OpenTelemetry users write it
        try:
            work()
        finally:
            asynctrace.detach(token)

        with asynctrace.attach(ctx):        # the same, as a block
            work()

    For threads started with ``threading.Thread`` or ``run_in_executor``.
    """
    if not isinstance(ctx, Context):
        raise TypeError(f"attach() takes what capture() returned, got {type(ctx).__name__}")
    token = AttachToken(ctx, (COLLECTORS.get(), CURRENT_SPAN.get(), UNSAMPLED.get()), _ATTACHED.get())
    COLLECTORS.set(ctx.collectors)
    CURRENT_SPAN.set(ctx.span)
    UNSAMPLED.set(ctx.unsampled)
    _ATTACHED.set(token)
    return token


def detach(token: AttachToken) -> None:
    """Undo the ``attach()`` that returned *token*: the previous context comes back.

    Raises ``RuntimeError`` for a token already detached, or one that is not
    the innermost attachment of this context (detach in reverse order, in
    the thread that attached).
    """
    if not isinstance(token, AttachToken):
        raise TypeError(f"detach() takes what attach() returned, got {type(token).__name__}")
    if token._detached:
        raise RuntimeError("this attach() token was already detached")
    if _ATTACHED.get() is not token:
        raise RuntimeError(
            "detach() out of order: this token is not the innermost attach() of this "
            "context (detach in reverse order, in the thread that attached)"
        )
    token._detached = True
    COLLECTORS.set(token._prev[0])
    CURRENT_SPAN.set(token._prev[1])
    UNSAMPLED.set(token._prev[2])
    _ATTACHED.set(token._outer)


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind *fn* to the trace context current now, wherever it is called later.

    For ``loop.run_in_executor(None, asynctrace.wrap(work), arg)`` and
    ``threading.Thread(target=asynctrace.wrap(work))``.
    """
    ctx = capture()

    @functools.wraps(fn)
    def bound(*args: P.args, **kwargs: P.kwargs) -> R:
        with attach(ctx):
            return fn(*args, **kwargs)

    return bound


def current_trace() -> Collector | None:
    """The innermost open collector in this context, or ``None``."""
    collectors = get_collectors()
    return collectors[-1] if collectors else None


def child_environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process whose collector continues this trace.

    Returns a copy of *env* (default ``os.environ``) with ``TRACEPARENT``
    (this trace and the current span; ``TRACESTATE`` too when there is one)
    and, for a recorded trace, ``ASYNCTRACE_FILE_ID`` (the file id the
    child's file will have) and ``ASYNCTRACE_PARENT_FILE_ID`` (this file's).
    The current span records the child's file id as ``child_file_id``, so
    the link exists in both files.
    """
    out = dict(os.environ if env is None else env)
    ctx = capture()
    tp = ctx.traceparent
    for key in ("TRACEPARENT", "TRACESTATE", ENV_CHILD_FILE_ID, ENV_PARENT_FILE_ID):
        out.pop(key, None)
    if tp is None:
        return out
    out["TRACEPARENT"] = tp.header()
    if tp.tracestate:
        out["TRACESTATE"] = tp.tracestate
    if ctx.collectors:
        child_file = new_file_id()
        out[ENV_CHILD_FILE_ID] = child_file
        out[ENV_PARENT_FILE_ID] = ctx.collectors[-1].file_id
        if ctx.span is not None:
            ctx.span.link_child(child_file)
    return out


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write ``traceparent`` (and ``tracestate``) for the current context into *headers*."""
    return inject_parent(capture().traceparent, headers)


def _point_event(name: str, data: dict[str, Any]) -> Event:
    current = current_span()
    return point_event(name, data, None if current is None else current.span_id)


async def emit(name: str, **data: Any) -> None:
    """Send a point event to every active collector, waiting while one is full."""
    collectors = get_collectors()
    if collectors:
        await offer(collectors, _point_event(name, data))


def emit_nowait(name: str, **data: Any) -> None:
    """Send a point event to every active collector; sheds (counted) where full."""
    collectors = get_collectors()
    if collectors:
        offer_nowait(collectors, _point_event(name, data))
