"""The real openai and anthropic SDKs, instrumented, against a mock provider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _llm import ANTHROPIC_KEY, OPENAI_KEY, lines, starts, stops

import asynctrace
from asynctrace._demo._mockllm import MockProvider
from asynctrace.testing import recording

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
from asynctrace.integrations import anthropic as trace_anthropic  # noqa: E402
from asynctrace.integrations import openai as trace_openai  # noqa: E402

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "hello there"}]


def oai(mock: MockProvider, **options: object) -> object:
    client = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url, max_retries=2)
    return trace_openai.instrument(client, **options)  # type: ignore[arg-type]


def claude(mock: MockProvider) -> object:
    client = anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=mock.url)
    return trace_anthropic.instrument(client)


# -- importing -------------------------------------------------------------------


def test_importing_asynctrace_imports_no_sdk_and_no_http_library() -> None:
    code = (
        "import sys, asynctrace, asynctrace.integrations, asynctrace.testing\n"
        "bad = [m for m in ('openai', 'anthropic', 'httpx', 'httpx2') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_instrument_returns_a_client_of_the_same_type_and_rejects_others(mock: MockProvider) -> None:
    client = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url)
    assert type(trace_openai.instrument(client)) is openai.AsyncOpenAI
    sync = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=mock.url)
    assert type(trace_anthropic.instrument(sync)) is anthropic.Anthropic
    with pytest.raises(TypeError, match="AsyncOpenAI"):
        trace_openai.instrument(sync)  # type: ignore[type-var]


# -- the three APIs --------------------------------------------------------------


async def test_a_chat_completion_becomes_an_llm_span_with_usage_cost_and_the_exact_body(
    tmp_path: Path, mock: MockProvider
) -> None:
    client = oai(mock)
    async with recording(tmp_path) as rec:
        async with asynctrace.run("agent"):
            reply = await client.chat.completions.create(  # type: ignore[attr-defined]
                model="gpt-4o-mini", messages=USER, temperature=0.2, max_tokens=50
            )
    assert reply.choices[0].message.content == "Answer 1: hello there"
    (start,) = starts(rec.path)
    (stop,) = stops(rec.path)
    run_start = next(d for d in lines(rec.path) if d["event"] == "run.start")
    assert start["parent_span_id"] == run_start["span_id"]
    assert start["data"]["provider"] == "openai"
    assert start["data"]["endpoint"] == "chat.completions"
    assert start["data"]["params"] == {"temperature": 0.2, "max_tokens": 50}
    d = stop["data"]
    assert stop["status"] == "ok"
    assert d["response_model"] == "gpt-4o-mini-2024-07-18"
    assert d["input_tokens"] > 0 and d["output_tokens"] == 4
    assert d["cost_usd"] == asynctrace.DEFAULT_PRICES.cost_usd(
        "gpt-4o-mini", d["input_tokens"], d["output_tokens"], 0
    )
    assert d["finish_reason"] == "stop" and d["http_status"] == 200 and d["request_id"] == "req_1"
    (req,) = asynctrace.requests(rec.path)
    assert req.body == mock.requests[0].body and req.body_problem is None
    assert json.loads(req.response_body or b"")["choices"][0]["message"]["content"] == reply.choices[0].message.content


async def test_a_chat_stream_without_usage_records_null_tokens_never_zero(tmp_path: Path, mock: MockProvider) -> None:
    client = oai(mock)
    async with recording(tmp_path) as rec:
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[attr-defined]
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Answer 1: hello there"
    d = stops(rec.path)[0]["data"]
    assert d["input_tokens"] is None and d["output_tokens"] is None and d["cost_usd"] is None
    assert d["chunks"] == 6 and d["ttft_ns"] > 0 and d["response_end"] == "complete"
    assert d["finish_reason"] == "stop"


async def test_include_usage_asks_a_chat_stream_for_its_usage(tmp_path: Path, mock: MockProvider) -> None:
    client = oai(mock, include_usage=True)
    async with recording(tmp_path) as rec:
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[attr-defined]
        async for _ in stream:
            pass
    assert mock.requests[0].json()["stream_options"] == {"include_usage": True}
    d = stops(rec.path)[0]["data"]
    assert d["output_tokens"] == 4 and isinstance(d["cost_usd"], float)
    assert asynctrace.requests(rec.path)[0].body == mock.requests[0].body


@pytest.mark.parametrize("stream", [False, True])
async def test_the_responses_api_is_captured_streamed_or_not(tmp_path: Path, mock: MockProvider, stream: bool) -> None:
    client = oai(mock)
    async with recording(tmp_path) as rec:
        if stream:
            async with await client.responses.create(model="gpt-4o", input="hi", stream=True) as s:  # type: ignore[attr-defined]
                async for _ in s:
                    pass
        else:
            r = await client.responses.create(model="gpt-4o", input="hi")  # type: ignore[attr-defined]
            assert r.output_text == "Answer 1: hi"
    (stop,) = stops(rec.path)
    d = stop["data"]
    assert stop["status"] == "ok" and d["finish_reason"] == "completed"
    assert d["input_tokens"] > 0 and d["output_tokens"] == 3 and d["reasoning_tokens"] == 0
    assert (d.get("ttft_ns", 0) > 0) is stream and ("chunks" in d) is stream
    assert starts(rec.path)[0]["data"]["endpoint"] == "responses"


@pytest.mark.parametrize("how", ["create", "stream_helper", "stream_flag"])
async def test_anthropic_messages_are_captured_streamed_or_not(tmp_path: Path, mock: MockProvider, how: str) -> None:
    client = claude(mock)
    args = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": USER}
    async with recording(tmp_path) as rec:
        if how == "create":
            m = await client.messages.create(**args)  # type: ignore[attr-defined]
            text = m.content[0].text
        elif how == "stream_helper":
            async with client.messages.stream(**args) as s:  # type: ignore[attr-defined]
                text = "".join([t async for t in s.text_stream])
        else:
            s = await client.messages.create(**args, stream=True)  # type: ignore[attr-defined]
            text = "".join([e.delta.text async for e in s if e.type == "content_block_delta"])
    assert text == "Answer 1: hello there"
    (stop,) = stops(rec.path)
    d = stop["data"]
    assert stop["status"] == "ok" and d["finish_reason"] == "end_turn"
    assert d["output_tokens"] == 4 and d["input_tokens"] > 0 and d["cached_tokens"] == 0
    assert d["cost_usd"] == asynctrace.DEFAULT_PRICES.cost_usd("claude-sonnet-4-5", d["input_tokens"], 4, 0)
    assert starts(rec.path)[0]["data"]["provider"] == "anthropic"


async def test_the_sync_clients_are_captured_too(tmp_path: Path, mock: MockProvider) -> None:
    client = trace_openai.instrument(openai.OpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url))
    async with recording(tmp_path) as rec:
        reply = await asyncio.to_thread(
            lambda: client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
        )
    assert reply.choices[0].message.content == "Answer 1: hello there"
    assert stops(rec.path)[0]["status"] == "ok"


# -- streams: incremental, and ended on every path -------------------------------


async def test_a_stream_reaches_the_sdk_before_the_provider_has_sent_all_of_it(
    tmp_path: Path, mock: MockProvider
) -> None:
    mock.hold_streams = True  # the server sends one event, then waits
    client = oai(mock)
    async with recording(tmp_path):
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[attr-defined]
        first = await stream.__anext__()
        assert first.choices[0].delta.role == "assistant"
        assert not mock.release.is_set()
        mock.release.set()
        async for _ in stream:
            pass


async def _open_held_stream(client: object) -> object:
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[attr-defined]
    await stream.__anext__()
    return stream


async def test_break_inside_async_with_ends_the_span_as_closed_early(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = oai(mock)
    async with recording(tmp_path) as rec:
        async with await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as s:  # type: ignore[attr-defined]
            async for _ in s:
                break
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "closed_early"
    assert "unfinished" not in stop["data"]


async def test_closing_a_stream_early_ends_the_span_as_closed_early(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = oai(mock)
    async with recording(tmp_path) as rec:
        stream = await _open_held_stream(client)
        await stream.close()  # type: ignore[attr-defined]
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "closed_early"


async def test_a_garbage_collected_stream_ends_its_span(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = oai(mock)
    async with recording(tmp_path) as rec:
        stream = await _open_held_stream(client)
        del stream
        gc.collect()
        # The span ends in a task of its own, scheduled by the finalizer; let it run.
        for _ in range(3):
            await asyncio.sleep(0)
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "garbage_collected"
    assert "unfinished" not in stop["data"]


async def test_a_cancelled_stream_reader_ends_the_span_as_cancelled(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = oai(mock)
    got_first = asyncio.Event()

    async def reader() -> None:
        stream = await _open_held_stream(client)
        got_first.set()
        await stream.__anext__()  # type: ignore[attr-defined]  # blocks: the server holds the rest

    async with recording(tmp_path) as rec:
        task = asyncio.create_task(reader())
        await got_first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "cancelled"


async def test_spans_made_while_reading_a_stream_keep_their_parents_across_tasks(
    tmp_path: Path, mock: MockProvider
) -> None:
    client = oai(mock)
    async with recording(tmp_path) as rec:
        async with asynctrace.turn(0) as turn:
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[attr-defined]
            assert asynctrace.current_span() is turn

            async def consume() -> None:
                async for _ in stream:
                    async with asynctrace.tool("think"):
                        pass

            await asyncio.create_task(consume())
    evs = lines(rec.path)
    turn_id = next(d["span_id"] for d in evs if d["event"] == "turn.start")
    assert {d["parent_span_id"] for d in evs if d["event"] == "tool.start"} == {turn_id}
    assert stops(rec.path)[0]["status"] == "ok"


# -- errors and retries -------------------------------------------------------------


async def test_an_http_500_then_the_sdk_retry_are_two_spans(tmp_path: Path, mock: MockProvider) -> None:
    mock.fail_next(500)
    client = oai(mock)
    async with recording(tmp_path) as rec:
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[attr-defined]
    first, second = stops(rec.path)
    assert first["status"] == "error" and first["data"]["http_status"] == 500
    assert first["data"]["error_type"] == "HTTPStatusError"
    assert first["data"]["error_message"] == "HTTP 500: mock failure 500"
    assert second["status"] == "ok"
    assert [s["data"]["attempt"] for s in starts(rec.path)] == [0, 1]
    assert asynctrace.requests(rec.path)[1].attempt == 1


async def test_a_connection_error_ends_the_span_and_reaches_the_caller_unchanged(tmp_path: Path) -> None:
    dead = MockProvider().start()
    url = dead.openai_url
    dead.stop()  # nothing listens there any more
    client = trace_openai.instrument(openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=url, max_retries=0))
    async with recording(tmp_path) as rec:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    (stop,) = stops(rec.path)
    assert stop["status"] == "error" and stop["data"]["error_type"] == "ConnectError"


async def test_a_timeout_ends_the_span_with_the_timeout_error(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = trace_openai.instrument(
        openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url, max_retries=0, timeout=2.0)
    )
    async with recording(tmp_path) as rec:
        stream = await _open_held_stream(client)
        with pytest.raises(Exception) as raised:
            await stream.__anext__()  # type: ignore[attr-defined]
    assert "Timeout" in type(raised.value).__name__  # the SDK's own error reaches the caller
    (stop,) = stops(rec.path)
    assert stop["status"] == "error" and stop["data"]["error_type"].endswith("Timeout")  # the transport's


# -- content and privacy -----------------------------------------------------------


async def test_the_api_keys_are_never_in_the_file(tmp_path: Path, mock: MockProvider) -> None:
    async with recording(tmp_path) as rec:
        await oai(mock).chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[attr-defined]
        await claude(mock).messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=USER)  # type: ignore[attr-defined]
    raw = rec.path.read_bytes()
    assert OPENAI_KEY.encode() not in raw and ANTHROPIC_KEY.encode() not in raw
    assert b"5ecret" not in raw
    openai_req, anthropic_req = asynctrace.requests(rec.path)
    assert openai_req.key_in == "authorization"
    assert anthropic_req.key_in in ("authorization", "x-api-key")  # which one depends on the release


async def test_capture_content_off_records_no_bodies(tmp_path: Path, mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCTRACE_CAPTURE_CONTENT", "0")
    async with recording(tmp_path) as rec:
        await oai(mock).chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[attr-defined]
    assert b"hello there" not in rec.path.read_bytes()
    (req,) = asynctrace.requests(rec.path)
    assert req.body is None and "capture_content is off" in (req.body_problem or "")
    assert req.input_tokens is not None  # usage is not content


async def test_a_secret_in_the_prompt_is_redacted_and_the_body_marked_so(tmp_path: Path, mock: MockProvider) -> None:
    leaked = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    async with recording(tmp_path) as rec:
        await oai(mock).chat.completions.create(  # type: ignore[attr-defined]
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"my key is {leaked}"}]
        )
    assert leaked.encode() not in rec.path.read_bytes()
    (req,) = asynctrace.requests(rec.path)
    assert "redacted" in (req.body_problem or "")
    with pytest.raises(ValueError, match="cannot be reproduced"):
        asynctrace.to_curl(req)


async def test_a_body_larger_than_the_per_string_limit_is_kept_whole(tmp_path: Path, mock: MockProvider) -> None:
    big = "word " * 60_000  # 300 kB: over the sanitizer's 64 KiB per-string cut
    async with recording(tmp_path) as rec:
        await oai(mock).chat.completions.create(  # type: ignore[attr-defined]
            model="gpt-4o-mini", messages=[{"role": "user", "content": big}]
        )
    (req,) = asynctrace.requests(rec.path)
    assert req.body_problem is None and req.body == mock.requests[0].body


async def test_a_body_over_the_event_cap_is_marked_truncated_and_not_replayed(
    tmp_path: Path, mock: MockProvider
) -> None:
    client = oai(mock, max_body_bytes=20_000)
    async with recording(tmp_path) as rec:
        await client.chat.completions.create(  # type: ignore[attr-defined]
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x" * 50_000}]
        )
    (req,) = asynctrace.requests(rec.path)
    assert "truncated" in (req.body_problem or "")
    assert req.body is not None and mock.requests[0].body.startswith(req.body)
    assert "cannot be reproduced" in asynctrace.to_curl(rec.path)


async def test_a_call_without_a_model_is_an_llm_span_named_for_its_endpoint(tmp_path: Path, mock: MockProvider) -> None:
    async with recording(tmp_path) as rec:
        await oai(mock).models.list()  # type: ignore[attr-defined]
    (start,) = starts(rec.path)
    assert start["data"]["name"] == "openai models" and "model" not in start["data"]
    assert stops(rec.path)[0]["status"] == "ok"


def test_include_usage_is_refused_where_it_means_nothing(mock: MockProvider) -> None:
    with pytest.raises(TypeError, match="OpenAI chat stream option"):
        trace_anthropic.instrument(anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=mock.url), include_usage=True)
    with pytest.raises(ValueError, match="max_body_bytes"):
        trace_openai.http_client(max_body_bytes=-1)


async def test_an_anthropic_stream_left_inside_async_with_ends_its_span(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = claude(mock)
    async with recording(tmp_path) as rec:
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=USER) as s:  # type: ignore[attr-defined]
            async for _ in s:
                break
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "closed_early"
    # message_start arrived before the break: its usage is kept, what never came stays null.
    assert stop["data"]["input_tokens"] > 0 and stop["data"]["finish_reason"] is None


async def test_a_sync_stream_closed_early_ends_its_span(tmp_path: Path, mock: MockProvider) -> None:
    mock.hold_streams = True
    client = trace_openai.instrument(openai.OpenAI(api_key=OPENAI_KEY, base_url=mock.openai_url))

    def read_one_then_close() -> None:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
        next(iter(stream))
        stream.close()

    async with recording(tmp_path) as rec:
        await asyncio.to_thread(read_one_then_close)
    (stop,) = stops(rec.path)
    assert stop["status"] == "cancelled" and stop["data"]["response_end"] == "closed_early"


async def test_without_a_collector_the_instrumented_client_passes_calls_through(mock: MockProvider) -> None:
    reply = await oai(mock).chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[attr-defined]
    assert reply.choices[0].message.content == "Answer 1: hello there"
    assert mock.requests[0].json()["messages"] == USER


async def test_an_endpoint_path_that_looks_like_a_sensitive_directory_survives_the_redactor(
    tmp_path: Path, mock: MockProvider
) -> None:
    client = trace_openai.instrument(openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=mock.url + "/etc/v1"))
    async with recording(tmp_path) as rec:
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[attr-defined]
    (req,) = asynctrace.requests(rec.path)
    assert req.url == mock.url + "/etc/v1/chat/completions" and req.path == "/chat/completions"
