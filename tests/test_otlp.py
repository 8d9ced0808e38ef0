"""OTLP export: a real OTLP/HTTP receiver on 127.0.0.1 decodes what
OpenTelemetry's exporter sends for asynctrace spans, live and offline."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs the otlp extra")

from _otlp_receiver import Receiver, closed_port_url, otlp_grpc_receiver, otlp_http_receiver
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

import asynctrace
from asynctrace._cli._main import main as cli_main
from asynctrace.export import ExportCounts, OTLPExporter
from asynctrace.testing import load_events

REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN = "00f067aa0ba902b7"


async def _agent(trace_dir: Path) -> Path:
    """A real trace: run, turn, llm with usage, a failing and a good tool,
    point events, a remote-parented span and an in-process child file."""
    async with asynctrace.collector(trace_dir=trace_dir, producer="otlp-test") as trace:
        async with asynctrace.run("answer", input="where is my order?"):
            async with asynctrace.turn(0):
                async with asynctrace.llm("gpt-4o-mini", provider="openai", input="q") as call:
                    call.first_token()
                    call.usage(input_tokens=812, output_tokens=96, cached_tokens=100)
                    call.finish("tool_calls", output="calling search")
                with pytest.raises(TimeoutError):
                    async with asynctrace.tool("search", args={"q": "order"}, tool_call_id="c1"):
                        raise TimeoutError("search timed out")
                async with asynctrace.tool("lookup", args={"id": 7}, custom_tag="blue") as t:
                    t.result("shipped")
                    await asynctrace.decision("next", "answer", reason="enough context")
                await asynctrace.checkpoint("answer", "saved")
            async with asynctrace.span("delegate"):
                async with asynctrace.collector(trace_dir=trace_dir, parent=asynctrace.capture()):
                    async with asynctrace.span("helper", kind="run"):
                        pass
        async with asynctrace.span("request", parent=f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"):
            async with asynctrace.span("inside-request"):
                pass
    assert trace.path is not None
    return Path(trace.path)


def _open(exporter: OTLPExporter, path: Path) -> list[Any]:
    """Open *exporter* on the file's trace.start; return the lines a collector would submit."""
    events = load_events(path)
    exporter.open(events[0])
    return [e for e in events[1:] if e.event != "trace.stop"]


def _drive(exporter: OTLPExporter, path: Path, batch: int = 5, timeout_s: float = 60.0) -> ExportCounts:
    """What a collector's exporters hook does: open, submit written batches, close."""
    body = _open(exporter, path)
    for i in range(0, len(body), batch):
        exporter.submit(body[i : i + batch])
    return exporter.close(timeout_s)


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _by_name(receiver: Receiver) -> dict[str, Span]:
    return {s.name: s for _, _, s in receiver.spans()}


@pytest.mark.anyio
async def test_live_export_round_trips_ids_parents_times_status_and_events(tmp_path: Path) -> None:
    path = await _agent(tmp_path)
    tree = asynctrace.load_tree(path, follow_children=False)
    with otlp_http_receiver() as rx:
        counts = _drive(OTLPExporter(endpoint=rx.url), path)
    assert counts == ExportCounts(errors=0, dropped=0)
    got = {s.span_id.hex(): s for _, _, s in rx.spans()}
    assert set(got) == set(tree.spans)
    for key, node in tree.spans.items():
        span = got[key]
        remote = node.data.get("parent_trace_id")
        parent = node.parent
        while remote is None and parent is not None:
            remote = parent.data.get("parent_trace_id")
            parent = parent.parent
        assert span.trace_id.hex() == (remote or tree.trace_id)
        assert span.parent_span_id.hex() == (node.parent_span_id or "")
        assert span.name == node.name
        assert span.start_time_unix_nano == node.start_ts_ns
        assert span.end_time_unix_nano == node.start_ts_ns + (node.duration_ns or 0)
        expected_code = {"ok": Status.STATUS_CODE_OK, "error": Status.STATUS_CODE_ERROR}
        assert span.status.code == expected_code.get(node.status or "", Status.STATUS_CODE_UNSET)
        points = [(e.event, e.ts_ns) for e in node.events]
        assert [(e.name, e.time_unix_nano) for e in span.events if e.name != "exception"] == points
    spans = _by_name(rx)
    search = spans["search"]
    assert search.status.message == "search timed out"
    (exc,) = [e for e in search.events if e.name == "exception"]
    assert _attrs(exc.attributes) == {
        "exception.type": "TimeoutError",
        "exception.message": "search timed out",
    }
    assert spans["inside-request"].trace_id.hex() == REMOTE_TRACE
    assert spans["request"].parent_span_id.hex() == REMOTE_SPAN


@pytest.mark.anyio
async def test_llm_and_tool_spans_carry_genai_and_openinference_names(tmp_path: Path) -> None:
    path = await _agent(tmp_path)
    with otlp_http_receiver() as rx:
        _drive(OTLPExporter(endpoint=rx.url), path)
    spans = _by_name(rx)
    llm = spans["gpt-4o-mini"]
    attrs = _attrs(llm.attributes)
    (stop,) = [e for e in load_events(path) if e.event == "llm.stop"]
    assert llm.kind == Span.SPAN_KIND_CLIENT
    assert {k: v for k, v in attrs.items() if k.startswith(("gen_ai.", "llm.", "input.", "output.", "openinference."))} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 812,
        "gen_ai.usage.output_tokens": 96,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.response.finish_reasons": ["tool_calls"],
        "gen_ai.response.time_to_first_chunk": stop.data["ttft_ns"] / 1e9,
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.provider": "openai",
        "llm.token_count.prompt": 812,
        "llm.token_count.completion": 96,
        "llm.token_count.total": 908,
        "llm.cost.total": stop.data["cost_usd"],
        "input.value": "q",
        "output.value": "calling search",
    }
    assert attrs["asynctrace.cost_usd"] == stop.data["cost_usd"] and attrs["asynctrace.kind"] == "llm"
    lookup = _attrs(spans["lookup"].attributes)
    assert spans["lookup"].kind == Span.SPAN_KIND_INTERNAL
    assert lookup["openinference.span.kind"] == "TOOL" and lookup["tool.name"] == "lookup"
    assert lookup["gen_ai.tool.name"] == "lookup" and lookup["gen_ai.operation.name"] == "execute_tool"
    assert json.loads(lookup["input.value"]) == {"id": 7} and lookup["output.value"] == "shipped"
    assert lookup["custom_tag"] == "blue"  # a user attribute that clashes with nothing keeps its name
    (decision,) = spans["lookup"].events
    assert _attrs(decision.attributes)["outcome"] == "answer"
    assert _attrs(spans["search"].attributes)["gen_ai.tool.call.id"] == "c1"
    assert _attrs(spans["answer"].attributes)["openinference.span.kind"] == "AGENT"
    assert _attrs(spans["turn"].attributes)["openinference.span.kind"] == "CHAIN"


@pytest.mark.anyio
async def test_the_resource_names_the_service_host_pid_and_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await _agent(tmp_path)
    start = load_events(path)[0]
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    with otlp_http_receiver() as rx:
        _drive(OTLPExporter(endpoint=rx.url), path)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        _drive(OTLPExporter(endpoint=rx.url), path)
        _drive(OTLPExporter(endpoint=rx.url, service_name="explicit"), path)
    resources = [_attrs(r.request.resource_spans[0].resource.attributes) for r in rx.received]
    first = resources[0]
    assert first["service.name"] == "otlp-test"  # the trace's producer
    assert first["host.name"] == start.data["host"] and first["process.pid"] == start.data["pid"]
    assert first["asynctrace.version"] == asynctrace.__version__
    assert first["deployment.environment"] == "test"
    assert {r["service.name"] for r in resources} == {"otlp-test", "from-env", "explicit"}
    assert rx.received[0].request.resource_spans[0].scope_spans[0].scope.name == "asynctrace"


@pytest.mark.anyio
async def test_gzip_bodies_are_sent_and_decoded(tmp_path: Path) -> None:
    path = await _agent(tmp_path)
    with otlp_http_receiver() as rx:
        counts = _drive(OTLPExporter(endpoint=rx.url, compression="gzip"), path)
    assert counts == ExportCounts()
    assert {r.headers.get("Content-Encoding") for r in rx.received} == {"gzip"}
    assert len(rx.spans()) == len(asynctrace.load_tree(path, follow_children=False).spans)


@pytest.mark.anyio
async def test_503s_are_retried_by_opentelemetry_while_submit_never_waits(tmp_path: Path) -> None:
    path = await _agent(tmp_path)
    with otlp_http_receiver() as rx:
        rx.statuses = [503, 503]
        rx.gate = threading.Event()  # the endpoint hangs until released
        exporter = OTLPExporter(endpoint=rx.url, max_batch_spans=1000)
        body = _open(exporter, path)
        exporter.submit(body[:10])
        assert rx.wait_for(lambda r: r.attempts >= 1)
        # The export thread is stuck in a request; the program's side returns at once.
        exporter.submit(body[10:])
        rx.gate.set()
        counts = exporter.close(60.0)
    assert counts == ExportCounts(errors=0, dropped=0)
    assert rx.attempts >= 3  # two 503s, then accepted
    assert len(rx.spans()) == len(asynctrace.load_tree(path, follow_children=False).spans)


@pytest.mark.anyio
async def test_a_down_endpoint_costs_only_counted_errors_and_drops_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = await _agent(tmp_path)
    n = len(asynctrace.load_tree(path, follow_children=False).spans)
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        counts = _drive(OTLPExporter(endpoint=closed_port_url(), timeout=0.5, max_batch_spans=2), path)
    assert counts.errors >= 1
    assert counts.dropped == n  # every span is accounted for, none delivered
    ours = [r for r in caplog.records if r.name == "asynctrace"]
    assert len(ours) == 1 and "OTLP export failed" in ours[0].getMessage()


@pytest.mark.anyio
async def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    path = await _agent(tmp_path)
    with otlp_http_receiver() as rx:
        rx.gate = threading.Event()
        exporter = OTLPExporter(endpoint=rx.url, max_queue_spans=2, max_batch_spans=1)
        exporter.submit(_open(exporter, path))
        rx.gate.set()
        counts = exporter.close(60.0)
    assert counts.errors == 0 and counts.dropped > 0
    assert counts.dropped + len(rx.spans()) == len(asynctrace.load_tree(path, follow_children=False).spans)


def test_close_without_open_reports_nothing_and_misuse_is_refused() -> None:
    exporter = OTLPExporter(endpoint="http://127.0.0.1:9/v1/traces")
    assert exporter.close(1.0) == ExportCounts()
    with pytest.raises(RuntimeError):
        exporter.submit([])
    with pytest.raises(ValueError):
        OTLPExporter(protocol="carrier-pigeon")
    with pytest.raises(ValueError):
        OTLPExporter(max_queue_spans=0)
    with pytest.raises(ValueError):
        OTLPExporter(compression="brotli")


def test_an_otlp_exporter_satisfies_the_exporter_protocol() -> None:
    assert isinstance(OTLPExporter(endpoint="http://127.0.0.1:9/v1/traces"), asynctrace.export.Exporter)


@pytest.mark.anyio
async def test_the_grpc_exporter_delivers_to_a_grpc_receiver(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="needs the otlp-grpc extra")
    path = await _agent(tmp_path)
    with otlp_grpc_receiver() as rx:
        counts = _drive(OTLPExporter(endpoint=rx.url, protocol="grpc", timeout=30), path)
    assert counts == ExportCounts()
    assert {s.span_id.hex() for _, _, s in rx.spans()} == set(
        asynctrace.load_tree(path, follow_children=False).spans
    )


@pytest.mark.anyio
async def test_the_cli_ships_a_trace_and_its_child_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = await _agent(tmp_path)
    tree = asynctrace.load_tree(path)
    expected = {k for t in tree.traces() for k in t.spans}
    with otlp_http_receiver() as rx:
        assert cli_main(["export", "--format", "otlp", "--endpoint", rx.url, str(path)]) == 0
    assert {s.span_id.hex() for _, _, s in rx.spans()} == expected
    assert "2 files" in capsys.readouterr().err
    # The child file's root span hangs off the span that opened the child collector.
    spans = _by_name(rx)
    assert spans["helper"].parent_span_id == spans["delegate"].span_id
    assert spans["helper"].trace_id == spans["delegate"].trace_id


def test_the_cli_reports_a_down_endpoint_with_a_failing_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from _tracegen import research_trace

    parent, _ = research_trace(child=False)
    path = parent.write(tmp_path)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    assert cli_main(["export", "--format", "otlp", "--endpoint", closed_port_url(), str(path)]) == 1
    assert "not delivered" in capsys.readouterr().err


@pytest.mark.anyio
async def test_otlp_json_writes_one_export_request_per_line_with_hex_ids(tmp_path: Path) -> None:
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    path = await _agent(tmp_path)
    out = tmp_path / "out.jsonl"
    assert cli_main(["export", "--format", "otlp-json", "-o", str(out), str(path)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2  # the trace file and its child file
    ids: set[str] = set()
    for line in lines:
        doc = json.loads(line)
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16
                    ids.add(span["spanId"])
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in span:
                            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        ParseDict(doc, ExportTraceServiceRequest())  # the OTLP schema, field for field
    tree = asynctrace.load_tree(path)
    assert ids == {k for t in tree.traces() for k in t.spans}


def test_an_unfinished_span_of_a_crashed_trace_is_exported_marked(tmp_path: Path) -> None:
    from _tracegen import crashed_trace

    from asynctrace.export import write_otlp_json

    path = crashed_trace().write(tmp_path)
    out = tmp_path / "crashed.jsonl"
    with out.open("w") as f:
        write_otlp_json(path, f)
    spans = [s for line in out.read_text().splitlines() for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    open_ids = {n.key for n in asynctrace.load_tree(path).open_spans}
    assert open_ids
    marked = {s["spanId"] for s in spans if {"key": "asynctrace.unfinished", "value": {"boolValue": True}} in s["attributes"]}
    assert marked == open_ids


def test_importing_asynctrace_imports_no_opentelemetry() -> None:
    code = "import sys, asynctrace, asynctrace.export; sys.exit(any(m.startswith('opentelemetry') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_otlp_exporter_satisfies_the_live_exporter_protocol() -> None:
    assert isinstance(OTLPExporter(endpoint=closed_port_url()), asynctrace.export.Exporter)


@pytest.mark.anyio
async def test_a_collector_streams_its_spans_live_to_an_otlp_receiver(tmp_path: Path) -> None:
    with otlp_http_receiver() as rx:
        async with asynctrace.collector(
            trace_dir=tmp_path, exporters=[OTLPExporter(endpoint=rx.url, max_batch_spans=1)]
        ) as trace:
            async with asynctrace.span("agent", kind="run"):
                async with asynctrace.span("search", kind="tool"):
                    pass
                with pytest.raises(ValueError):
                    async with asynctrace.span("broken", kind="tool"):
                        raise ValueError("boom")
    assert trace.path is not None
    by_name = {n.name: n for n in asynctrace.load_tree(trace.path).spans.values()}
    got = _by_name(rx)
    assert set(got) == set(by_name) == {"agent", "search", "broken"}
    for name, span in got.items():
        node = by_name[name]
        assert span.trace_id.hex() == trace.trace_id
        assert span.span_id.hex() == node.span_id
        assert (span.parent_span_id.hex() or None) == node.parent_span_id
    assert got["broken"].status.code == Status.STATUS_CODE_ERROR
    counts = load_events(trace.path)[-1].data["counts"]
    assert counts["export_errors"] == 0 and counts["export_dropped"] == 0


@pytest.mark.anyio
async def test_a_collector_whose_otlp_endpoint_is_down_counts_it_in_trace_stop(tmp_path: Path) -> None:
    exporter = OTLPExporter(endpoint=closed_port_url(), timeout=0.5, max_batch_spans=1)
    async with asynctrace.collector(trace_dir=tmp_path, exporters=[exporter]) as trace:
        for i in range(3):
            async with asynctrace.span(f"step{i}"):
                pass
    assert trace.path is not None
    events = load_events(trace.path)
    counts = events[-1].data["counts"]
    assert counts["export_errors"] >= 1 and counts["export_dropped"] == 3
    # The file stays the source of truth: every span is written.
    assert sum(e.event == "span.stop" for e in events) == 3


@pytest.mark.anyio
async def test_otlp_json_of_a_directory_exports_each_span_of_a_rotated_trace_once(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "traces"
    async with asynctrace.collector(trace_dir=traces, max_file_bytes=600) as trace:
        async with asynctrace.run("r"):
            for i in range(5):
                async with asynctrace.tool("t", args={"i": i}):
                    pass
    assert len(asynctrace.read(trace.path).parts) > 2
    out = tmp_path / "out.jsonl"
    assert cli_main(["export", "--format", "otlp-json", "-o", str(out), str(traces)]) == 0
    span_ids = [
        span["spanId"]
        for line in out.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert len(span_ids) == 6  # the run and five tools, not once per part
    assert len(set(span_ids)) == 6
