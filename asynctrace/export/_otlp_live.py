"""``OTLPExporter``: streams a running trace's spans to an OTLP endpoint.

It satisfies ``asynctrace.export.Exporter``: ``submit`` (on the event loop)
only pairs events into spans and appends them to a bounded queue; a thread
of its own turns them into OpenTelemetry spans and hands batches to
OpenTelemetry's ``OTLPSpanExporter``, which blocks, retries and backs off
there.  Spans that do not fit in the queue, or whose batch failed, are
counted as dropped; failed batches as errors; both are logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._events._schema import Event
from .._runtime._exporter import ExportCounts
from ._otlp import FileContext, SpanAssembler, SpanRecord, to_readable_span
from ._otlp_endpoint import otlp_span_exporter

log = logging.getLogger("asynctrace")

class OTLPExporter:
    """Live OTLP export: ``collector(..., exporters=[OTLPExporter(endpoint=...)])``.

    Args:
        endpoint: the OTLP traces URL (``http://host:4318/v1/traces``; for
            gRPC ``host:4317``); default from ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
            / ``OTEL_EXPORTER_OTLP_ENDPOINT``.
        protocol: ``http/protobuf`` or ``grpc``; default ``OTEL_EXPORTER_OTLP_PROTOCOL``.
        headers, timeout, compression: passed to OpenTelemetry's exporter
            (default: its ``OTEL_EXPORTER_OTLP_*`` variables).
        service_name: the resource's ``service.name``; default
            ``OTEL_SERVICE_NAME``, else the trace's producer, else ``asynctrace``.
        max_queue_spans: finished spans waiting for the thread; more are dropped (counted).
        max_batch_spans: spans per ``export()`` call.
        span_exporter: any OpenTelemetry ``SpanExporter`` to use instead.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        service_name: str | None = None,
        max_queue_spans: int = 2048,
        max_batch_spans: int = 512,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        for name, value in (("max_queue_spans", max_queue_spans), ("max_batch_spans", max_batch_spans)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if span_exporter is not None and not isinstance(span_exporter, SpanExporter):
            raise TypeError("span_exporter must be an opentelemetry SpanExporter")
        self._exporter = span_exporter or otlp_span_exporter(
            endpoint, protocol=protocol, headers=headers, timeout=timeout, compression=compression
        )
        self._service_name = service_name
        self._max_queue = max_queue_spans
        self._max_batch = max_batch_spans
        self._cond = threading.Condition()
        self._queue: deque[SpanRecord] = deque()
        self._closing = False
        self._closed = False
        self._errors = 0
        self._dropped = 0
        self._inflight = 0
        self._warned = False
        self._assembler: SpanAssembler | None = None
        self._context: FileContext | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<asynctrace.export.OTLPExporter {type(self._exporter).__name__}>"

    # -- the Exporter protocol (loop side) -------------------------------------

    def open(self, start: Event) -> None:
        """Start the export thread for the trace whose ``trace.start`` is *start*."""
        if self._thread is not None:
            raise RuntimeError("an OTLPExporter serves one trace; make one per collector")
        self._context = FileContext(start, service_name=self._service_name)
        self._assembler = SpanAssembler(start)
        self._thread = threading.Thread(target=self._run, name="asynctrace-otlp", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[Event]) -> None:
        """Pair the written events into spans and queue the finished ones (never blocks)."""
        assembler = self._assembler
        if assembler is None:
            raise RuntimeError("OTLPExporter.submit() before open()")
        finished: list[SpanRecord] = []
        for ev in events:
            finished.extend(assembler.feed(ev))
        if finished:
            self._enqueue(finished)

    def close(self, timeout_s: float) -> ExportCounts:
        """Export what is pending within *timeout_s*; return what could not be delivered."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        thread = self._thread
        if thread is None or self._closed:
            return self._counts()
        if self._assembler is not None:
            # Spans still open when the trace closes, as the file shows them.
            self._enqueue(self._assembler.finish())
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        # Leave a little of the budget to abort OpenTelemetry's retry wait.
        thread.join(max(0.0, (deadline - time.monotonic()) * 0.8))
        if thread.is_alive():
            self._shutdown_exporter()
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._closed = True
            # Whatever did not go out in time is lost to the endpoint (never to the file).
            lost = len(self._queue) + self._inflight
            self._queue.clear()
            self._inflight = 0
            if lost:
                self._dropped += lost
                self._warn_once("asynctrace: OTLP export did not finish in %.1fs; %d spans dropped", timeout_s, lost)
        if not thread.is_alive():
            self._shutdown_exporter()
        return self._counts()

    # -- the export thread ------------------------------------------------------

    def _enqueue(self, records: list[SpanRecord]) -> None:
        with self._cond:
            if self._closed:
                self._dropped += len(records)
                return
            room = self._max_queue - len(self._queue)
            if room < len(records):
                over = len(records) - max(room, 0)
                self._dropped += over
                records = records[: max(room, 0)]
                self._warn_once("asynctrace: OTLP export queue full (%d spans); dropping", self._max_queue)
            self._queue.extend(records)
            self._cond.notify()

    def _take(self) -> list[SpanRecord] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue or self._closed:
                return None
            n = min(self._max_batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            self._inflight = n
            return batch

    def _run(self) -> None:
        ctx = self._context
        assert ctx is not None
        while (batch := self._take()) is not None:
            ok = False
            try:
                spans = [to_readable_span(r, ctx.resource, ctx.tracestate) for r in batch]
                ok = self._exporter.export(spans) == SpanExportResult.SUCCESS
                problem: Any = "the endpoint did not accept the batch"
            except Exception as exc:  # the observer never breaks the observed
                problem = exc
            with self._cond:
                if self._closed:  # close() has already counted this batch
                    return
                self._inflight = 0
                if not ok:
                    self._errors += 1
                    self._dropped += len(batch)
                    self._warn_once("asynctrace: OTLP export failed (%s); %d spans dropped", problem, len(batch))

    def _shutdown_exporter(self) -> None:
        try:
            self._exporter.shutdown()
        except Exception as exc:
            self._warn_once("asynctrace: OTLP exporter shutdown failed: %s", exc)

    def _warn_once(self, msg: str, *args: Any) -> None:
        if not self._warned:
            self._warned = True
            log.warning(msg + " (logged once per trace)", *args)

    def _counts(self) -> ExportCounts:
        with self._cond:
            return ExportCounts(errors=self._errors, dropped=self._dropped)
