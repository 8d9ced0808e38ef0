"""asynctrace: an asyncio-native tracing runtime for agents and async programs.

Everything public is re-exported here from private modules; the layout of
the package mirrors the architecture:

* ``_events``     -- the on-disk schema, ids, the shared msgspec codec
* ``_runtime``    -- the collector actor: mailbox, writer, shutdown hooks
* ``_context``    -- spans and their propagation (contextvars, threads, processes)
* ``_processing`` -- the caller-side processor chain: redact, sanitize, filter
* ``_agent``      -- agent vocabulary, prices, the running summary
* ``_reading``    -- the streaming reader, trees and views
* ``_cli``        -- the ``asynctrace`` command
"""

from ._context._propagation import (
    Context,
    attach,
    capture,
    child_environ,
    current_trace,
    emit,
    emit_nowait,
    inject,
    wrap,
)
from ._context._span import NoopSpan, Span, current_span, span
from ._context._traced import traced
from ._context._w3c import TraceParent, extract, parse_traceparent
from ._events._schema import SCHEMA_VERSION, Counts, Event, ShedCounts
from ._runtime._collector import Collector
from ._runtime._open import DisabledTrace, collector
from ._runtime._sink import Sink
from ._runtime._stats import Stats, TraceResult
from ._version import __version__

# The trio-style name for what owns a task: ``async with asynctrace.open_collector(...)``.
open_collector = collector

__all__ = [
    "SCHEMA_VERSION",
    "Collector",
    "Context",
    "Counts",
    "DisabledTrace",
    "Event",
    "NoopSpan",
    "ShedCounts",
    "Sink",
    "Span",
    "Stats",
    "TraceParent",
    "TraceResult",
    "__version__",
    "attach",
    "capture",
    "child_environ",
    "collector",
    "current_span",
    "current_trace",
    "emit",
    "emit_nowait",
    "extract",
    "inject",
    "open_collector",
    "parse_traceparent",
    "span",
    "traced",
    "wrap",
]
