"""asynctrace: an asyncio-native tracing runtime for agents and async programs.

Everything public is re-exported here from private modules; the layout of
the package mirrors the architecture:

* ``_events``     -- the on-disk schema, ids, the shared msgspec codec
* ``_runtime``    -- the collector actor: mailbox, writer, shutdown hooks
* ``_context``    -- spans and their propagation (contextvars, threads, processes)
* ``_processing`` -- the caller-side processor chain: redact, sanitize, filter
* ``_agent``      -- agent vocabulary, prices, the running summary
* ``_storage``    -- the trace directory: names, part chains, compression, retention
* ``_reading``    -- the streaming reader, trees and views
* ``_cli``        -- the ``asynctrace`` command
"""

from ._agent._cost import DEFAULT_PRICES, ModelPrice, PriceTable
from ._agent._vocabulary import (
    LLMSpan,
    ToolSpan,
    checkpoint,
    checkpoint_nowait,
    decision,
    decision_nowait,
    error,
    error_nowait,
    llm,
    llm_call,
    llm_call_nowait,
    run,
    tool,
    tool_call,
    tool_call_nowait,
    turn,
)
from ._context._propagation import (
    Context,
    attach,
    capture,
    child_environ,
    current_trace,
    detach,
    emit,
    emit_nowait,
    inject,
    wrap,
)
from ._context._span import NoopSpan, Span, current_span, span
from ._context._traced import traced
from ._context._w3c import TraceParent, extract, parse_traceparent
from ._events._schema import SCHEMA_VERSION, Counts, Event, ShedCounts
from ._processing._filters import KindFilter
from ._processing._pipeline import DropEvent, Processor
from ._processing._redact import Redactor, redact_text
from ._processing._sanitize import Sanitizer, to_jsonable
from ._reading import (
    Problem,
    SpanNode,
    TraceReader,
    TraceTree,
    View,
    build_tree,
    load_tree,
    read,
    register_opener,
    slowest_view,
    summarize,
    summary_view,
    timeline_view,
    trajectory_view,
    tree_view,
    validate,
)
from ._reading._aggregate import aggregate
from ._reading._curl import to_curl
from ._reading._disclosure import DisclosureStep, disclosure
from ._reading._requests import LLMRequest, requests
from ._runtime._collector import Collector
from ._runtime._open import DisabledTrace, collector
from ._runtime._sink import Sink
from ._runtime._stats import Stats, TraceResult
from ._storage._retention import Retention
from ._version import __version__

__all__ = [
    "DEFAULT_PRICES",
    "SCHEMA_VERSION",
    "Collector",
    "Context",
    "Counts",
    "DisabledTrace",
    "DisclosureStep",
    "DropEvent",
    "Event",
    "KindFilter",
    "LLMRequest",
    "LLMSpan",
    "ModelPrice",
    "NoopSpan",
    "PriceTable",
    "Problem",
    "Processor",
    "Redactor",
    "Retention",
    "Sanitizer",
    "ShedCounts",
    "Sink",
    "Span",
    "SpanNode",
    "Stats",
    "ToolSpan",
    "TraceParent",
    "TraceReader",
    "TraceResult",
    "TraceTree",
    "View",
    "__version__",
    "aggregate",
    "attach",
    "build_tree",
    "capture",
    "checkpoint",
    "checkpoint_nowait",
    "child_environ",
    "collector",
    "current_span",
    "current_trace",
    "decision",
    "decision_nowait",
    "detach",
    "disclosure",
    "emit",
    "emit_nowait",
    "error",
    "error_nowait",
    "extract",
    "inject",
    "llm",
    "llm_call",
    "llm_call_nowait",
    "load_tree",
    "parse_traceparent",
    "read",
    "redact_text",
    "register_opener",
    "requests",
    "run",
    "slowest_view",
    "span",
    "summarize",
    "summary_view",
    "timeline_view",
    "to_curl",
    "to_jsonable",
    "tool",
    "tool_call",
    "tool_call_nowait",
    "traced",
    "trajectory_view",
    "tree_view",
    "turn",
    "validate",
    "wrap",
]

# Public classes report the module users import them from, as anyio's do.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("asynctrace._"):
        _obj.__module__ = "asynctrace"
del _name, _obj
