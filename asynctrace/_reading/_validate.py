"""Schema checks for a trace file (``asynctrace validate``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from .._agent._summary import SummaryBuilder
from .._events._ids import is_file_id, is_span_id, is_trace_id
from .._events._schema import (
    AGENT_CONFIG,
    EVENT_OMITTED,
    SCHEMA_VERSION,
    TRACE_START,
    TRACE_STOP,
)
from .._storage._rotation import ROTATED
from . import _problems as P
from ._problems import Problem
from ._reader import COLLECTOR_LINES, TraceReader, read

_STATUSES: Final = frozenset({"ok", "error", "cancelled"})
_STOP_STATUSES: Final = frozenset({"ok", "error", "cancelled", "aborted"})
# Per-kind problem reports beyond this are counted, not listed.
_MAX_PER_KIND: Final = 20

# Problem kinds only validation reports.
SEQ: Final = "seq"
IDS: Final = "ids"
FIELDS: Final = "fields"
ORDER: Final = "order"
COUNTS: Final = "counts"
SUMMARY: Final = "summary"

# Version 1 files (one trace per file, linked by trace ids) stay readable.
READABLE_VERSIONS: Final = frozenset({1, SCHEMA_VERSION})


class _Findings:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._per_kind: dict[str, int] = {}

    def add(self, line: int, kind: str, message: str) -> None:
        n = self._per_kind.get(kind, 0) + 1
        self._per_kind[kind] = n
        if n <= _MAX_PER_KIND:
            self.problems.append(Problem(line, kind, message))

    def overflow(self) -> None:
        for kind, n in self._per_kind.items():
            if n > _MAX_PER_KIND:
                self.problems.append(
                    Problem(0, kind, f"… and {n - _MAX_PER_KIND} more {kind} problems")
                )


def validate(source: str | os.PathLike[str] | TraceReader) -> list[Problem]:
    """Every way the file breaks the schema (docs/schema.md); empty when valid.

    Checks: the reader's own findings (empty, not a trace, malformed lines,
    a torn tail); ``seq`` from 0 without gaps; ``trace.start`` first and
    ``trace.stop`` last, once each; trace, span and parent ids well formed
    and the trace id the same on every line; every ``*.start`` paired with
    one ``*.stop`` of the same kind; statuses and durations; the counts
    invariant ``emitted == written + shed + write_errors``, ``written``
    equal to the producer lines in the file, and the stored summary equal
    to the one recomputed from the file.

    A path is checked as one file, also when it is a part of a rotated
    trace: a continuation part (``prev_file_id``) may start at any ``seq``
    and stop spans started in earlier parts, a rotated part may leave spans
    open, and a continuation's counts and summary, which cover the earlier
    parts too, are only checked for consistency.  A :class:`TraceReader`
    over several parts is checked part by part and then as a chain.
    """
    if isinstance(source, TraceReader) and len(source.parts) > 1:
        return _validate_parts(source.parts)
    reader = source if isinstance(source, TraceReader) else read(source, parts=False)
    out = _Findings()
    trace_id = reader.trace_id
    # A continuation part of a rotated trace goes on with the seq where the
    # previous part stopped, and its trace.stop counts the whole trace so far.
    continued = reader.start is not None and bool(reader.start.data.get("prev_file_id"))
    expected_seq = reader.start.seq if continued and reader.start is not None else 0
    open_spans: dict[str, tuple[str, int]] = {}
    closed: set[str] = set()
    builder = SummaryBuilder()
    producer_lines = 0
    stop_line = 0
    stop_data: dict[str, Any] | None = None
    for line, ev in reader.numbered():
        name = ev.event
        if ev.seq != expected_seq:
            out.add(line, SEQ, f"seq is {ev.seq}, expected {expected_seq}")
        expected_seq = ev.seq + 1
        if stop_line:
            out.add(line, ORDER, f"{name} after trace.stop (line {stop_line})")
        if name == TRACE_START:
            if line != 1:
                out.add(line, ORDER, "a second trace.start")
            version = ev.data.get("schema_version")
            if version not in READABLE_VERSIONS:
                out.add(line, FIELDS, f"schema_version {version!r}, this reader knows 1 and 2")
            elif version >= 2 and not is_file_id(ev.data.get("file_id")):
                out.add(line, FIELDS, f"trace.start file_id {ev.data.get('file_id')!r}")
        elif name == TRACE_STOP:
            stop_line = line
            stop_data = ev.data
            if ev.status not in _STOP_STATUSES:
                out.add(line, FIELDS, f"trace.stop status {ev.status!r}")
        elif name != AGENT_CONFIG:
            producer_lines += 1
            builder.add(ev)
        if ev.trace_id != trace_id or not is_trace_id(ev.trace_id):
            out.add(line, IDS, f"trace_id {ev.trace_id!r} (the trace is {trace_id!r})")
        if ev.span_id is not None and not is_span_id(ev.span_id):
            out.add(line, IDS, f"malformed span_id {ev.span_id!r}")
        if ev.parent_span_id is not None and not is_span_id(ev.parent_span_id):
            out.add(line, IDS, f"malformed parent_span_id {ev.parent_span_id!r}")
        if name in COLLECTOR_LINES:
            continue
        if name == EVENT_OMITTED:
            # The replacement keeps the original's ids, status and duration.
            original = ev.data.get("event")
            name = original if isinstance(original, str) else name
        kind, _, phase = name.partition(".")
        if phase in ("stop", "call"):
            if ev.status not in _STATUSES:
                out.add(line, FIELDS, f"{name} status {ev.status!r}")
            if ev.duration_ns is None or ev.duration_ns < 0:
                out.add(line, FIELDS, f"{name} duration_ns {ev.duration_ns!r}")
        if ev.span_id is None or phase not in ("start", "stop"):
            continue
        sid = ev.span_id
        if phase == "start":
            if sid in open_spans or sid in closed:
                out.add(line, P.OPEN_SPAN, f"span_id {sid} started twice")
            open_spans[sid] = (kind, line)
        else:
            started = open_spans.pop(sid, None)
            if started is None and continued and sid not in closed:
                pass  # started in an earlier part
            elif started is None:
                what = "stopped twice" if sid in closed else "stopped but never started"
                out.add(line, P.UNPAIRED_STOP, f"{name} {sid} {what}")
            elif started[0] != kind:
                out.add(line, P.UNPAIRED_STOP, f"{name} {sid} closes a {started[0]} span")
            closed.add(sid)
    rotated = stop_data is not None and stop_data.get("reason") == ROTATED
    for sid, (kind, line) in open_spans.items():
        if not rotated:  # a rotated part's open spans stop in a later part
            out.add(line, P.OPEN_SPAN, f"{kind}.start {sid} has no stop")
    if reader.is_trace and not stop_line:
        out.add(0, P.MISSING_STOP, "no trace.stop: the trace was not closed")
    if stop_data is not None:
        _check_counts(out, stop_line, stop_data, producer_lines, builder, continued=continued)
    out.overflow()
    return [*reader.problems, *out.problems]


def _validate_parts(parts: list[Path]) -> list[Problem]:
    """Each part on its own, then what only the chain shows: ``seq`` running
    on across each boundary and the last summary matching all the parts."""
    problems: list[Problem] = []
    for part in parts:
        problems.extend(
            Problem(p.line, p.kind, f"{part.name}: {p.message}") for p in validate(part)
        )
    chain = read(parts[0])
    builder = SummaryBuilder()
    expected = 0
    open_spans: dict[str, str] = {}
    written = 0
    for ev in chain:
        if ev.seq != expected:
            problems.append(
                Problem(0, SEQ, f"seq {ev.seq} where the parts' seq should go on at {expected}")
            )
        expected = ev.seq + 1
        if ev.event in COLLECTOR_LINES:
            continue
        builder.add(ev)
        written += 1
        phase = ev.event.rpartition(".")[2]
        if ev.span_id is not None and phase == "start":
            open_spans[ev.span_id] = ev.event
        elif (
            ev.span_id is not None and phase == "stop" and open_spans.pop(ev.span_id, None) is None
        ):
            problems.append(
                Problem(0, P.UNPAIRED_STOP, f"{ev.event} {ev.span_id} started in no part")
            )
    problems.extend(
        Problem(0, P.OPEN_SPAN, f"{name} {sid} is stopped in no part")
        for sid, name in open_spans.items()
    )
    stop = chain.stop
    counts = stop.data.get("counts") if stop is not None else None
    if isinstance(counts, dict) and counts.get("written") != written:
        problems.append(
            Problem(
                0,
                COUNTS,
                f"the last part counts {counts.get('written')!r} written, the parts have {written}",
            )
        )
    stored = stop.data.get("summary") if stop is not None else None
    if isinstance(stored, dict):
        recomputed = builder.result()
        differing = sorted(k for k in recomputed if stored.get(k) != recomputed[k])
        if differing:
            problems.append(
                Problem(
                    0,
                    SUMMARY,
                    f"the last part's summary differs from all parts in {', '.join(differing)}",
                )
            )
    return problems


def _check_counts(
    out: _Findings,
    line: int,
    data: dict[str, Any],
    producer_lines: int,
    builder: SummaryBuilder,
    *,
    continued: bool = False,
) -> None:
    rotated = data.get("reason") == ROTATED
    if rotated and not is_span_id(data.get("next_file_id")):
        out.add(line, FIELDS, f"rotated trace.stop next_file_id {data.get('next_file_id')!r}")
    counts = data.get("counts")
    if not isinstance(counts, dict):
        out.add(line, COUNTS, "trace.stop has no counts")
    else:
        emitted, written = counts.get("emitted"), counts.get("written")
        shed, errors = counts.get("shed"), counts.get("write_errors")
        numbers = (emitted, written, shed, errors)
        if not all(isinstance(n, int) for n in numbers):
            out.add(line, COUNTS, f"counts are not all integers: {counts}")
        elif rotated and emitted < written + shed + errors:  # type: ignore[operator]
            # At a rotation some events may still sit in the mailbox.
            out.add(
                line,
                COUNTS,
                f"emitted {emitted} < written {written} + shed {shed} + write_errors {errors}",
            )
        elif not rotated and emitted != written + shed + errors:  # type: ignore[operator]
            out.add(
                line,
                COUNTS,
                f"emitted {emitted} != written {written} + shed {shed} + write_errors {errors}",
            )
        if continued:
            if isinstance(written, int) and written < producer_lines:
                out.add(
                    line,
                    COUNTS,
                    f"counts say {written} written so far, this part alone has {producer_lines}",
                )
        elif isinstance(written, int) and written != producer_lines:
            out.add(
                line, COUNTS, f"counts say {written} written, the file has {producer_lines} lines"
            )
    stored = data.get("summary")
    if not isinstance(stored, dict):
        out.add(line, SUMMARY, "trace.stop has no summary")
        return
    if continued:
        return  # the summary covers earlier parts too: checked over the chain
    recomputed = builder.result()
    differing = sorted(k for k in recomputed if stored.get(k) != recomputed[k])
    if differing:
        out.add(line, SUMMARY, f"stored summary differs from the file in {', '.join(differing)}")
