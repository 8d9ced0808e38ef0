"""The trace file schema, version 2.

One JSON object per line.  Fields are declared in the order they are
written; new fields are only ever appended, with a default, so that old
readers keep working and old files keep decoding.  See docs/schema.md.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

SCHEMA_VERSION: Final = 2

# Keys of an emitted mapping that are lifted to the top level of the line;
# every other key goes under ``data``.
TOP_LEVEL_FIELDS: Final = frozenset(
    {"span_id", "parent_span_id", "duration_ns", "status", "agent_id", "ts_ns"}
)

# Event names the collector writes itself.  They are not counted as emitted.
TRACE_START: Final = "trace.start"
TRACE_STOP: Final = "trace.stop"
AGENT_CONFIG: Final = "agent.config"
EVENT_OMITTED: Final = "trace.event_omitted"


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One line of a trace file.

    ``seq`` is assigned by the collector's writer; producers leave it at -1.
    ``gc=False``: events are plain data with no back references, and keeping
    them out of the cycle collector matters while thousands sit in a mailbox.
    """

    seq: int = -1
    ts_ns: int
    event: str
    trace_id: str = ""
    span_id: str | None = None
    parent_span_id: str | None = None
    duration_ns: int | None = None
    status: str | None = None
    agent_id: str | None = None
    data: dict[str, Any]


class ShedCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Events dropped on the way into the mailbox, by reason."""

    mailbox_full: int = 0
    """``emit_nowait`` (or a thread's non-blocking emit) found the mailbox full."""
    timeout: int = 0
    """``await emit(..., timeout=...)`` found no room in time."""
    closed: int = 0
    """The event arrived while the collector was shutting down or after it closed."""
    cancelled: int = 0
    """``await emit(...)`` was cancelled while it waited for room."""


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """The collector's accounting, as written in ``trace.stop``.

    ``emitted == written + shed + write_errors`` once the trace has stopped;
    while it runs, the difference is what sits in the mailbox (``queued``).
    """

    emitted: int = 0
    written: int = 0
    shed: int = 0
    oversize: int = 0
    write_errors: int = 0
    shed_by_reason: ShedCounts = ShedCounts()
    filtered: int = 0
    """Events dropped on purpose by a processor (sampling, include/exclude)."""
    processor_errors: int = 0
    """Processor calls that raised; the processor was disabled afterwards."""
