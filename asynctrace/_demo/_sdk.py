"""``asynctrace demo --sdk``: the real OpenAI SDK, instrumented, against a local mock.

No key and no network: the mock provider runs on 127.0.0.1.  A three-turn
agent whose tool list changes every turn makes its calls through
``asynctrace.integrations.openai``; then the captured requests, one of them
as curl, and the disclosure timeline are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from .._cli._output import Output, color_wanted
from .._reading._curl import curl_commands
from .._reading._disclosure import disclosure_view
from .._reading._requests import requests_view
from .._runtime._open import collector
from ._mockllm import MockProvider

_SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}
SEARCH = {"type": "function", "function": {"name": "search", "parameters": _SCHEMA}}
FETCH = {"type": "function", "function": {"name": "fetch", "parameters": _SCHEMA}}
ANSWER = {"type": "function", "function": {"name": "answer", "parameters": _SCHEMA}}
# Turn by turn, the tools offered: one added, then one swapped for another.
TOOLSETS = ([SEARCH], [SEARCH, FETCH], [FETCH, ANSWER])


async def three_turns(client: Any, question: str) -> list[str]:
    """The agent: three model calls, each tool called once; returns the tools it ran.

    The system prompt changes on the last turn, as agents that switch from
    research to answering do.
    """
    from .._agent._vocabulary import tool, turn

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You research."},
        {"role": "user", "content": question},
    ]
    ran: list[str] = []
    for i, tools in enumerate(TOOLSETS):
        if i == len(TOOLSETS) - 1:
            messages[0] = {"role": "system", "content": "You answer now."}
        async with turn(i):
            reply = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
            msg = reply.choices[0].message
            for call in msg.tool_calls or []:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
                async with tool(call.function.name, args=call.function.arguments):
                    ran.append(call.function.name)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": f"{call.function.name}: done"})
    return ran


async def _record(trace_dir: Path, mock: MockProvider) -> Path:
    import openai

    from ..integrations import openai as trace_openai

    client = trace_openai.instrument(openai.AsyncOpenAI(api_key="demo-key-not-real", base_url=mock.openai_url))
    async with collector(trace_dir=trace_dir, label="sdk demo") as trace:
        await three_turns(client, "Why is the sky blue?")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Say it in one line."}], stream=True
        )
        async for _ in stream:
            pass
    if trace.path is None:
        raise RuntimeError("tracing is disabled (ASYNCTRACE=0): the --sdk demo has nothing to show")
    return Path(trace.path)


def main(args: argparse.Namespace) -> int:
    out = Output(color=color_wanted(bool(getattr(args, "no_color", False)), sys.stdout))
    try:
        import openai  # noqa: F401
    except ModuleNotFoundError:
        sys.stderr.write("asynctrace: error: demo --sdk needs the openai SDK: pip install 'asynctrace[openai]'\n")
        return 2
    trace_dir = Path(getattr(args, "trace_dir", None) or "traces")
    with MockProvider() as mock:
        path = asyncio.run(_record(trace_dir, mock))
    head = "head"
    out.line([("asynctrace demo --sdk", head), ("  the real openai SDK against a local mock provider", "dim")])
    out.line([(f"trace {path}", "dim")])
    out.line([])
    out.line([("Captured requests  (asynctrace requests)", head)])
    out.view(requests_view(path), as_json=False)
    out.line([])
    out.line([("Call 0 as curl  (asynctrace curl --index 0; the key comes from $OPENAI_API_KEY)", head)])
    out.out.write(curl_commands(path, index=0)[0] + "\n")
    out.line([])
    out.line([("What each call disclosed  (asynctrace disclosure)", head)])
    out.view(disclosure_view(path), as_json=False)
    out.line([])
    out.line([(f"Next: asynctrace requests --index 1 --body {path}", "dim")])
    return 0
