"""The README example: trace a tiny agent, then read the trace back.

    python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

import asynctrace


async def agent(question: str) -> str:
    async with asynctrace.collector(label="support bot", query=question) as trace:
        async with asynctrace.run("answer", input=question):
            async with asynctrace.llm("gpt-4o-mini", provider="openai") as call:
                call.usage(input_tokens=812, output_tokens=96)  # cost_usd computed now
                call.finish("tool_calls")
            async with asynctrace.tool("search", args={"q": question}) as t:
                t.result("3 hits")
            await asynctrace.decision("next", "answer", reason="enough context")
            await trace.sink.emit({"event": "note", "text": "raw events work too"})
    print(trace.result.path, trace.result.counts)
    assert trace.result.path is not None
    print(asynctrace.timeline_view(trace.result.path))
    print(asynctrace.summary_view(trace.result.path))
    return "done"


if __name__ == "__main__":
    asyncio.run(agent("Where is my order?"))
