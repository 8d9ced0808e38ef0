"""Rotated traces written part by part, as the writer will rotate them.

A :class:`~tests._tracegen.TraceFile` is cut after given producer lines:
each cut closes the part with a ``trace.stop`` (reason ``rotated``, the
counts and summary so far, ``next_file_id``) and opens the next with a
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

COLLECTOR = frozenset({"trace.start", "trace.stop", "agent.config"})


def file_id(trace_id: str, part: int) -> str:
    return f"{trace_id[:8]}{part:08x}"


def v2_name(stamp: str, trace_id: str, fid: str) -> str:
    return f"{stamp}_{trace_id}_{fid}.jsonl"


def split(trace: TraceFile, cuts: Sequence[int]) -> list[list[Event]]:
    """The trace's lines as parts, cut after the given numbers of producer lines."""
    start, *body = trace.lines
    stop = body.pop() if body and body[-1].event == "trace.stop" else None
    ids = [file_id(trace.trace_id, n + 1) for n in range(len(cuts) + 1)]
    parts: list[list[Event]] = []
    seq = 0
    produced = 0
    summary = SummaryBuilder()

    def stamp(ev: Event) -> Event:
        nonlocal seq
        ev.seq = seq
        ev.trace_id = trace.trace_id
        seq += 1
        return ev

    cut_iter = iter([*cuts, None])
    cut = next(cut_iter)
    current = [
        stamp(
            Event(
                ts_ns=start.ts_ns,
                event="trace.start",
                data={**start.data, "file_id": ids[0], "part": 1},
            )
        )
    ]
    for ev in body:
        if cut is not None and produced == cut:
            index = len(parts)
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
                        data={
                            "counts": counts,
                            "summary": summary.result(),
                            "reason": "rotated",
                            "next_file_id": ids[index + 1],
                        },
                    )
                )
            )
            parts.append(current)
            data = {
                **start.data,
                "file_id": ids[index + 1],
                "part": index + 2,
                "prev_file_id": ids[index],
            }
            current = [stamp(Event(ts_ns=ev.ts_ns, event="trace.start", data=data))]
            cut = next(cut_iter)
        copy = Event(
            ts_ns=ev.ts_ns,
            event=ev.event,
            span_id=ev.span_id,
            parent_span_id=ev.parent_span_id,
            duration_ns=ev.duration_ns,
            status=ev.status,
            agent_id=ev.agent_id,
            data=ev.data,
        )
        current.append(stamp(copy))
        if ev.event not in COLLECTOR:
            produced += 1
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
    cuts: Sequence[int],
    *,
    stamp: str = "2026-01-01_00-00-00",
) -> list[Path]:
    """Write the parts as v2-named files; return their paths in part order."""
    paths = []
    for lines in split(trace, cuts):
        fid = lines[0].data["file_id"]
        path = folder / v2_name(stamp, trace.trace_id, fid)
        path.write_bytes(b"".join(ENCODER.encode(ev) + b"\n" for ev in lines))
        paths.append(path)
    return paths
