"""Hand-built trace files for the reading tests.

Timestamps are exact (given in milliseconds from a fixed t0) and ids are
fixed, so the views of these traces can be compared with golden files.
Lines are written with the package's own encoder, and the trace.stop
summary is kept by the writer's own SummaryBuilder, as a collector would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asynctrace import Event
from asynctrace._agent._summary import SummaryBuilder
from asynctrace._events._codec import ENCODER

T0_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000

ROOT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CHILD_TRACE = "5d2c5b0a3e2f4c1b9a8d7e6f50413223"


class TraceFile:
    """Builds one trace file event by event."""

    def __init__(
        self,
        trace_id: str,
        *,
        label: str = "sample",
        t0_ms: float = 0,
        parent: tuple[str, str] | None = None,
        **start_data: Any,
    ) -> None:
        self.trace_id = trace_id
        self.t0_ms = t0_ms
        self.lines: list[Event] = []
        self.summary = SummaryBuilder()
        self.written = 0
        self._spans: dict[str, tuple[float, str | None, str]] = {}
        self._next_span = 1
        data: dict[str, Any] = {
            "schema_version": 1,
            "trace_kind": "agent",
            "producer": "tests",
            "label": label,
            "meta": {},
            "pid": 4242,
            "host": "testhost",
            "started_at": "2026-01-01T00:00:00Z",
            "max_event_bytes": 1_048_576,
            "max_mailbox_len": 10_000,
            **start_data,
        }
        if parent is not None:
            data["parent_trace_id"], data["parent_span_id"] = parent
            data["sampled"] = True
        self._append(Event(ts_ns=self.ts(t0_ms), event="trace.start", data=data), producer=False)

    @staticmethod
    def ts(at_ms: float) -> int:
        return T0_NS + round(at_ms * MS)

    def _append(self, ev: Event, *, producer: bool = True) -> Event:
        ev.seq = len(self.lines)
        ev.trace_id = self.trace_id
        self.lines.append(ev)
        if producer:
            self.summary.add(ev)
            self.written += 1
        return ev

    def new_span_id(self) -> str:
        prefix = self.trace_id[:4]
        sid = f"{prefix}{self._next_span:012x}"
        self._next_span += 1
        return sid

    def emit(
        self,
        event: str,
        at_ms: float,
        /,
        *,
        span_id: str | None = None,
        parent: str | None = None,
        duration_ms: float | None = None,
        status: str | None = None,
        agent_id: str | None = None,
        **data: Any,
    ) -> Event:
        return self._append(
            Event(
                ts_ns=self.ts(at_ms),
                event=event,
                span_id=span_id,
                parent_span_id=parent,
                duration_ns=None if duration_ms is None else round(duration_ms * MS),
                status=status,
                agent_id=agent_id,
                data=data,
            )
        )

    def config(self, agent_id: str, at_ms: float, **config: Any) -> None:
        self._append(
            Event(ts_ns=self.ts(at_ms), event="agent.config", agent_id=agent_id, data=config),
            producer=False,
        )

    def start(
        self, kind: str, at_ms: float, parent: str | None = None, *, name: str, **data: Any
    ) -> str:
        sid = self.new_span_id()
        self._spans[sid] = (at_ms, parent, kind)
        self.emit(f"{kind}.start", at_ms, span_id=sid, parent=parent, name=name, **data)
        return sid

    def stop(self, sid: str, at_ms: float, status: str = "ok", *, name: str, **data: Any) -> None:
        began, parent, kind = self._spans.pop(sid)
        self.emit(
            f"{kind}.stop",
            at_ms,
            span_id=sid,
            parent=parent,
            duration_ms=at_ms - began,
            status=status,
            name=name,
            **data,
        )

    def call(
        self,
        kind: str,
        end_ms: float,
        duration_ms: float,
        parent: str | None,
        status: str = "ok",
        **data: Any,
    ) -> None:
        self.emit(
            f"{kind}.call",
            end_ms,
            parent=parent,
            duration_ms=duration_ms,
            status=status,
            **data,
        )

    def close(
        self,
        at_ms: float,
        status: str = "ok",
        *,
        reason: str = "exit",
        shed: int = 0,
        oversize: int = 0,
        write_errors: int = 0,
    ) -> None:
        counts = {
            "emitted": self.written + shed + write_errors,
            "written": self.written,
            "shed": shed,
            "oversize": oversize,
            "write_errors": write_errors,
            "shed_by_reason": {"mailbox_full": shed, "timeout": 0, "closed": 0, "cancelled": 0},
            "filtered": 0,
            "processor_errors": 0,
        }
        self._append(
            Event(
                ts_ns=self.ts(at_ms),
                event="trace.stop",
                duration_ns=round((at_ms - self.t0_ms) * MS),
                status=status,
                data={"counts": counts, "summary": self.summary.result(), "reason": reason},
            ),
            producer=False,
        )

    def encoded(self) -> bytes:
        return b"".join(ENCODER.encode(ev) + b"\n" for ev in self.lines)

    def file_name(self) -> str:
        return f"2026-01-01_00-00-00_{self.trace_id}.jsonl"

    def write(self, folder: Path, *, name: str | None = None) -> Path:
        path = folder / (name or self.file_name())
        path.write_bytes(self.encoded())
        return path


LONG_PAGE = (
    "asyncio is a library to write concurrent code using the async/await syntax.\n\n"
    "asyncio is used as a foundation for multiple Python asynchronous frameworks "
    "that provide high-performance network and web-servers."
)


def research_trace(*, child: bool = True) -> tuple[TraceFile, TraceFile]:
    """A small research agent: two turns, concurrent tools, a failed fetch that
    is retried, priced and unpriced llm calls, and a sub-agent in a child trace."""
    t = TraceFile(ROOT_TRACE, label="research", model="gpt-x", query="What is asyncio?")
    run = t.start("run", 0.1, name="research", input="What is asyncio?")
    t.config("planner", 0.2, model="gpt-x", temperature=0.2)
    turn0 = t.start("turn", 1, run, name="turn", turn=0)
    llm = t.start("llm", 2, turn0, name="gpt-x", model="gpt-x", provider="sim")
    t.stop(
        llm,
        352,
        name="gpt-x",
        input_tokens=1200,
        output_tokens=340,
        cost_usd=0.004,
        finish_reason="tool_calls",
        output="I will search the docs and fetch the two most relevant pages.",
    )
    t.emit(
        "decision",
        353,
        parent=turn0,
        agent_id="planner",
        decision_type="plan",
        outcome="search_and_fetch",
        reason="need primary sources",
    )
    search = t.start("tool", 360, turn0, name="search", args={"q": "asyncio event loop"})
    fetch1 = t.start(
        "tool",
        361,
        turn0,
        name="fetch",
        args={"url": "https://docs.python.org/3/library/asyncio.html"},
    )
    fetch2 = t.start("tool", 362, turn0, name="fetch", args={"url": "https://example.org/slow"})
    t.emit("cache.miss", 365, parent=search, key="asyncio event loop")
    t.stop(search, 480, name="search", result=["asyncio docs", "event loop", "tasks"])
    t.stop(
        fetch2,
        600,
        "error",
        name="fetch",
        error_type="TimeoutError",
        error_message="read timed out after 0.25s",
    )
    t.emit(
        "error",
        601,
        parent=turn0,
        error_type="TimeoutError",
        message="fetch https://example.org/slow timed out",
        recovery={"attempted": True, "strategy": "retry", "success": True},
    )
    retry = t.start(
        "tool", 602, turn0, name="fetch", args={"url": "https://example.org/slow", "attempt": 2}
    )
    t.stop(retry, 650, name="fetch", result="Slow page, finally.")
    t.stop(fetch1, 700, name="fetch", result=LONG_PAGE)
    t.stop(turn0, 710, name="turn", turn=0)

    turn1 = t.start("turn", 720, run, name="turn", turn=1)
    t.call(
        "llm",
        1320,
        580,
        turn1,
        model="gpt-x",
        provider="sim",
        input_tokens=2400,
        output_tokens=180,
        cached_tokens=1024,
        cost_usd=0.0061,
        finish_reason="stop",
        output="asyncio is Python's standard library for writing concurrent code with async/await.",
    )
    spawn = t.start("span", 1330, turn1, name="summarize with sub-agent")
    c = TraceFile(
        CHILD_TRACE, label="summarizer", t0_ms=1335, parent=(ROOT_TRACE, spawn), model="claude-x"
    )
    crun = c.start("run", 1336, name="summarizer", input="Summarize: asyncio is ...")
    c.call(
        "llm",
        1800,
        450,
        crun,
        model="claude-x",
        provider="sim",
        input_tokens=800,
        output_tokens=60,
        cost_usd=0.0012,
        finish_reason="stop",
        output="A one-line summary.",
    )
    c.call(
        "tool", 1850, 40, crun, name="word_count", args={"text": "A one-line summary."}, result=4
    )
    c.stop(crun, 1860, name="summarizer", output="A one-line summary.")
    c.close(1865)
    if child:
        t.stop(spawn, 1900, name="summarize with sub-agent", child_trace_id=CHILD_TRACE)
    else:
        t.stop(spawn, 1900, name="summarize with sub-agent")
    t.call(
        "llm",
        1950,
        40,
        turn1,
        model="mystery-model",
        input_tokens=90,
        output_tokens=12,
        cost_usd=None,
        finish_reason="stop",
        output="ok",
    )
    t.emit("checkpoint", 1960, parent=turn1, phase="answer", status="saved")
    t.stop(turn1, 1970, name="turn", turn=1)
    t.stop(
        run, 1980, name="research", output="asyncio is Python's standard library for concurrency."
    )
    t.close(1990)
    return t, c


def write_research(folder: Path) -> tuple[Path, Path]:
    """The research trace and its child trace in ``folder``."""
    parent, child = research_trace()
    return parent.write(folder), child.write(folder)


def crashed_trace() -> TraceFile:
    """A trace whose process died: an open span, no trace.stop."""
    t = TraceFile("c0ffee00c0ffee00c0ffee00c0ffee00", label="crashy")
    run = t.start("run", 0, name="crashy")
    tool = t.start("tool", 5, run, name="download", args={"url": "https://example.org/big"})
    t.stop(tool, 40, name="download", result="ok")
    t.start("tool", 50, run, name="parse", args={"path": "big.html"})
    return t


def torn_bytes(trace: TraceFile, keep: int = 25) -> bytes:
    """The trace's bytes with a final, incomplete line, as a crash mid-write leaves."""
    extra = ENCODER.encode(
        Event(ts_ns=trace.ts(60), event="tool.stop", trace_id=trace.trace_id, data={"name": "x"})
    )
    return trace.encoded() + extra[:keep]


async def record_agent(trace_dir: Path, *, points: int = 50) -> tuple[Path, Path]:
    """Run a small agent under the real collector; return (trace, child trace).

    Concurrent tool spans in a TaskGroup (one fails), llm spans and a
    recorded ``llm.call`` with tokens and cost, decision/error/checkpoint
    point events, a burst of ``points`` point events, and a sub-agent whose
    collector is a linked child trace.
    """
    import asyncio

    import asynctrace

    async def tool(name: str, delay: float, fail: bool = False) -> None:
        async with asynctrace.span(name, kind="tool", args={"delay": delay}) as s:
            await asyncio.sleep(delay)
            if fail:
                raise TimeoutError(f"{name} timed out")
            s.set(result=f"{name}: done")

    async with asynctrace.collector(
        trace_dir=trace_dir, label="recorded", model="gpt-x", query="q?"
    ) as trace:
        async with asynctrace.span("agent", kind="run", input="q?"):
            async with asynctrace.span("turn", kind="turn", turn=0):
                async with asynctrace.span("gpt-x", kind="llm", model="gpt-x") as llm:
                    await asyncio.sleep(0.002)
                    llm.set(input_tokens=1200, output_tokens=340, cost_usd=0.004)
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(tool("search", 0.4))  # cancelled by flaky long before
                        tg.create_task(tool("fetch", 0.6))
                        tg.create_task(tool("flaky", 0.001, fail=True))
                except* TimeoutError:
                    await asynctrace.emit(
                        "error",
                        error_type="TimeoutError",
                        message="flaky timed out",
                        recovery={"attempted": True, "strategy": "retry", "success": True},
                    )
                await tool("flaky", 0.001)
                await asynctrace.emit("decision", decision_type="plan", outcome="answer")
            async with asynctrace.span("turn", kind="turn", turn=1):
                await asynctrace.emit(
                    "llm.call",
                    model="mystery",
                    duration_ns=1_000_000,
                    status="ok",
                    input_tokens=10,
                    output_tokens=2,
                    cost_usd=None,
                )
                for i in range(points):
                    asynctrace.emit_nowait("progress", i=i)
                async with asynctrace.span("delegate", kind="span"):
                    async with asynctrace.collector(
                        trace_dir=trace_dir, label="helper", parent=asynctrace.capture()
                    ) as child:
                        async with asynctrace.span("helper", kind="run"):
                            await tool("word_count", 0.001)
                await asynctrace.emit("checkpoint", phase="answer", outcome="saved")
    assert trace.path is not None and child.path is not None
    return Path(trace.path), Path(child.path)
