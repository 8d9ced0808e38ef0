"""The agent vocabulary: llm/tool/turn/run spans and decision/error/checkpoint events."""

from __future__ import annotations

from pathlib import Path

import pytest

import asynctrace
from asynctrace.testing import recording

pytestmark = pytest.mark.anyio


async def test_an_llm_span_records_model_tokens_cost_ttft_and_finish(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.llm(
            "gpt-4o", provider="openai", params={"temperature": 0}, input="hi"
        ) as call:
            call.first_token()
            call.usage(input_tokens=1_000_000, output_tokens=1_000_000, cached_tokens=0)
            call.finish("stop", "hello")
    start, stop = rec.find("llm.start")[0], rec.find("llm.stop")[0]
    assert start.data["model"] == "gpt-4o"
    assert start.data["provider"] == "openai"
    assert start.data["params"] == {"temperature": 0}
    price = asynctrace.DEFAULT_PRICES.get("gpt-4o")
    assert price is not None
    assert stop.data["cost_usd"] == pytest.approx(price.input_per_mtok + price.output_per_mtok)
    assert stop.data["input_tokens"] == stop.data["output_tokens"] == 1_000_000
    assert stop.data["finish_reason"] == "stop"
    assert stop.data["output"] == "hello"
    assert isinstance(stop.data["ttft_ns"], int)


async def test_an_unknown_model_has_null_cost_never_zero(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.llm("my-private-model") as call:
            call.usage(input_tokens=10, output_tokens=5)
        await asynctrace.llm_call("my-private-model", input_tokens=1, output_tokens=1)
    assert rec.find("llm.stop")[0].data["cost_usd"] is None
    assert rec.find("llm.call")[0].data["cost_usd"] is None
    summary = rec.stop.data["summary"]
    assert summary["cost_usd"] is None
    assert summary["unpriced_llm_calls"] == 2


async def test_a_custom_price_table_prices_a_model_the_default_does_not_know(tmp_path: Path) -> None:
    prices = asynctrace.PriceTable()
    prices.set("house-model", asynctrace.ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0))
    async with recording(tmp_path) as rec:
        await asynctrace.llm_call("house-model", input_tokens=500_000, output_tokens=250_000, prices=prices)
    assert rec.find("llm.call")[0].data["cost_usd"] == pytest.approx(1.0)


def test_token_counts_are_validated() -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        asynctrace.llm_call_nowait("gpt-4o", input_tokens=-1)
    with pytest.raises(ValueError, match="cached_tokens"):
        asynctrace.llm_call_nowait("gpt-4o", input_tokens=1, cached_tokens=2)


async def test_a_tool_span_clips_its_result_and_records_errors(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.tool("fetch", args={"url": "u"}, tool_call_id="c1", result_chars=10) as t:
            t.result("x" * 100)
        with pytest.raises(TimeoutError):
            async with asynctrace.tool("slow"):
                raise TimeoutError("too slow")
    ok, failed = rec.find("tool.stop")
    assert ok.status == "ok"
    assert ok.data["result"] == "x" * 10 + "…[100 chars]"
    assert rec.find("tool.start")[0].data == {"name": "fetch", "args": {"url": "u"}, "tool_call_id": "c1"}
    assert failed.status == "error"
    assert (failed.data["error_type"], failed.data["error_message"]) == ("TimeoutError", "too slow")


async def test_point_events_carry_the_documented_fields(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.turn(3) as turn:
            await asynctrace.decision("route", "search", reason="needs facts")
            asynctrace.error_nowait("TOOL_TIMEOUT", "slow", attempted=True, strategy="retry", success=False)
            await asynctrace.checkpoint("plan", "started")
            asynctrace.tool_call_nowait("calc", args={"x": 1}, result=2, duration_ns=5, ok=False)
    (decision,) = rec.find("decision")
    assert decision.data == {"decision_type": "route", "outcome": "search", "reason": "needs facts"}
    assert decision.parent_span_id == turn.span_id
    (error,) = rec.find("error")
    assert error.data["recovery"] == {"attempted": True, "strategy": "retry", "success": False}
    assert rec.find("checkpoint")[0].data == {"phase": "plan", "status": "started"}
    (call,) = rec.find("tool.call")
    assert (call.status, call.duration_ns, call.data["result"]) == ("error", 5, 2)
    assert rec.find("turn.start")[0].data == {"name": "turn", "turn": 3}


async def test_run_spans_lift_agent_id_and_write_agent_config_once(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.run("r", agent_id="a1", agent_config={"model": "m"}):
            pass
    assert rec.names() == ["agent.config", "run.start", "run.stop"]
    assert {e.agent_id for e in rec.events[1:-1]} == {"a1"}


async def test_the_summary_in_trace_stop_matches_a_recompute_from_the_file(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.run("r"):
            for i in range(3):
                async with asynctrace.llm("gpt-4o-mini") as call:
                    call.usage(input_tokens=100 * i, output_tokens=10, cached_tokens=i)
                async with asynctrace.tool("t", args=i) as t:
                    t.result(i)
            asynctrace.llm_call_nowait("unknown-model", input_tokens=5, ok=False)
            asynctrace.error_nowait("E", "m")
    written = rec.stop.data["summary"]
    assert written == asynctrace.summarize(rec.path)
    assert written["llm_calls"] == 4
    assert written["llm_errors"] == 1
    assert written["tool_success_rate"] == 1.0
    assert written["input_tokens"] == 305
    assert written["errors"] == 2


async def test_vocabulary_helpers_are_no_ops_without_a_collector() -> None:
    async with asynctrace.llm("gpt-4o") as call:
        call.usage(input_tokens=1, output_tokens=1)
        call.first_token()
    async with asynctrace.tool("t") as t:
        t.result(1)
    await asynctrace.decision("d", "o")
    asynctrace.checkpoint_nowait("p")
    assert not call.is_recording and not t.is_recording
