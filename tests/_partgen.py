"""Rotated traces written part by part, as the writer rotates them.

A :class:`~tests._tracegen.TraceFile` is cut into parts, either after given
numbers of producer lines or wherever the next line would take a part past
``max_file_bytes`` (the rule in ``asynctrace._storage._rotation``).  Each
cut closes the part with a ``trace.stop`` (reason ``rotated``, the counts
and summary so far, ``next_file_id``) and opens the next with a
``trace.start`` that repeats the first one's data plus ``part``,
``prev_file_id`` and its own ``file_id``; ``seq`` runs on across parts and
the last ``trace.stop`` carries the totals of the whole trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from _tracegen import TraceFile

from asynctrace import Event
from asynctrace._agent._summary import SummaryBuilder
from asynctrace._events._codec import ENCODER
from asynctrace._storage._rotation import next_start_data, part_is_full, rotated_stop_data

COLLECTOR = frozenset({"trace.start", "trace.stop", "agent.config"})


def file_id(trace_id: str, part: int) -> str:
    return f"{trace_id[:8]}{part:08x}"


def v2_name(stamp: str, trace_id: str, fid: str) -> str:
    return f"{stamp}_{trace_id}_{fid}.jsonl"


def line(ev: Event) -> bytes:
    return ENCODER.encode(ev) + b"\n"


def split(
    trace: TraceFile, cuts: Sequence[int] = (), *, max_file_bytes: int | None = None
) -> list[list[Event]]:
    """The trace's lines as parts: cut after the given numbers of producer
    lines, and wherever a part would pass ``max_file_bytes``."""
    start, *body = trace.lines
    stop = body.pop() if body and body[-1].event == "trace.stop" else None
    parts: list[list[Event]] = []
    seq = 0
    produced = 0
    summary = SummaryBuilder()
    pending_cuts = list(cuts)

    def stamp(ev: Event) -> Event:
        nonlocal seq
        ev.seq = seq
        ev.trace_id = trace.trace_id
        seq += 1
        return ev

    first_data = {**start.data, "file_id": file_id(trace.trace_id, 1), "part": 1}
    current = [stamp(Event(ts_ns=start.ts_ns, event="trace.start", data=first_data))]
    size = len(line(current[0]))
    in_part = 0
    for ev in body:
        copy = Event(
            seq=seq,
            ts_ns=ev.ts_ns,
            event=ev.event,
            trace_id=trace.trace_id,
            span_id=ev.span_id,
            parent_span_id=ev.parent_span_id,
            duration_ns=ev.duration_ns,
            status=ev.status,
            agent_id=ev.agent_id,
            data=ev.data,
        )
        cut_here = bool(pending_cuts) and produced == pending_cuts[0]
        if cut_here or part_is_full(size, len(line(copy)), in_part, max_file_bytes):
            if cut_here:
                pending_cuts.pop(0)
            index = len(parts)
            nxt = file_id(trace.trace_id, index + 2)
            counts = {
                "emitted": produced,
                "written": produced,
                "shed": 0,
                "oversize": 0,
                "write_errors": 0,
            }
            current.append(
                stamp(
                    Event(
                        ts_ns=ev.ts_ns,
                        event="trace.stop",
                        duration_ns=ev.ts_ns - start.ts_ns,
                        status="ok",
                        data=rotated_stop_data(counts, summary.result(), nxt),
                    )
                )
            )
            parts.append(current)
            data = next_start_data(
                first_data, part=index + 2, prev_file_id=current[0].data["file_id"], file_id=nxt
            )
            current = [stamp(Event(ts_ns=ev.ts_ns, event="trace.start", data=data))]
            size = len(line(current[0]))
            in_part = 0
        current.append(stamp(copy))
        size += len(line(copy))
        if ev.event not in COLLECTOR:
            produced += 1
            in_part += 1
            summary.add(ev)
    if stop is not None:
        current.append(
            stamp(
                Event(
                    ts_ns=stop.ts_ns,
                    event="trace.stop",
                    duration_ns=stop.duration_ns,
                    status=stop.status,
                    data=stop.data,
                )
            )
        )
    parts.append(current)
    return parts


def write_parts(
    trace: TraceFile,
    folder: Path,
    cuts: Sequence[int] = (),
    *,
    max_file_bytes: int | None = None,
    stamp: str = "2026-01-01_00-00-00",
) -> list[Path]:
    """Write the parts as v2-named files; return their paths in part order."""
    paths = []
    for lines in split(trace, cuts, max_file_bytes=max_file_bytes):
        fid = lines[0].data["file_id"]
        path = folder / v2_name(stamp, trace.trace_id, fid)
        path.write_bytes(b"".join(line(ev) for ev in lines))
        paths.append(path)
    return paths
