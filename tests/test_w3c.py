"""W3C Trace Context unit behaviour: flags, tracestate, header containers,
trace id continuation and ``span(parent=...)``."""

from __future__ import annotations

import email.message
from pathlib import Path

import pytest
from multidict import CIMultiDict, MultiDict

import asynctrace
from asynctrace._context._w3c import (
    MAX_TRACESTATE_CHARS,
    header_values,
    parse_tracestate,
)
from asynctrace.testing import recording

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
TP = f"00-{TID}-{SID}-01"


def test_the_flags_byte_is_kept_and_unknown_bits_are_cleared() -> None:
    assert asynctrace.parse_traceparent(f"00-{TID}-{SID}-03").flags == 0x03
    tp = asynctrace.parse_traceparent(f"00-{TID}-{SID}-ff")
    assert tp is not None and tp.flags == 0x03 and tp.sampled and tp.random
    assert asynctrace.TraceParent(TID, SID, 0x02).header() == f"00-{TID}-{SID}-02"


def test_a_bool_is_accepted_as_the_sampled_flag() -> None:
    assert asynctrace.TraceParent(TID, SID, False).header().endswith("-00")
    assert asynctrace.TraceParent(TID, SID, True).sampled


@pytest.mark.parametrize(
    ("trace_id", "span_id", "flags"),
    [("0" * 32, SID, 1), (TID.upper(), SID, 1), (TID, "0" * 16, 1), (TID, SID, 256), (TID, SID, -1)],
)
def test_an_invalid_traceparent_cannot_be_built(trace_id: str, span_id: str, flags: int) -> None:
    with pytest.raises(ValueError):
        asynctrace.TraceParent(trace_id, span_id, flags)


def test_traceparent_ows_is_spaces_and_tabs_only() -> None:
    assert asynctrace.parse_traceparent(f" \t{TP}\t ") is not None
    assert asynctrace.parse_traceparent(f"{TP}\n") is None


def test_repeated_tracestate_lines_combine_and_the_first_of_a_repeated_key_wins() -> None:
    assert parse_tracestate(["a=1, b=2", "", "c=3,a=9"]) == "a=1,b=2,c=3"


def test_one_invalid_member_drops_the_whole_tracestate() -> None:
    assert parse_tracestate("a=1,B=2") is None
    assert parse_tracestate(",".join(f"k{i}=v" for i in range(33))) is None
    assert parse_tracestate(",".join(f"k{i}=v" for i in range(32))) is not None


def test_a_long_tracestate_loses_long_members_first_then_from_the_right() -> None:
    long = "big=" + "x" * 200
    members = [f"k{i:02d}=" + "v" * 40 for i in range(12)]  # 12 * 44 + 11 commas > 512
    out = parse_tracestate([long, *members])
    assert out is not None and len(out) <= MAX_TRACESTATE_CHARS
    kept = out.split(",")
    assert not any(m.startswith("big=") for m in kept)
    assert kept == members[: len(kept)] and len(kept) == 11


def test_a_tracestate_is_dropped_when_the_traceparent_is_invalid() -> None:
    assert asynctrace.extract({"traceparent": "garbage", "tracestate": "a=1"}) is None


def test_two_traceparent_lines_are_invalid() -> None:
    assert asynctrace.extract([("traceparent", TP), ("traceparent", TP)]) is None


HEADER_CONTAINERS = [
    pytest.param({"TraceParent": TP, "tracestate": "a=1,b=2"}, id="dict, any case"),
    pytest.param({"traceparent": [TP], "tracestate": ["a=1", "b=2"]}, id="dict of lists"),
    pytest.param(CIMultiDict([("traceparent", TP), ("tracestate", "a=1"), ("TraceState", "b=2")]), id="aiohttp"),
    pytest.param(MultiDict([("Traceparent", TP), ("tracestate", "a=1"), ("tracestate", "b=2")]), id="multidict, case-sensitive"),
    pytest.param([("traceparent", TP), ("tracestate", "a=1"), ("tracestate", "b=2")], id="pairs"),
    pytest.param([(b"traceparent", TP.encode()), (b"tracestate", b"a=1,b=2")], id="ASGI raw headers"),
]


@pytest.mark.parametrize("headers", HEADER_CONTAINERS)
def test_extract_reads_every_header_container(headers: object) -> None:
    tp = asynctrace.extract(headers)
    assert tp == asynctrace.TraceParent(TID, SID, 0x01, "a=1,b=2")


def test_extract_reads_http_server_headers() -> None:
    msg = email.message.Message()
    msg["traceparent"] = TP
    msg["tracestate"] = "a=1"
    msg["tracestate"] = "b=2"
    assert asynctrace.extract(msg) == asynctrace.TraceParent(TID, SID, 1, "a=1,b=2")


class _GetList:
    """Like starlette's / werkzeug's Headers: getlist() is case-insensitive."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k.lower() == key.lower()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


def test_extract_prefers_the_containers_own_multi_value_getter() -> None:
    headers = _GetList([("Traceparent", TP), ("tracestate", "a=1"), ("Tracestate", "b=2")])
    assert header_values(headers, "tracestate") == ["a=1", "b=2"]
    assert asynctrace.extract(headers) == asynctrace.TraceParent(TID, SID, 1, "a=1,b=2")


def test_extract_rejects_what_is_not_headers() -> None:
    with pytest.raises(TypeError):
        asynctrace.extract(42)
    with pytest.raises(TypeError):
        asynctrace.extract([("just-a-name",)])



@pytest.mark.anyio
async def test_a_collector_with_a_parent_keeps_its_trace_id_flags_and_tracestate(tmp_path: Path) -> None:
    parent = asynctrace.TraceParent(TID, SID, 0x03, "vendor=opaque")
    async with recording(tmp_path, parent=parent) as rec:
        async with asynctrace.span("work") as s:
            headers = asynctrace.inject({})
    assert rec.trace.trace_id == TID
    assert headers == {"traceparent": f"00-{TID}-{s.span_id}-03", "tracestate": "vendor=opaque"}
    start = rec.events[0].data
    assert start["parent_span_id"] == SID and "parent_trace_id" not in start


@pytest.mark.anyio
async def test_an_explicit_trace_id_restarts_the_trace_and_drops_the_tracestate(tmp_path: Path) -> None:
    other = "1" * 32
    async with recording(tmp_path, parent=asynctrace.TraceParent(TID, SID, 1, "v=1"), trace_id=other) as rec:
        headers = asynctrace.inject({})
    assert rec.trace.trace_id == other
    assert headers["traceparent"].startswith(f"00-{other}-") and "tracestate" not in headers
    assert rec.events[0].data["parent_trace_id"] == TID


@pytest.mark.anyio
async def test_a_child_process_environment_continues_the_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{TID}-{SID}-03")
    monkeypatch.setenv("TRACESTATE", "a=1")
    monkeypatch.setenv("ASYNCTRACE_FILE_ID", "aaaaaaaaaaaaaaaa")
    monkeypatch.setenv("ASYNCTRACE_PARENT_FILE_ID", "bbbbbbbbbbbbbbbb")
    async with asynctrace.collector(trace_dir=tmp_path) as first:
        assert asynctrace.inject({})["tracestate"] == "a=1"
    async with asynctrace.collector(trace_dir=tmp_path) as second:
        pass
    assert first.trace_id == second.trace_id == TID
    assert first.path is not None and first.path.name.endswith(f"_{TID}_aaaaaaaaaaaaaaaa.jsonl")
    # The file id is consumed: a second collector gets its own, same parent file.
    assert second.file_id != "aaaaaaaaaaaaaaaa"
    tree = asynctrace.load_tree(second.path)  # type: ignore[arg-type]
    assert tree.parent_file_id == "bbbbbbbbbbbbbbbb"


@pytest.mark.anyio
async def test_a_span_with_a_remote_parent_continues_the_callers_trace(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.span("request", parent=f"00-{TID}-{SID}-02") as req:
            async with asynctrace.span("inner") as inner:
                headers = asynctrace.inject({})
        async with asynctrace.span("after") as after:
            assert asynctrace.inject({})["traceparent"].split("-")[1] == rec.trace.trace_id
    assert req.parent_span_id == SID and inner.parent_span_id == req.span_id
    assert headers["traceparent"] == f"00-{TID}-{inner.span_id}-03"
    assert after.parent_span_id is None
    (start,) = [e for e in rec.find("span.start") if e.span_id == req.span_id]
    assert start.data["parent_trace_id"] == TID


@pytest.mark.anyio
async def test_a_span_can_be_parented_to_a_captured_context(tmp_path: Path) -> None:
    async with recording(tmp_path):
        async with asynctrace.span("outer") as outer:
            ctx = asynctrace.capture()
        async with asynctrace.span("later", parent=ctx) as later:
            pass
    assert later.parent_span_id == outer.span_id


def test_a_span_parent_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError):
        asynctrace.span("x", parent=42)
    with pytest.raises(ValueError):
        asynctrace.span("x", parent="00-nope")
