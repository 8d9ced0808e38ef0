"""Scenario 2: events per second into a JSONL file, against a hand-rolled floor.

The floor is the least a Python program can do to get the same line on disk
from an async producer: build a dict event, ``put_nowait`` it on an
``asyncio.Queue``, and have a writer task drain the queue in batches through
msgspec's ``encode_lines`` and a plain ``file.write``.  No redaction, no
sanitizing, no accounting, no write thread.

The lean floor emit (``_lean``) is the least a tracer with asynctrace's
semantics can do for the same event: snapshot, redaction with a fast
precheck, a bounded queue, a writer task and a writer thread.

Every case uses the same producer: one task that emits N events and yields
(``await asyncio.sleep(0)``) every ``YIELD_EVERY`` events, as a busy async
program would, and the clock stops when the last event is on disk.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

import asynctrace

from ._common import Case, Config, Sample, Scenario, Target, cpu, now, per_item_us, ratio, settle
from ._lean import LeanCollector

YIELD_EVERY = 256
BATCH = 512
EVENT: dict[str, Any] = {
    "event": "tool.call",
    "name": "search",
    "query": "weather in Paris tomorrow",
    "n": 3,
    "ok": True,
}
UNIT = "events/s"


def _count(cfg: Config) -> int:
    return cfg.n(200_000, 30_000)


def _floor_case(cfg: Config) -> Case:
    n = _count(cfg)
    path = cfg.workdir / "throughput-floor.jsonl"
    trace_id = "0" * 31 + "1"

    async def run() -> Sample:
        settle()
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        encoder = msgspec.json.Encoder()
        name = EVENT["event"]
        payload = {k: v for k, v in EVENT.items() if k != "event"}
        with open(path, "wb") as f:  # noqa: ASYNC230 (the floor writes inline)

            async def writer() -> None:
                seq = 0
                while True:
                    first = await q.get()
                    batch = [first]
                    while len(batch) < BATCH and not q.empty():
                        batch.append(q.get_nowait())
                    done = batch[-1] is None
                    events = [ev for ev in batch if ev is not None]
                    for ev in events:
                        ev["seq"] = seq
                        seq += 1
                    f.write(encoder.encode_lines(events))
                    if done:
                        return

            task = asyncio.create_task(writer())
            put = q.put_nowait
            time_ns = time.time_ns
            t0, c0 = now(), cpu()
            for i in range(n):
                put(
                    {
                        "ts_ns": time_ns(),
                        "event": name,
                        "trace_id": trace_id,
                        "data": dict(payload),
                    }
                )
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)
            put(None)
            await task
            elapsed, cpu_s = now() - t0, cpu() - c0
        path.unlink(missing_ok=True)
        return {"cpu_us": per_item_us(cpu_s, n), "value": n / elapsed, "written": n, "shed": 0}

    return Case("floor (dict→Queue→encode_lines→write)", UNIT, run, lower_is_better=False)


def _nowait_case(cfg: Config, *, big_mailbox: bool) -> Case:
    n = _count(cfg)
    path = cfg.workdir / f"throughput-nowait-{int(big_mailbox)}.jsonl"
    mailbox = n + 16 if big_mailbox else 10_000

    async def run() -> Sample:
        settle()
        async with asynctrace.collector(path, max_mailbox_len=mailbox) as trace:
            emit = trace.sink.emit_nowait
            ev = EVENT
            t0, c0 = now(), cpu()
            for i in range(n):
                emit(ev)
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)
            await trace.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        counts = trace.result.counts
        path.unlink(missing_ok=True)
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": counts.written / elapsed,
            "offered_per_s": n / elapsed,
            "written": counts.written,
            "shed": counts.shed,
        }

    label = f"emit_nowait (mailbox {'≥N' if big_mailbox else '10k'})"
    return Case(label, UNIT, run, lower_is_better=False)


def _await_case(cfg: Config) -> Case:
    n = _count(cfg)
    path = cfg.workdir / "throughput-await.jsonl"

    async def run() -> Sample:
        settle()
        async with asynctrace.collector(path) as trace:
            emit = trace.sink.emit
            ev = EVENT
            t0, c0 = now(), cpu()
            for i in range(n):
                await emit(ev)
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)
            await trace.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        counts = trace.result.counts
        path.unlink(missing_ok=True)
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": counts.written / elapsed,
            "written": counts.written,
            "shed": counts.shed,
        }

    return Case("await sink.emit (mailbox 10k)", UNIT, run, lower_is_better=False)


def _lean_case(cfg: Config, *, awaited: bool) -> Case:
    n = _count(cfg)
    path = cfg.workdir / f"throughput-lean-{int(awaited)}.jsonl"

    async def run() -> Sample:
        settle()
        async with LeanCollector(path) as lean:
            ev = EVENT
            t0, c0 = now(), cpu()
            if awaited:
                emit = lean.emit
                for i in range(n):
                    await emit(ev)
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        await asyncio.sleep(0)
            else:
                emit_nowait = lean.emit_nowait
                for i in range(n):
                    emit_nowait(ev)
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        await asyncio.sleep(0)
            await lean.flush()
            elapsed, cpu_s = now() - t0, cpu() - c0
        path.unlink(missing_ok=True)
        return {
            "cpu_us": per_item_us(cpu_s, n),
            "value": lean.written / elapsed,
            "written": lean.written,
            "shed": lean.shed,
        }

    label = "lean floor await emit" if awaited else "lean floor emit_nowait"
    return Case(label, UNIT, run, lower_is_better=False)


def build(cfg: Config) -> Scenario:
    floor = _floor_case(cfg)
    lean = _lean_case(cfg, awaited=False)
    lean_await = _lean_case(cfg, awaited=True)
    nowait = _nowait_case(cfg, big_mailbox=False)
    nowait_big = _nowait_case(cfg, big_mailbox=True)
    awaited = _await_case(cfg)
    return Scenario(
        "throughput",
        "2. Throughput to a JSONL file",
        cases=[floor, lean, lean_await, nowait, nowait_big, awaited],
        targets=[
            Target(
                "emit_nowait (10k mailbox) written/s ÷ floor",
                "x",
                ">=",
                0.6,
                ratio(nowait.name, floor.name),
            ),
            Target(
                "lean floor emit_nowait ÷ emit_nowait (10k mailbox): time per event vs the limit",
                "x",
                "<=",
                1.15,
                ratio(lean.name, nowait.name),
            ),
            Target(
                "emit_nowait (mailbox ≥N) written/s ÷ floor",
                "x",
                ">=",
                0.6,
                ratio(nowait_big.name, floor.name),
            ),
            Target("await sink.emit ÷ floor", "x", ">=", 0.5, ratio(awaited.name, floor.name)),
            Target(
                "CPU time: floor ÷ emit_nowait (10k mailbox) (informative)",
                "x",
                ">=",
                0.6,
                ratio(floor.name, nowait.name, "cpu_us"),
            ),
            Target(
                "CPU time: emit_nowait (10k mailbox) ÷ lean floor emit_nowait (informative)",
                "x",
                "<=",
                1.15,
                ratio(nowait.name, lean.name, "cpu_us"),
            ),
            Target(
                "CPU time: floor ÷ await sink.emit (informative)",
                "x",
                ">=",
                0.5,
                ratio(floor.name, awaited.name, "cpu_us"),
            ),
            Target(
                "lean floor await emit ÷ await sink.emit (informative)",
                "x",
                "<=",
                1.15,
                ratio(lean_await.name, awaited.name),
            ),
            Target(
                "lean floor emit_nowait ÷ floor (informative: the limit)",
                "x",
                ">=",
                0.6,
                ratio(lean.name, floor.name),
            ),
        ],
        notes=[
            f"One producer task, the same event ({len(EVENT) - 1} fields), "
            f"`await asyncio.sleep(0)` every {YIELD_EVERY} events; "
            "the clock stops when every event is on disk (`await trace.flush()`).",
            "The value is events *written* per second; `shed` is what emit_nowait dropped "
            "because the mailbox was full (counted, and written as such in trace.stop).",
            "`cpu_us`: CPU time of the whole process (every thread) per event.",
            "floor: dict → asyncio.Queue → encode_lines → write inline (no redaction, no "
            "snapshot beyond a dict copy, no write thread). lean floor: benchmarks/_lean.py.",
        ],
    )
