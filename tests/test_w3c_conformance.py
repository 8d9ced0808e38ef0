"""The cases of the W3C Trace Context conformance suite (w3c/trace-context, test/),
run against a real aiohttp service on 127.0.0.1 written as docs/interop.md shows.

Each case sends headers to the service, which calls a receiver back; the
callback's traceparent/tracestate are checked the way the suite checks
them (strict level 2, spec level 2), and more exactly where our output is
deterministic: the forwarded tracestate is compared as a whole string.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp", reason="the W3C service is an aiohttp app (dev extra)")
from _w3c_service import collector_per_request, one_collector, serve  # noqa: E402
from aiohttp import web  # noqa: E402

import asynctrace  # noqa: E402

pytestmark = pytest.mark.anyio

TID = "12345678901234567890123456789012"
PID = "1234567890123456"
TP = f"00-{TID}-{PID}-01"
TP0 = f"00-{TID}-{PID}-00"
_TP_RE = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

KEEP, NEW = "keep", "new"


@dataclass(frozen=True)
class Case:
    name: str
    headers: list[tuple[str, str]]
    trace: str | None = None
    """KEEP: the callback continues TID with a new parent id; NEW: a fresh trace id."""
    state: str | None = None
    """The exact forwarded tracestate (None: none sent)."""
    flags_set: int = 0


def _tp(value: str) -> list[tuple[str, str]]:
    return [("traceparent", value)]


def _ts(*values: str, parent: str = TP0) -> list[tuple[str, str]]:
    return [("traceparent", parent), *(("tracestate", v) for v in values)]


_KEY_PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
_KEY_VENDOR = _KEY_PLAIN + "@a-z0-9_-*/"
_VALUE_ALL = "".join(map(chr, [*range(0x20, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]))
_MEMBERS_32 = [f"bar{i:02d}={i:02d}" for i in range(1, 33)]
_LINES_32 = [",".join(_MEMBERS_32[i : i + 10]) for i in range(0, 32, 10)]

TRACEPARENT_CASES = [
    Case("both traceparent and tracestate missing", [], NEW, None),
    Case("traceparent included, tracestate missing", _tp(TP), KEEP, None),
    Case(
        "traceparent duplicated",
        [("traceparent", f"00-{TID[:-1]}1-{PID}-01"), ("traceparent", TP)],
        NEW,
    ),
    *(Case(f"traceparent header name {n}", [(n, TP)], NEW) for n in ("trace-parent", "trace.parent")),
    *(
        Case(f"traceparent header name casing {n}", [(n, TP)], KEEP)
        for n in ("TraceParent", "TrAcEpArEnT", "TRACEPARENT")
    ),
    Case("version 00 with a trailing character", _tp(TP + "."), NEW),
    Case("version 00 with extra fields", _tp(TP + "-what-the-future-will-be-like"), NEW),
    Case("version cc", _tp(f"cc-{TID}-{PID}-01"), KEEP),
    Case("version cc with extra fields", _tp(f"cc-{TID}-{PID}-01-what-the-future-will-be-like"), KEEP),
    Case("version cc with a bad separator", _tp(f"cc-{TID}-{PID}-01.what-the-future-will-be-like"), NEW),
    Case("version ff", _tp(f"ff-{TID}-{PID}-01"), NEW),
    *(Case(f"version illegal {v!r}", _tp(f"{v}-{TID}-{PID}-01"), NEW) for v in (".0", "0.")),
    *(Case(f"version length {v!r}", _tp(f"{v}-{TID}-{PID}-01"), NEW) for v in ("000", "0000", "0")),
    Case("trace id all zero", _tp(f"00-{'0' * 32}-{PID}-01"), NEW),
    *(
        Case(f"trace id {t!r}", _tp(f"00-{t}-{PID}-01"), NEW)
        for t in ("." + TID[1:], TID[:-1] + ".", TID + "3", TID[:-1])
    ),
    Case("parent id all zero", _tp(f"00-{TID}-{'0' * 16}-01"), NEW),
    *(
        Case(f"parent id {p!r}", _tp(f"00-{TID}-{p}-01"), NEW)
        for p in ("." + PID[1:], PID[:-1] + ".", PID + "7", PID[:-1])
    ),
    *(Case(f"flags {f!r}", _tp(f"00-{TID}-{PID}-{f}"), NEW) for f in (".0", "0.", "001", "1")),
    *(
        Case(f"traceparent OWS {w!r}", _tp(w[0] + TP + w[1]), KEEP)
        for w in ((" ", ""), ("\t", ""), ("", " "), ("", "\t"), ("\t ", " \t"))
    ),
    Case("multiple requests: random flag propagated", _tp(f"00-{TID}-{PID}-02"), KEEP, None, 0x02),
    Case("sampled and random flags propagated", _tp(f"00-{TID}-{PID}-03"), KEEP, None, 0x03),
]

TRACESTATE_CASES = [
    Case("tracestate without traceparent", [("tracestate", "foo=1")], NEW, None),
    Case("tracestate with traceparent", _ts("foo=1,bar=2"), KEEP, "foo=1,bar=2"),
    *(
        Case(f"tracestate header name {n}", [("traceparent", TP0), (n, "foo=1")], KEEP, None)
        for n in ("trace-state", "trace.state")
    ),
    *(
        Case(f"tracestate header name casing {n}", [("traceparent", TP0), (n, "foo=1")], KEEP, "foo=1")
        for n in ("TraceState", "TrAcEsTaTe", "TRACESTATE")
    ),
    Case("empty tracestate", _ts(""), KEEP, None),
    Case("empty tracestate line after a member", _ts("foo=1", ""), KEEP, "foo=1"),
    Case("empty tracestate line before a member", _ts("", "foo=1"), KEEP, "foo=1"),
    Case(
        "multiple tracestate lines combine in order",
        _ts("foo=1,bar=2", "rojo=1,congo=2", "baz=3"),
        KEEP,
        "foo=1,bar=2,rojo=1,congo=2,baz=3",
    ),
    Case("duplicated key in one line", _ts("foo=1,foo=1"), KEEP, "foo=1"),
    Case("duplicated key, different values", _ts("foo=1,foo=2"), KEEP, "foo=1"),
    Case("duplicated key across lines", _ts("foo=1", "foo=1"), KEEP, "foo=1"),
    Case("duplicated key across lines, different values", _ts("foo=1", "foo=2"), KEEP, "foo=1"),
    Case("all allowed characters", _ts(f"{_KEY_PLAIN}={_VALUE_ALL}"), KEEP, f"{_KEY_PLAIN}={_VALUE_ALL}"),
    Case(
        "all allowed characters, multi-tenant key",
        _ts(f"{_KEY_VENDOR}={_VALUE_ALL}"),
        KEEP,
        f"{_KEY_VENDOR}={_VALUE_ALL}",
    ),
    *(
        Case(f"tracestate OWS {v!r}", _ts(v), KEEP, "foo=1,bar=2,baz=3")
        for v in ("foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3")
    ),
    *(
        Case(f"tracestate OWS {v!r}", _ts(v), KEEP, "foo=1")
        for v in (" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t")
    ),
    *(
        Case(f"key illegal {v!r}", _ts(v), KEEP, None)
        for v in ("foo =1", "FOO=1", "foo.bar=1")
    ),
    Case("32 members", _ts(*_LINES_32), KEEP, ",".join(_MEMBERS_32)),
    Case("33 members discard the header", _ts(*_LINES_32[:-1], _LINES_32[-1] + ",bar33=33"), KEEP, None),
    Case("key of 256 characters", _ts("foo=1", "z" * 256 + "=1"), KEEP, "foo=1," + "z" * 256 + "=1"),
    Case("key of 257 characters discards the header", _ts("foo=1", "z" * 257 + "=1"), KEEP, None),
    *(
        Case(f"multi-tenant key {k[:6]}…", _ts("foo=1", k + "=1"), KEEP, f"foo=1,{k}=1")
        for k in ("t" * 241 + "@" + "v" * 14, "t" * 242 + "@v", "t@" + "v" * 15)
    ),
    Case("value with '='", _ts("foo=bar=baz"), KEEP, None),
    Case("empty value discards the header", _ts("foo=,bar=3"), KEEP, None),
]

CASES = TRACEPARENT_CASES + TRACESTATE_CASES


class Receiver:
    """The harness side: records the headers of every callback."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[str, str]]] = {}
        self.app = web.Application()
        self.app.router.add_post("/{id}", self._record)

    async def _record(self, request: web.Request) -> web.Response:
        self.calls[request.match_info["id"]] = list(request.headers.items())
        return web.json_response(None)


@dataclass
class Harness:
    service: str
    receiver: Receiver
    base: str
    http: aiohttp.ClientSession
    ids: itertools.count[int]

    async def send(self, headers: list[tuple[str, str]], callbacks: int = 1) -> list[list[tuple[str, str]]]:
        ids = [str(next(self.ids)) for _ in range(callbacks)]
        body = [{"url": f"{self.base}/{i}", "arguments": []} for i in ids]
        async with self.http.post(self.service, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        return [self.receiver.calls.pop(i) for i in ids]


@asynccontextmanager
async def _harness(app: web.Application) -> AsyncIterator[Harness]:
    receiver = Receiver()
    async with serve(receiver.app) as cb, serve(app) as service, aiohttp.ClientSession() as http:
        yield Harness(service, receiver, cb.rsplit("/", 1)[0], http, itertools.count())


@pytest.fixture(params=["collector_per_request", "one_collector"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.delenv("TRACEPARENT", raising=False)
    monkeypatch.delenv("TRACESTATE", raising=False)
    if request.param == "collector_per_request":
        async with _harness(collector_per_request(tmp_path)) as h:
            yield h
    else:
        async with asynctrace.collector(trace_dir=tmp_path), _harness(one_collector()) as h:
            yield h


def _context(headers: list[tuple[str, str]]) -> tuple[tuple[str, ...], str | None]:
    parents = [v for k, v in headers if k.lower() == "traceparent"]
    assert len(parents) == 1, f"expected one traceparent, got {parents!r}"
    m = _TP_RE.fullmatch(parents[0])
    assert m is not None, parents[0]
    states = [v for k, v in headers if k.lower() == "tracestate"]
    return m.groups(), ",".join(states) if states else None


def check(case: Case, headers: list[tuple[str, str]]) -> None:
    (version, trace_id, parent_id, flags), state = _context(headers)
    assert version == "00"
    sent = {v.strip(" \t").split("-")[1] for k, v in case.headers if k.lower() == "traceparent" and "-" in v}
    if case.trace == KEEP:
        assert trace_id == TID
        assert parent_id != PID
    elif case.trace == NEW:
        assert trace_id not in sent and trace_id != "0" * 32
    assert int(flags, 16) & case.flags_set == case.flags_set
    assert state == case.state


async def test_every_conformance_case_is_handled_as_the_spec_says(harness: Harness) -> None:
    failures: list[str] = []
    for case in CASES:
        (headers,) = await harness.send(case.headers)
        try:
            check(case, headers)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
    assert failures == []


async def test_several_callbacks_share_the_callers_trace_with_new_parent_ids(harness: Harness) -> None:
    calls = await harness.send(_tp(TP), callbacks=3)
    contexts = [_context(h)[0] for h in calls]
    assert {c[1] for c in contexts} == {TID}
    assert len({c[2] for c in contexts}) == 3


async def test_several_callbacks_without_a_parent_get_distinct_parent_ids(harness: Harness) -> None:
    calls = await harness.send([], callbacks=3)
    assert len({_context(h)[0][2] for h in calls}) == 3


async def test_several_callbacks_with_an_invalid_parent_start_a_new_trace(harness: Harness) -> None:
    calls = await harness.send(_tp(f"00-{'0' * 32}-{PID}-01"), callbacks=3)
    contexts = [_context(h)[0] for h in calls]
    assert "0" * 32 not in {c[1] for c in contexts}
    assert len({c[2] for c in contexts}) == 3


async def test_a_service_file_continues_the_callers_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEPARENT", raising=False)
    async with _harness(collector_per_request(tmp_path)) as h:
        await h.send(_tp(TP), callbacks=2)
    (path,) = tmp_path.glob("*.jsonl")
    tree = asynctrace.load_tree(path)
    assert tree.trace_id == TID and path.name.endswith(f"_{TID}_{tree.file_id}.jsonl")
    assert tree.start is not None and tree.start.data["parent_span_id"] == PID
    (handle,) = tree.roots
    assert [c.name for c in handle.children] == ["callback", "callback"]
