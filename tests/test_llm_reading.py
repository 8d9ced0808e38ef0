"""Captured calls read back: requests, curl (run with the real curl), disclosure, replay."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from _llm import OPENAI_KEY

import asynctrace
from asynctrace._cli import _main as cli
from asynctrace._cli._output import Output
from asynctrace._demo._mockllm import MockProvider
from asynctrace._demo._sdk import three_turns
from asynctrace.testing import recording, replay_http_client, replay_transport

openai = pytest.importorskip("openai")
from asynctrace.integrations import openai as trace_openai  # noqa: E402

pytestmark = pytest.mark.anyio

async def agent(client: Any, question: str) -> list[str]:
    return await three_turns(client, question)


async def record_agent(tmp_path: Path, mock: MockProvider) -> Path:
    client = trace_openai.instrument(openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url))
    async with recording(tmp_path) as rec:
        await agent(client, "why is the sky blue?")
    return rec.path


def run_cli(*argv: str) -> tuple[int, str]:
    buf = io.StringIO()
    out = Output(color=False, out=buf)
    args = cli.build_parser().parse_args(list(argv))
    code = args.func(args, out)
    return code, buf.getvalue()


async def test_requests_lists_every_call_in_order_with_tokens_and_status(tmp_path: Path, mock: MockProvider) -> None:
    path = await record_agent(tmp_path, mock)
    reqs = asynctrace.requests(path)
    assert [r.index for r in reqs] == [0, 1, 2]
    assert [r.finish_reason for r in reqs] == ["tool_calls", "tool_calls", "tool_calls"]
    assert all(r.status == "ok" and r.http_status == 200 and r.input_tokens for r in reqs)
    assert [r.body for r in reqs] == [m.body for m in mock.requests]
    code, text = run_cli("requests", str(path))
    assert code == 0 and text.count("gpt-4o-mini") == 3 and "chat.completions" in text
    code, text = run_cli("requests", "--json", str(path))
    rows = json.loads(text)
    assert [r["model"] for r in rows] == ["gpt-4o-mini"] * 3 and "body" not in rows[0]


def test_requests_body_prints_the_exact_body(tmp_path: Path, mock: MockProvider, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    path = anyio.run(record_agent, tmp_path, mock)
    capfdbinary.readouterr()
    assert cli.main(["requests", "--index", "1", "--body", str(path)]) == 0
    assert capfdbinary.readouterr().out == mock.requests[1].body


async def test_disclosure_shows_tools_added_and_removed_and_the_context_growing(
    tmp_path: Path, mock: MockProvider
) -> None:
    path = await record_agent(tmp_path, mock)
    steps = asynctrace.disclosure(path)
    assert [s.tools for s in steps] == [["search"], ["search", "fetch"], ["fetch", "answer"]]
    assert [s.tools_added for s in steps] == [["search"], ["fetch"], ["answer"]]
    assert [s.tools_removed for s in steps] == [[], [], ["search"]]
    assert [s.messages for s in steps] == [2, 4, 6]
    assert [s.messages_added for s in steps] == [None, 2, 2]
    assert steps[1].context_bytes_growth is not None and steps[1].context_bytes_growth > 0
    assert steps[1].input_tokens_growth is not None and steps[1].input_tokens_growth > 0
    assert [s.system_prompt for s in steps] == ["You research.", None, "You answer now."]
    assert [s.system_changed for s in steps] == [False, False, True]
    code, text = run_cli("disclosure", str(path))
    assert code == 0 and "+ fetch" in text and "- search" in text and "system changed: You answer now." in text


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed (.ci/run installs it)")
async def test_curl_commands_send_the_same_bytes_as_the_sdk(tmp_path: Path, mock: MockProvider) -> None:
    path = await record_agent(tmp_path, mock)
    sent = [m.body for m in mock.requests]
    for i in range(3):
        command = asynctrace.to_curl(asynctrace.requests(path)[i])
        with anyio.fail_after(120):
            out = await anyio.run_process(
                ["sh", "-c", command], env={**os.environ, "OPENAI_API_KEY": "from-the-env"}, check=False
            )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["object"] == "chat.completion"
        assert mock.requests[-1].body == sent[i]
        assert mock.requests[-1].headers["authorization"] == "Bearer from-the-env"
    assert OPENAI_KEY not in asynctrace.to_curl(path)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed (.ci/run installs it)")
async def test_curl_base_url_sends_the_call_to_another_server(tmp_path: Path, mock: MockProvider) -> None:
    path = await record_agent(tmp_path, mock)
    with MockProvider() as other:
        code, text = run_cli("curl", "--index", "0", "--base-url", other.openai_url, str(path))
        assert code == 0 and text.startswith("# request 0")
        with anyio.fail_after(120):
            out = await anyio.run_process(["sh", "-c", text], env={**os.environ, "OPENAI_API_KEY": "k"}, check=False)
        assert out.returncode == 0, out.stderr
        assert other.requests[0].body == mock.requests[0].body


async def test_the_replay_client_runs_the_agent_with_the_provider_gone(tmp_path: Path) -> None:
    with MockProvider() as live:
        path = await record_agent(tmp_path, live)
        url = live.openai_url
        expected = [r.body for r in live.requests]
    # The mock server is stopped: only the recording can answer now.
    client = openai.AsyncOpenAI(api_key="unused", base_url=url, http_client=replay_http_client(path), max_retries=0)
    assert await agent(client, "why is the sky blue?") == ["search", "fetch", "answer"]
    streamed = openai.AsyncOpenAI(api_key="unused", base_url=url, http_client=replay_http_client(path, match="body"))
    reply = await streamed.chat.completions.create(
        model="gpt-4o-mini",
        messages=json.loads(expected[1])["messages"],
        tools=json.loads(expected[1])["tools"],
    )
    assert reply.choices[0].message.tool_calls[0].function.name == "fetch"


async def test_replay_of_a_stream_serves_the_recorded_events(tmp_path: Path, mock: MockProvider) -> None:
    client = trace_openai.instrument(openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url))
    msgs = [{"role": "user", "content": "tell me"}]
    async with recording(tmp_path) as rec:
        s = await client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True)
        live = [c.choices[0].delta.content async for c in s if c.choices]
    replayed_client = openai.AsyncOpenAI(api_key="x", base_url=mock.openai_url, http_client=replay_http_client(rec.path))
    s = await replayed_client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True)
    assert [c.choices[0].delta.content async for c in s if c.choices] == live


async def test_a_request_that_differs_from_the_recording_fails_naming_the_difference(
    tmp_path: Path, mock: MockProvider
) -> None:
    path = await record_agent(tmp_path, mock)
    transport = replay_transport(path)
    http = openai.DefaultAsyncHttpxClient(transport=transport)
    client = openai.AsyncOpenAI(api_key="x", base_url=mock.openai_url, http_client=http)
    with pytest.raises(openai.BadRequestError, match=r"body differs at \$\.messages\[1\]\.content"):
        await agent(client, "a different question")
    (message,) = transport.mismatches
    assert "request 0 (POST /v1/chat/completions)" in message and '"a different question"' in message


async def test_the_summary_counts_captured_calls_like_hand_written_llm_spans(tmp_path: Path, mock: MockProvider) -> None:
    path = await record_agent(tmp_path, mock)
    data = asynctrace.summary_view(asynctrace.read(path)).data()
    reqs = asynctrace.requests(path)
    assert data["summary"]["llm_calls"] == 3 and data["summary"]["tool_calls"] == 3
    assert data["summary"]["input_tokens"] == sum(r.input_tokens or 0 for r in reqs)
    assert data["summary"]["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in reqs))
    assert data["latency"]["llm"]["gpt-4o-mini"]["n"] == 3


async def test_the_summary_has_per_model_tokens_cost_and_time_to_first_token(tmp_path: Path, mock: MockProvider) -> None:
    client = trace_openai.instrument(openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url), include_usage=True)
    async with recording(tmp_path) as rec:
        for _ in range(2):
            s = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a b"}], stream=True)
            async for _ in s:
                pass
    row = asynctrace.summary_view(asynctrace.read(rec.path)).data()["models"]["gpt-4o-mini"]
    reqs = asynctrace.requests(rec.path)
    assert row["calls"] == 2 and row["output_tokens"] == sum(r.output_tokens or 0 for r in reqs)
    assert row["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in reqs))
    assert row["ttft_p50_ns"] in [r.ttft_ns for r in reqs] and row["ttft_p95_ns"] == max(r.ttft_ns or 0 for r in reqs)
    assert "ttft p50" in asynctrace.summary_view(asynctrace.read(rec.path)).text()


def test_a_sync_replay_client_answers_the_sync_sdk(tmp_path: Path, mock: MockProvider) -> None:
    path = anyio.run(record_agent, tmp_path, mock)
    first = json.loads(asynctrace.requests(path)[0].body or b"")
    client = openai.OpenAI(api_key="x", base_url=mock.openai_url, http_client=replay_http_client(path, sync=True))
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=first["messages"], tools=first["tools"])
    assert reply.choices[0].message.tool_calls[0].function.name == "search"
