"""A simulated research agent: what ``asynctrace demo`` traces.

No network and no real model: the "model" and the tools are coroutines with
seeded latencies and token counts, so a given seed always produces the same
story.  It exercises everything the trace format is for: a run made of
turns, model calls with tokens and cost, concurrent tool calls in a
TaskGroup, a tool that fails and is retried, decisions, checkpoints, and a
sub-agent whose work lands in a linked child trace.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

import anyio

import asynctrace
from asynctrace._agent import _vocabulary as agent

MODEL = "gpt-4o-mini"
SUMMARIZER_MODEL = "local-llama-3-8b"  # not in the price table: its cost is null, not 0


@dataclass
class DemoResult:
    answer: str
    trace_path: Path
    child_trace_path: Path | None
    trace_id: str
    notes: list[str] = field(default_factory=list)


class SimulatedModel:
    """A deterministic stand-in for a chat model."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.name = name

    async def complete(self, prompt: str, *, answer: str, cached: int = 0) -> str:
        prompt_tokens = 180 + len(prompt) // 3 + self.rng.randint(0, 40)
        completion_tokens = 40 + self.rng.randint(0, 160)
        async with agent.llm(
            self.name,
            provider="simulated",
            params={"temperature": 0.2, "max_tokens": 512},
            input=prompt,
        ) as call:
            await anyio.sleep(self.rng.uniform(0.010, 0.030))
            call.first_token()
            await anyio.sleep(self.rng.uniform(0.010, 0.040))
            call.usage(
                input_tokens=prompt_tokens,
                output_tokens=completion_tokens,
                cached_tokens=min(cached, prompt_tokens),
            )
            call.finish("stop", answer)
        return answer


class FlakyError(TimeoutError):
    pass


async def run_tool(rng: random.Random, name: str, query: str, *, fail: bool = False) -> str:
    async with agent.tool(name, args={"query": query}, tool_call_id=f"call_{name}") as t:
        await anyio.sleep(rng.uniform(0.015, 0.060))
        if fail:
            raise FlakyError(f"{name} did not answer within 50ms")
        result = f"{name}: {rng.randint(3, 12)} results about {query!r}"
        t.result(result)
        return result


async def search_with_retry(rng: random.Random, name: str, query: str, *, fail_first: bool) -> str:
    try:
        return await run_tool(rng, name, query, fail=fail_first)
    except FlakyError as exc:
        await agent.error(
            "TOOL_TIMEOUT", str(exc), attempted=True, strategy="retry_once", success=True, tool=name
        )
        return await run_tool(rng, name, query)


async def summarizer(rng: random.Random, notes: list[str], trace_dir: Path) -> tuple[str, Path]:
    """The sub-agent: its own collector, linked to the span that spawned it."""
    async with asynctrace.collector(
        trace_dir=trace_dir,
        parent=asynctrace.capture(),
        trace_kind="demo",
        producer="asynctrace.demo.summarizer",
        label="summarizer sub-agent",
        model=SUMMARIZER_MODEL,
    ) as child:
        async with agent.run("summarize", input={"notes": len(notes)}):
            model = SimulatedModel(rng, SUMMARIZER_MODEL)
            async with agent.turn(0):
                summary = await model.complete(
                    "Summarize:\n" + "\n".join(notes),
                    answer="Three sources agree: asyncio tracing must never block the agent loop.",
                )
            await agent.checkpoint("summary", "done")
    assert child.path is not None
    return summary, child.path


async def research(question: str, *, seed: int, trace_dir: Path) -> DemoResult:
    rng = random.Random(seed)
    model = SimulatedModel(rng, MODEL)
    async with asynctrace.collector(
        trace_dir=trace_dir,
        trace_kind="demo",
        producer="asynctrace.demo",
        label="research agent",
        model=MODEL,
        query=question,
        meta={"seed": seed},
    ) as trace:
        async with agent.run(
            "research", input=question, agent_id="researcher",
            agent_config={"model": MODEL, "tools": ["web_search", "wiki", "arxiv"]},
        ):
            async with agent.turn(0, name="plan"):
                await model.complete(
                    f"Plan research for: {question}", answer="search web, wiki and arxiv in parallel"
                )
                await agent.decision("plan", ["web_search", "wiki", "arxiv"], reason="broad coverage first")
                await agent.checkpoint("plan", "done")

            async with agent.turn(1, name="gather"):
                async with asyncio.TaskGroup() as tg:
                    tasks = [
                        tg.create_task(search_with_retry(rng, "web_search", question, fail_first=False)),
                        tg.create_task(search_with_retry(rng, "wiki", question, fail_first=False)),
                        tg.create_task(search_with_retry(rng, "arxiv", question, fail_first=True)),
                    ]
                notes = [t.result() for t in tasks]
                await agent.checkpoint("gather", "done", sources=len(notes))

            async with agent.turn(2, name="delegate"):
                async with asynctrace.span("spawn summarizer", kind="agent") as spawn:
                    summary, child_path = await summarizer(rng, notes, trace_dir)
                    spawn.set(sub_agent="summarizer")
                await agent.decision("continue", "answer", reason="summary is sufficient")

            async with agent.turn(3, name="answer"):
                answer = await model.complete(
                    f"Answer {question!r} using: {summary}",
                    answer="Use a bounded mailbox with awaited backpressure and flush on every exit path.",
                    cached=256,
                )
    assert trace.path is not None
    return DemoResult(answer, trace.path, child_path, trace.trace_id, notes)
