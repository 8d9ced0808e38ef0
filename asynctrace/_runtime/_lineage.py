"""Where a trace file sits in a distributed trace (schema v2).

A trace id is the W3C trace id shared by every file, process and service of
one distributed trace; each file has its own ``file_id``.  A collector
opened with ``parent=`` (or ``TRACEPARENT`` in a child process) continues
its parent's trace; only an explicit ``trace_id=`` restarts it.  The links
go both ways: the child's ``trace.start`` names the parent span and file,
the parent span's stop names the child file (``child_file_id``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .._context._propagation import ENV_CHILD_FILE_ID, ENV_PARENT_FILE_ID, Context
from .._context._w3c import FLAG_RANDOM, FLAG_SAMPLED, TraceParent, parse_traceparent
from .._events._ids import check_trace_id, is_file_id, new_file_id, new_span_id, new_trace_id

if TYPE_CHECKING:
    from .._context._span import Span

ENV_TRACEPARENT: Final = "TRACEPARENT"
ENV_TRACESTATE: Final = "TRACESTATE"


class Lineage(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    file_id: str
    flags: int
    """The W3C trace-flags this trace sends on (``sampled`` as decided by the parent)."""
    tracestate: str | None = None
    parent_trace_id: str | None = None
    """The remote parent's trace id, when there is a parent."""
    parent_span_id: str | None = None
    parent_file_id: str | None = None
    parent_sampled: bool = True
    link_span: Any = None
    """The in-process ``Span`` to record ``child_file_id`` on (``parent=capture()``)."""

    @property
    def has_parent(self) -> bool:
        return self.parent_trace_id is not None

    def unsampled_context(self) -> TraceParent:
        """What ``capture()`` hands on when this trace is not recorded."""
        return TraceParent(
            self.trace_id,
            self.parent_span_id or new_span_id(),
            self.flags & ~FLAG_SAMPLED,
            self.tracestate,
        )


def _from_argument(parent: Any) -> tuple[TraceParent | None, Context | None]:
    if isinstance(parent, TraceParent):
        return parent, None
    if isinstance(parent, str):
        parsed = parse_traceparent(parent)
        if parsed is None:
            raise ValueError(f"parent is not a valid W3C traceparent: {parent!r}")
        return parsed, None
    if isinstance(parent, Context):
        return parent.traceparent, parent
    raise TypeError(
        f"parent must be a traceparent string, a TraceParent or asynctrace.capture(), got {parent!r}"
    )


def _env_file_id(name: str, *, consume: bool) -> str | None:
    value = os.environ.pop(name, None) if consume else os.environ.get(name)
    return value if is_file_id(value) else None


def resolve_lineage(parent: Any, trace_id: str | None) -> Lineage:
    """The trace id, file id and links of a collector opened with these arguments.

    With no *parent*, ``$TRACEPARENT`` (and ``$TRACESTATE``) are the parent;
    then ``$ASYNCTRACE_FILE_ID`` -- the id ``child_environ()`` already
    recorded on the parent span -- is consumed so a second collector in the
    same process gets a fresh one, and ``$ASYNCTRACE_PARENT_FILE_ID`` names
    the parent's file.
    """
    file_id: str | None = None
    parent_file_id: str | None = None
    link_span: Span | None = None
    parent_span_id: str | None = None
    if parent is None:
        env = os.environ.get(ENV_TRACEPARENT)
        remote = parse_traceparent(env, os.environ.get(ENV_TRACESTATE)) if env else None
        if remote is not None:
            file_id = _env_file_id(ENV_CHILD_FILE_ID, consume=True)
            parent_file_id = _env_file_id(ENV_PARENT_FILE_ID, consume=False)
            parent_span_id = remote.span_id
    else:
        remote, ctx = _from_argument(parent)
        if ctx is not None:
            link_span = ctx.span
            parent_span_id = ctx.span.span_id if ctx.span is not None else None
            if ctx.collectors:
                parent_file_id = ctx.collectors[-1].file_id or None
        elif remote is not None:
            parent_span_id = remote.span_id
    if trace_id is not None:
        # An explicit id restarts the trace: its tracestate is not carried over.
        tid = check_trace_id(trace_id)
        flags, tracestate = FLAG_SAMPLED, None
    elif remote is not None:
        tid, flags, tracestate = remote.trace_id, remote.flags, remote.tracestate
    else:
        # Our ids are uniformly random, so the level 2 random flag holds.
        tid, flags, tracestate = new_trace_id(), FLAG_SAMPLED | FLAG_RANDOM, None
    return Lineage(
        trace_id=tid,
        file_id=file_id or new_file_id(),
        flags=flags,
        tracestate=tracestate,
        parent_trace_id=remote.trace_id if remote is not None else None,
        parent_span_id=parent_span_id,
        parent_file_id=parent_file_id,
        parent_sampled=remote.sampled if remote is not None else True,
        link_span=link_span,
    )


def start_links(lineage: Lineage) -> dict[str, Any]:
    """The schema v2 keys of ``trace.start`` data for this file."""
    data: dict[str, Any] = {"file_id": lineage.file_id}
    if lineage.has_parent:
        if lineage.parent_trace_id != lineage.trace_id:
            data["parent_trace_id"] = lineage.parent_trace_id
        if lineage.parent_span_id is not None:
            data["parent_span_id"] = lineage.parent_span_id
        if lineage.parent_file_id is not None:
            data["parent_file_id"] = lineage.parent_file_id
        if lineage.tracestate is not None:
            data["tracestate"] = lineage.tracestate
        data["sampled"] = True
    return data


def default_file_name(stamp: str, lineage: Lineage) -> str:
    """``{date}_{trace_id}_{file_id}.jsonl``: files of one trace sort together."""
    return f"{stamp}_{lineage.trace_id}_{lineage.file_id}.jsonl"


def link_to_parent_span(lineage: Lineage) -> None:
    """Record this file on the in-process span it continues (``child_file_id``)."""
    if lineage.link_span is not None:
        lineage.link_span.link_child(lineage.file_id)
