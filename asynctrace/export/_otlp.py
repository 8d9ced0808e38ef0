"""asynctrace spans as OpenTelemetry spans (the ``otlp`` extra).

Events are assembled into spans in file order (``SpanAssembler``) and
turned into ``opentelemetry.sdk.trace.ReadableSpan`` objects
(``to_readable_span``), which OpenTelemetry's own ``OTLPSpanExporter``
ships: retries, backoff, ``Retry-After``, compression, timeouts and the
wire format are OpenTelemetry's.  LLM spans carry both the OpenTelemetry
GenAI and the OpenInference attribute names; see docs/interop.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as OtelEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from .._context._w3c import tracestate_pairs
from .._events._schema import EVENT_OMITTED, TRACE_START, TRACE_STOP, Event
from .._reading._reader import read
from .._reading._tree import load_tree
from .._storage._rotation import ROTATED
from .._version import __version__

SCOPE: Final = InstrumentationScope("asynctrace", __version__)
PREFIX: Final = "asynctrace."
# Point events kept per span; the rest are counted in asynctrace.dropped_events.
MAX_EVENTS_PER_SPAN: Final = 128

_KIND: Final = {"llm": SpanKind.CLIENT}
_OPENINFERENCE_KIND: Final = {"llm": "LLM", "tool": "TOOL", "run": "AGENT"}
# asynctrace's own data keys: written under the asynctrace. prefix, so they
# can never clash with a backend's names and stay recoverable.
_VOCABULARY: Final = frozenset(
    {
        "model", "provider", "input_tokens", "output_tokens", "cached_tokens", "cost_usd",
        "finish_reason", "ttft_ns", "params", "input", "output", "tool_call_id", "args",
        "result", "error_type", "error_message", "turn", "child_file_id", "child_file_ids",
        "child_trace_id", "child_trace_ids", "parent_trace_id", "unfinished", "omitted_bytes",
        "response_model", "operation", "status", "kind", "agent_id",
    }
)  # fmt: skip
# Namespaces other conventions own: a user attribute starting with one is prefixed.
_RESERVED_ROOTS: Final = frozenset(
    {
        "gen_ai", "llm", "tool", "input", "output", "openinference", "service", "telemetry",
        "http", "url", "server", "client", "exception", "error", "otel", "asynctrace",
        "session", "user", "metadata", "embedding", "retrieval", "reranker", "document",
        "message", "agent", "graph", "process", "host", "code", "db", "rpc", "network",
    }
)  # fmt: skip


# -- assembling spans from events ------------------------------------------------


@dataclass
class SpanRecord:
    """One span read back from events, before it becomes an OpenTelemetry span."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    name: str
    start_ns: int
    end_ns: int
    status: str | None
    data: dict[str, Any]
    agent_id: str | None = None
    events: list[Event] = field(default_factory=list)
    dropped_events: int = 0
    unfinished: bool = False
    remote_parent: bool = False


class FileContext:
    """What a file's ``trace.start`` tells every span of it."""

    def __init__(self, start: Event | None, *, service_name: str | None = None) -> None:
        data = start.data if start is not None else {}
        self.trace_id = start.trace_id if start is not None else ""
        parent_span = data.get("parent_span_id")
        self.parent_span_id = parent_span if isinstance(parent_span, str) else None
        self.tracestate = _tracestate_of(data)
        self.resource = build_resource(data, service_name=service_name)


def _tracestate_of(data: Mapping[str, Any]) -> TraceState:
    value = data.get("tracestate")
    pairs = tracestate_pairs(value) if isinstance(value, str) else None
    return TraceState(pairs or [])


def build_resource(start_data: Mapping[str, Any], *, service_name: str | None = None) -> Resource:
    """The file's process as an OpenTelemetry resource.

    ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` apply (through
    OpenTelemetry's own ``Resource.create``); an explicit *service_name*
    wins over them; with neither, the trace's producer, else ``asynctrace``.
    """
    attrs: dict[str, Any] = {"telemetry.sdk.name": "asynctrace"}
    for key, src in (
        ("host.name", "host"),
        ("process.pid", "pid"),
        ("process.runtime.version", "python_version"),
        ("asynctrace.version", "asynctrace_version"),
    ):
        value = start_data.get(src)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            attrs[key] = value
    attrs.setdefault("asynctrace.version", __version__)
    if service_name:
        attrs["service.name"] = service_name
    resource = Resource.create(attrs)
    current = resource.attributes.get("service.name")
    if not service_name and (not isinstance(current, str) or current.startswith("unknown_service")):
        producer = start_data.get("producer")
        fallback = producer if isinstance(producer, str) and producer else "asynctrace"
        resource = resource.merge(Resource({"service.name": fallback}))
    return resource


class SpanAssembler:
    """Pairs start/stop events into ``SpanRecord``s, in file order.

    ``feed`` returns the spans an event finished.  Point events join their
    open parent span as span events; one whose parent is not open becomes a
    zero-length span of its own, so nothing is left out.  ``finish`` ends the
    spans still open as unfinished.
    """

    def __init__(self, start: Event | None = None) -> None:
        self.file_trace_id = start.trace_id if start is not None else ""
        data = start.data if start is not None else {}
        parent = data.get("parent_span_id")
        self.file_parent = parent if isinstance(parent, str) else None
        self._open: dict[str, SpanRecord] = {}
        self._last_ns = start.ts_ns if start is not None else 0

    @property
    def open_count(self) -> int:
        return len(self._open)

    def _trace_of(self, parent_span_id: str | None, data: Mapping[str, Any]) -> str:
        remote = data.get("parent_trace_id")
        if isinstance(remote, str):
            return remote
        parent = self._open.get(parent_span_id) if parent_span_id else None
        return parent.trace_id if parent is not None else self.file_trace_id

    def _record(self, ev: Event, kind: str, start_ns: int, end_ns: int, data: dict[str, Any]) -> SpanRecord:
        name = data.get("name")
        # A file's root spans hang off the span its trace.start continues
        # (another file, process or service), so backends stitch one trace.
        parent = ev.parent_span_id or self.file_parent
        return SpanRecord(
            trace_id=self._trace_of(ev.parent_span_id, data),
            span_id=ev.span_id or "",
            parent_span_id=parent,
            kind=kind,
            name=name if isinstance(name, str) and name else _default_name(kind, data),
            start_ns=start_ns,
            end_ns=end_ns,
            status=ev.status,
            data=data,
            agent_id=ev.agent_id,
            remote_parent=parent is not None
            and (parent == self.file_parent or "parent_trace_id" in data),
        )

    def feed(self, ev: Event) -> list[SpanRecord]:
        name = ev.event
        if name == TRACE_START:
            return []
        if name == TRACE_STOP:
            if ev.data.get("reason") == ROTATED:
                return []  # a part ended, the trace goes on in the next one
            return self.finish(ev.ts_ns)
        self._last_ns = max(self._last_ns, ev.ts_ns)
        data = ev.data
        if name == EVENT_OMITTED and isinstance(data.get("event"), str):
            name = data["event"]
            data = {"omitted_bytes": data.get("bytes")}
        kind, _, phase = name.partition(".")
        if ev.span_id and phase == "start":
            self._open[ev.span_id] = self._record(ev, kind, ev.ts_ns, ev.ts_ns, dict(data))
            return []
        if ev.span_id and phase == "stop":
            rec = self._open.pop(ev.span_id, None)
            duration = ev.duration_ns or 0
            if rec is None:  # its start was not read: rebuild it from the stop
                rec = self._record(ev, kind, ev.ts_ns - duration, ev.ts_ns, {})
            rec.data.update(data)
            rec.end_ns = rec.start_ns + duration
            rec.status = ev.status
            rec.unfinished = bool(data.get("unfinished"))
            return [rec]
        if phase == "call":
            duration = ev.duration_ns or 0
            rec = self._record(ev, kind, ev.ts_ns - duration, ev.ts_ns, dict(data))
            if not rec.span_id:
                rec.span_id = _derived_span_id(ev)
            return [rec]
        owner = self._open.get(ev.parent_span_id) if ev.parent_span_id else None
        if owner is not None:
            if len(owner.events) < MAX_EVENTS_PER_SPAN:
                owner.events.append(ev)
            else:
                owner.dropped_events += 1
            return []
        rec = self._record(ev, kind or "event", ev.ts_ns, ev.ts_ns, {"name": name})
        rec.span_id = _derived_span_id(ev)
        rec.events.append(ev)
        return [rec]

    def finish(self, end_ns: int | None = None) -> list[SpanRecord]:
        """End every open span as unfinished, at *end_ns* (default: the last event seen)."""
        end = self._last_ns if end_ns is None else end_ns
        out = list(self._open.values())
        self._open.clear()
        for rec in out:
            rec.end_ns = max(end, rec.start_ns)
            rec.unfinished = True
            rec.status = rec.status or "cancelled"
        return out


def _derived_span_id(ev: Event) -> str:
    # Stable across exports of the same file: derived from the trace and seq.
    digest = hashlib.blake2b(f"{ev.trace_id}:{ev.seq}:{ev.ts_ns}".encode(), digest_size=8)
    sid = digest.hexdigest()
    return sid if sid != "0" * 16 else "0" * 15 + "1"


def _default_name(kind: str, data: Mapping[str, Any]) -> str:
    model = data.get("model")
    return model if isinstance(model, str) and model else kind


# -- attributes ---------------------------------------------------------------


def attribute_value(value: Any) -> Any:
    """An OpenTelemetry attribute value: primitives and homogeneous lists as they are,
    anything else as JSON text; ``None`` for nothing to write."""
    if value is None:
        return None
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, list | tuple) and value:
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and kinds <= {str, bool, float, int}:
            if kinds == {int} and not all(-(2**63) <= v < 2**63 for v in value):
                return [str(v) for v in value]
            return list(value)
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def attribute_key(key: str) -> str:
    """Where a data key goes: asynctrace's vocabulary and clashing names get the prefix."""
    if key in _VOCABULARY or key.partition(".")[0] in _RESERVED_ROOTS:
        return PREFIX + key
    return key


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    converted = attribute_value(value)
    if converted is not None:
        attrs[key] = converted


def span_attributes(rec: SpanRecord) -> dict[str, Any]:
    """Every attribute of a span: GenAI and OpenInference names plus the data under its own names."""
    data = rec.data
    attrs: dict[str, Any] = {PREFIX + "kind": rec.kind}
    if rec.agent_id is not None:
        attrs[PREFIX + "agent_id"] = rec.agent_id
    attrs["openinference.span.kind"] = _OPENINFERENCE_KIND.get(rec.kind, "CHAIN")
    if rec.kind == "llm":
        _llm_attributes(attrs, data)
    elif rec.kind == "tool":
        _tool_attributes(attrs, rec.name, data)
    elif rec.kind == "run":
        attrs["gen_ai.operation.name"] = "invoke_agent"
        attrs["gen_ai.agent.name"] = rec.name
        _put(attrs, "input.value", _text(data.get("input")))
        _put(attrs, "output.value", _text(data.get("output")))
    for key, value in data.items():
        if key != "name":
            _put(attrs, attribute_key(key), value)
    if rec.unfinished:
        attrs[PREFIX + "unfinished"] = True
    if rec.status is not None:
        attrs[PREFIX + "status"] = rec.status
    if rec.dropped_events:
        attrs[PREFIX + "dropped_events"] = rec.dropped_events
    return attrs


def _llm_attributes(attrs: dict[str, Any], data: Mapping[str, Any]) -> None:
    model = data.get("model")
    provider = data.get("provider")
    operation = data.get("operation")
    attrs["gen_ai.operation.name"] = operation if isinstance(operation, str) else "chat"
    _put(attrs, "gen_ai.provider.name", provider)
    _put(attrs, "gen_ai.request.model", model)
    _put(attrs, "gen_ai.response.model", data.get("response_model", model))
    input_tokens = data.get("input_tokens")
    output_tokens = data.get("output_tokens")
    _put(attrs, "gen_ai.usage.input_tokens", input_tokens)
    _put(attrs, "gen_ai.usage.output_tokens", output_tokens)
    _put(attrs, "gen_ai.usage.cache_read.input_tokens", data.get("cached_tokens"))
    finish = data.get("finish_reason")
    if isinstance(finish, str):
        attrs["gen_ai.response.finish_reasons"] = [finish]
    ttft = data.get("ttft_ns")
    if isinstance(ttft, int) and not isinstance(ttft, bool):
        attrs["gen_ai.response.time_to_first_chunk"] = ttft / 1e9
    _put(attrs, "llm.model_name", model)
    _put(attrs, "llm.provider", provider)
    _put(attrs, "llm.token_count.prompt", input_tokens)
    _put(attrs, "llm.token_count.completion", output_tokens)
    if isinstance(input_tokens, int) and isinstance(output_tokens, int):
        attrs["llm.token_count.total"] = input_tokens + output_tokens
    _put(attrs, "llm.cost.total", data.get("cost_usd"))
    _put(attrs, "input.value", _text(data.get("input")))
    _put(attrs, "output.value", _text(data.get("output")))


def _tool_attributes(attrs: dict[str, Any], name: str, data: Mapping[str, Any]) -> None:
    attrs["gen_ai.operation.name"] = "execute_tool"
    attrs["gen_ai.tool.name"] = name
    attrs["tool.name"] = name
    _put(attrs, "gen_ai.tool.call.id", data.get("tool_call_id"))
    _put(attrs, "input.value", _text(data.get("args")))
    _put(attrs, "output.value", _text(data.get("result")))


def _event_attributes(ev: Event) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in ev.data.items():
        _put(attrs, key, value)
    if ev.event == "error":
        _put(attrs, "exception.type", ev.data.get("error_type"))
        _put(attrs, "exception.message", ev.data.get("message"))
    attrs[PREFIX + "seq"] = ev.seq
    return attrs


# -- OpenTelemetry spans --------------------------------------------------------


def to_readable_span(rec: SpanRecord, resource: Resource, tracestate: TraceState | None = None) -> ReadableSpan:
    """One asynctrace span as an OpenTelemetry ``ReadableSpan``, ready for any SpanExporter."""
    state = tracestate or TraceState()
    trace_id = int(rec.trace_id, 16)
    context = SpanContext(trace_id, int(rec.span_id, 16), False, TraceFlags(TraceFlags.SAMPLED), state)
    parent = None
    if rec.parent_span_id:
        parent = SpanContext(
            trace_id, int(rec.parent_span_id, 16), rec.remote_parent, TraceFlags(TraceFlags.SAMPLED), state
        )
    events = [
        OtelEvent(ev.event, _event_attributes(ev), ev.ts_ns) for ev in rec.events
    ]
    if rec.status == "error":
        status = Status(StatusCode.ERROR, _text(rec.data.get("error_message")))
        exc: dict[str, Any] = {}
        _put(exc, "exception.type", rec.data.get("error_type"))
        _put(exc, "exception.message", rec.data.get("error_message"))
        if exc:
            events.append(OtelEvent("exception", exc, rec.end_ns))
    elif rec.status == "ok":
        status = Status(StatusCode.OK)
    else:
        status = Status(StatusCode.UNSET)
    return ReadableSpan(
        name=rec.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=span_attributes(rec),
        events=events,
        kind=_KIND.get(rec.kind, SpanKind.INTERNAL),
        status=status,
        start_time=rec.start_ns,
        end_time=rec.end_ns,
        instrumentation_scope=SCOPE,
    )


def file_spans(path: str | os.PathLike[str], *, service_name: str | None = None) -> Iterator[ReadableSpan]:
    """Every span of one trace file (not its children), in the order they ended."""
    reader = read(path)
    ctx = FileContext(reader.start, service_name=service_name)
    assembler = SpanAssembler(reader.start)
    for ev in reader:
        for rec in assembler.feed(ev):
            yield to_readable_span(rec, ctx.resource, ctx.tracestate)
    for rec in assembler.finish():
        yield to_readable_span(rec, ctx.resource, ctx.tracestate)


def trace_files(path: str | os.PathLike[str]) -> list[Path]:
    """A trace file and its joined child files, or every trace file of a directory.

    A rotated trace is read whole from any of its parts, so a directory
    lists only first parts (their ``trace.start`` names no ``prev_file_id``):
    otherwise every part would export the whole chain again."""
    p = Path(path)
    if p.is_dir():
        from .._reading._open import looks_like_trace_name
        from .._storage._header import read_start

        files = sorted(f for f in p.iterdir() if f.is_file() and looks_like_trace_name(f))
        return [f for f in files if not _continues_a_part(read_start(f))]
    return [t.path for t in load_tree(p).traces()]


def _continues_a_part(start: Event | None) -> bool:
    return start is not None and bool(start.data.get("prev_file_id"))


def batched(spans: Iterable[ReadableSpan], size: int) -> Iterator[list[ReadableSpan]]:
    batch: list[ReadableSpan] = []
    for s in spans:
        batch.append(s)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- the OTLP JSON file format ------------------------------------------------------

_ID_KEYS: Final = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> Any:
    # protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants ids in hex.
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` in the OTLP/JSON encoding (hex ids, integer enums)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    message = encode_spans(spans)
    return dict(_hex_ids(MessageToDict(message, use_integers_for_enums=True)))


# -- offline export ---------------------------------------------------------------


def export_otlp(
    path: str | os.PathLike[str],
    exporter: Any = None,
    *,
    batch_spans: int = 512,
    service_name: str | None = None,
    **options: Any,
) -> tuple[int, int]:
    """Ship finished trace files (a file and its children, or a directory) over OTLP.

    *exporter*: an OpenTelemetry ``SpanExporter``; default OpenTelemetry's
    OTLP exporter built from *options* (``endpoint``, ``protocol``,
    ``headers``, ``timeout``, ``compression``) and the ``OTEL_EXPORTER_OTLP_*``
    variables.  Returns ``(spans exported, spans that failed)``.
    """
    from opentelemetry.sdk.trace.export import SpanExportResult

    from ._otlp_endpoint import otlp_span_exporter

    if batch_spans <= 0:
        raise ValueError("batch_spans must be > 0")
    own = exporter is None
    span_exporter = otlp_span_exporter(**options) if own else exporter
    sent = failed = 0
    try:
        for file in trace_files(path):
            for batch in batched(file_spans(file, service_name=service_name), batch_spans):
                if span_exporter.export(batch) == SpanExportResult.SUCCESS:
                    sent += len(batch)
                else:
                    failed += len(batch)
    finally:
        if own:
            span_exporter.shutdown()
    return sent, failed


def write_otlp_json(
    path: str | os.PathLike[str],
    out: Any,
    *,
    batch_spans: int = 512,
    service_name: str | None = None,
) -> int:
    """Write the OTLP JSON file format to the text stream *out*: one
    ``ExportTraceServiceRequest`` per line, as OpenTelemetry's file exporter
    does.  Returns the number of spans written."""
    if batch_spans <= 0:
        raise ValueError("batch_spans must be > 0")
    count = 0
    for file in trace_files(path):
        for batch in batched(file_spans(file, service_name=service_name), batch_spans):
            out.write(json.dumps(otlp_json(batch), separators=(",", ":")) + "\n")
            count += len(batch)
    return count
