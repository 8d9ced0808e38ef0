"""``asynctrace.collector(...)``: validating the options and running the actor."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import anyio

from .._agent._summary import SummaryBuilder
from .._context import _state
from .._context._span import settle_current
from .._context._w3c import FLAG_SAMPLED
from .._events._schema import TRACE_START, Counts, Event
from .._processing._filters import KindFilter
from .._processing._pipeline import Pipeline, Processor
from .._processing._redact import Redactor
from .._processing._sanitize import Sanitizer
from .._storage._compress import check_compress
from .._storage._retention import Retention, resolve_retention
from .._storage._rotation import check_max_file_bytes
from ._collector import Collector, build_start_data
from ._exporter import Exporter, check_exporters
from ._lineage import (
    default_file_name,
    link_to_parent_span,
    resolve_lineage,
    start_links,
)
from ._ops import apply_retention
from ._sink import Sink
from ._stats import Stats, TraceResult

ENV_ENABLED: Final = "ASYNCTRACE"
ENV_DIR: Final = "ASYNCTRACE_DIR"
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


def tracing_enabled_by_env() -> bool:
    """``ASYNCTRACE=0`` (or false/no/off) turns tracing off process-wide."""
    return os.environ.get(ENV_ENABLED, "1").strip().lower() not in _FALSE


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def sampled_by_ratio(trace_id: str, ratio: float) -> bool:
    """Keep a trace if the low 56 bits of its (random) id fall under *ratio*.

    Deterministic in the trace id, so every process that sees the same id
    makes the same decision.
    """
    if ratio >= 1.0:
        return True
    return int(trace_id[-14:], 16) < ratio * (1 << 56)


class DisabledTrace:
    """What ``as trace`` binds when tracing is off or the trace was not sampled.

    Same surface as a real trace; every emit is dropped at once and nothing
    is written.  ``emit_nowait`` returns ``False`` so callers can tell.
    """

    def __init__(self, trace_id: str, reason: str, file_id: str = "") -> None:
        self.trace_id = trace_id
        self.file_id = file_id
        self.path: Path | None = None
        self.sink = _NullSink()
        self._reason = reason

    async def flush(self, timeout: float | None = None) -> bool:
        await anyio.lowlevel.checkpoint()
        return True

    def stats(self) -> Stats:
        return Stats(counts=Counts(), queued=0, state="disabled")

    @property
    def result(self) -> TraceResult:
        return TraceResult(path=None, trace_id=self.trace_id, counts=Counts(), reason=self._reason)


class _NullSink(Sink):
    __slots__ = ()

    def __init__(self) -> None:
        pass

    async def emit(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        await anyio.lowlevel.checkpoint()
        return False

    def emit_nowait(self, event: Mapping[str, Any]) -> bool:
        return False

    def emit_from_thread(self, event: Mapping[str, Any], *, timeout: float | None = None) -> bool:
        return False


class collector:
    """Open a trace: ``async with asynctrace.collector(...) as trace:``.

    The block owns a writer task (in an anyio task group) and a JSONL file.
    Leaving the block -- normally, by an exception, or by cancellation --
    drains every accepted event and ends the file with ``trace.stop``.
    See docs/shutdown.md for every exit path.

    Args:
        path: the trace file.  Default:
            ``{trace_dir}/{YYYY-MM-DD_HH-MM-SS}_{trace_id}_{file_id}.jsonl``.
        trace_dir: default directory; else ``$ASYNCTRACE_DIR``, else ``./traces``.
        trace_id: 32 lowercase hex characters; by default the parent's (a
            continued trace) or random.  Giving one restarts the trace.
        trace_kind, producer, label, model, query, meta: written in ``trace.start``.
        max_mailbox_len: mailbox bound; ``emit_nowait`` sheds beyond it, ``emit`` waits.
        max_mailbox_bytes: the same bound in (estimated) bytes, default 64 MiB.
        max_event_bytes: an encoded event above this is replaced by ``trace.event_omitted``.
        enabled: ``False`` disables; ``None`` follows ``$ASYNCTRACE`` (off for 0/false/no/off).
        sample_ratio: head sampling, decided per trace from its id; children follow the parent.
        parent: a ``traceparent`` string, ``TraceParent`` or ``asynctrace.capture()`` result
            whose trace this file continues (its trace id, flags and tracestate);
            default ``$TRACEPARENT`` (and ``$TRACESTATE``).
        processors: user processors, run after redaction and sanitization.
        redact: ``True`` (default rules), ``False``, or a configured ``Redactor``.
        max_string_bytes, max_items, max_depth: sanitizer limits.
        include, exclude: event kinds to keep or drop (the part before the first dot).
        batch_size, batch_bytes: the writer writes when a batch reaches either, or when idle.
        fsync: also fsync after errors, checkpoints and at close.
        shutdown_timeout: seconds the close path waits for the writer before
            writing the rest synchronously (and, separately, for exporters).
        exporters: live exporters (``asynctrace.export.Exporter``), each handed
            every batch right after it reached the file.
        retention: an ``asynctrace.Retention`` applied to the trace file's
            directory once the file is open (on a worker thread; the new
            trace is never deleted); default ``$ASYNCTRACE_RETENTION``, else off.
        compress: ``"gzip"`` compresses the file once closed (the result's
            ``path`` then ends in ``.gz``); ``None`` (default) leaves it plain.
        max_file_bytes: rotate by size: when the next line would take the file
            past this many bytes, end it with a ``trace.stop`` (reason
            ``rotated``) and go on in a next part file of the same trace
            (docs/operations.md); ``None`` (default): one file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        trace_dir: str | os.PathLike[str] | None = None,
        trace_id: str | None = None,
        trace_kind: str | None = None,
        producer: str | None = None,
        label: str | None = None,
        model: str | None = None,
        query: str | None = None,
        meta: Mapping[str, Any] | None = None,
        max_mailbox_len: int = 10_000,
        max_mailbox_bytes: int = 64 << 20,
        max_event_bytes: int = 1_048_576,
        enabled: bool | None = None,
        sample_ratio: float = 1.0,
        parent: Any = None,
        processors: Sequence[Processor] = (),
        redact: bool | Redactor = True,
        max_string_bytes: int = 65_536,
        max_items: int = 100,
        max_depth: int = 16,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        batch_size: int = 512,
        batch_bytes: int = 262_144,
        fsync: bool = False,
        shutdown_timeout: float = 10.0,
        exporters: Sequence[Exporter] = (),
        retention: Retention | None = None,
        compress: str | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self._max_mailbox_len = _positive_int("max_mailbox_len", max_mailbox_len)
        self._max_mailbox_bytes = _positive_int("max_mailbox_bytes", max_mailbox_bytes)
        self._exporters = check_exporters(exporters)
        self._retention = resolve_retention(retention)
        self._compress = check_compress(compress)
        self._max_file_bytes = check_max_file_bytes(max_file_bytes)
        self._max_event_bytes = _positive_int("max_event_bytes", max_event_bytes)
        if self._max_event_bytes < 256:
            raise ValueError("max_event_bytes must be at least 256 (room for trace.event_omitted)")
        self._batch_size = _positive_int("batch_size", batch_size)
        self._batch_bytes = _positive_int("batch_bytes", batch_bytes)
        if not 0.0 <= sample_ratio <= 1.0:
            raise ValueError(f"sample_ratio must be within [0, 1], got {sample_ratio!r}")
        if shutdown_timeout <= 0:
            raise ValueError("shutdown_timeout must be > 0")
        if meta is not None and not isinstance(meta, Mapping):
            raise TypeError("meta must be a mapping")
        for name, proc in enumerate(processors):
            if not callable(proc):
                raise TypeError(f"processors[{name}] is not callable: {proc!r}")
        self._lineage = lineage = resolve_lineage(parent, trace_id)
        self._trace_id = lineage.trace_id
        self._explicit_parent = parent is not None
        self._saved: tuple[Any, Any] | None = None
        self._enabled = tracing_enabled_by_env() if enabled is None else bool(enabled)
        if not lineage.parent_sampled:
            self._sampled = False
        else:
            self._sampled = sampled_by_ratio(self._trace_id, sample_ratio)

        self._path = None if path is None else Path(path)
        self._trace_dir = trace_dir
        self._start_kwargs: dict[str, Any] = {
            "trace_kind": trace_kind,
            "producer": producer,
            "label": label,
            "model": model,
            "query": query,
            "meta": dict(meta or {}),
        }
        if isinstance(redact, Redactor):
            redactor: Redactor | None = redact
        elif redact:
            redactor = Redactor()
        else:
            redactor = None
        chain: list[Processor] = []
        if redactor is not None:
            chain.append(redactor)
        chain.append(
            Sanitizer(max_string_bytes=max_string_bytes, max_items=max_items, max_depth=max_depth)
        )
        if include is not None or exclude is not None:
            chain.append(KindFilter(include=include, exclude=exclude))
        chain.extend(processors)
        self._chain = chain
        self._fsync = fsync
        self._shutdown_timeout = float(shutdown_timeout)
        self._trace: Collector | DisabledTrace | None = None

    def _resolve_path(self) -> Path:
        if self._path is not None:
            path = self._path
        else:
            base = self._trace_dir or os.environ.get(ENV_DIR) or "traces"
            stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime())
            path = Path(base) / default_file_name(stamp, self._lineage)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    async def __aenter__(self) -> Collector | DisabledTrace:
        if self._trace is not None:
            raise RuntimeError("a collector() object can be entered only once")
        _require_asyncio()
        if not self._enabled or not self._sampled:
            disabled = DisabledTrace(
                self._trace_id,
                "disabled" if not self._enabled else "not_sampled",
                self._lineage.file_id,
            )
            self._trace = disabled
            if not self._sampled:
                # Keep the decision so capture() hands it to child traces.
                _state.UNSAMPLED.set(self._lineage.unsampled_context())
            await anyio.lowlevel.checkpoint()
            return disabled
        lineage = self._lineage
        pipeline = Pipeline(self._chain)
        start_data = build_start_data(
            **self._start_kwargs,
            max_event_bytes=self._max_event_bytes,
            max_mailbox_len=self._max_mailbox_len,
            redact=lambda supplied: _redact_supplied(pipeline, supplied),
        )
        start_data.update(start_links(lineage))
        trace = Collector(
            path=self._resolve_path(),
            trace_id=self._trace_id,
            start_data=start_data,
            pipeline=pipeline,
            max_mailbox_len=self._max_mailbox_len,
            max_mailbox_bytes=self._max_mailbox_bytes,
            max_event_bytes=self._max_event_bytes,
            batch_size=self._batch_size,
            batch_bytes=self._batch_bytes,
            fsync=self._fsync,
            shutdown_timeout=self._shutdown_timeout,
            parent_span_id=lineage.parent_span_id,
            exporters=self._exporters,
            summary=SummaryBuilder(),
            file_id=lineage.file_id,
            trace_flags=lineage.flags | FLAG_SAMPLED,
            tracestate=lineage.tracestate,
            compress=self._compress,
            max_file_bytes=self._max_file_bytes,
        )
        # The file first: an OSError reaches the caller as itself, not in a group.
        await trace._open()
        if self._retention is not None:
            try:
                # trace.start on disk first: the cleanup must recognise the
                # new file as a trace (it counts towards max_files, and is open).
                await trace.flush()
                await apply_retention(trace.path.parent, self._retention)
            except BaseException as exc:  # cancelled meanwhile: the file still gets its stop
                await trace._close(exc)
                raise
        link_to_parent_span(lineage)
        self._trace = trace
        if self._explicit_parent:
            # A linked child trace is a trace of its own: inside it, events go
            # to the child only (not fanned out to the enclosing collectors),
            # and its spans are roots of the child's tree.
            self._saved = (_state.COLLECTORS.get(), _state.CURRENT_SPAN.get())
            _state.COLLECTORS.set((trace,))
            _state.CURRENT_SPAN.set(None)
        else:
            _state.push_collector(trace)
        return trace

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        trace = self._trace
        if isinstance(trace, DisabledTrace):
            if not self._sampled:
                _state.UNSAMPLED.set(None)
            return None
        assert isinstance(trace, Collector)
        if self._saved is not None:
            if _state.COLLECTORS.get() == (trace,):
                _state.COLLECTORS.set(self._saved[0])
                _state.CURRENT_SPAN.set(self._saved[1])
            self._saved = None
        else:
            _state.pop_collector(trace)
        settle_current()
        await trace._close(exc)
        return None


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "asynctrace.collector() needs a running asyncio event loop (it is asyncio-native; "
            "under anyio use the asyncio backend: anyio.run(main, backend='asyncio'), "
            "not trio)"
        ) from None


def _redact_supplied(pipeline: Pipeline, supplied: dict[str, Any]) -> dict[str, Any]:
    """What the caller put in trace.start, through the same redaction and
    sanitizing every event gets (not user processors or kind filters:
    trace.start is written whatever they would decide)."""
    ev = Event(ts_ns=0, event=TRACE_START, data=supplied)
    for proc in pipeline.processors:
        if isinstance(proc, Redactor | Sanitizer):
            try:
                ev = proc(ev)
            except Exception:
                # Never write what could not be checked.
                return dict.fromkeys(supplied)
    return ev.data
