from __future__ import annotations

import copy
import logging
import threading
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asynctrace._events._schema import Event
from asynctrace._processing._filters import KindFilter, event_kind
from asynctrace._processing._pipeline import Pipeline, RedactThenSanitize
from asynctrace._processing._redact import REDACTED, Redactor
from asynctrace._processing._sanitize import Sanitizer


def ev(event: str = "tool.start", **data: Any) -> Event:
    return Event(ts_ns=1, event=event, data=data)


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "asynctrace" and r.levelno == logging.WARNING]


# -- the chain -----------------------------------------------------------------------


def test_processors_run_in_order_on_the_same_event() -> None:
    seen: list[str] = []

    def first(e: Event) -> Event:
        seen.append("first")
        e.data["first"] = True
        return e

    def second(e: Event) -> Event:
        seen.append("second")
        assert e.data["first"] is True
        return e

    out = Pipeline([first, second])(ev())
    assert seen == ["first", "second"]
    assert out is not None and out.data == {"first": True}


def test_a_processor_may_return_a_replacement_event() -> None:
    def replace(e: Event) -> Event:
        return Event(ts_ns=e.ts_ns, event="custom.thing", data={"n": 1})

    out = Pipeline([replace])(ev())
    assert out is not None and out.event == "custom.thing"


def test_returning_none_drops_the_event_counts_it_and_skips_the_rest() -> None:
    later: list[Event] = []
    p = Pipeline([lambda e: None, later.append])
    assert p(ev()) is None
    assert p(ev()) is None
    assert p.filtered == 2 and p.errors == 0
    assert later == []


def test_raising_processor_is_isolated_counted_logged_once_and_disabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = {"bad": 0, "after": 0}

    def bad_processor(e: Event) -> Event:
        calls["bad"] += 1
        raise RuntimeError("boom")

    def after(e: Event) -> Event:
        calls["after"] += 1
        e.data["after"] = True
        return e

    p = Pipeline([bad_processor, after])
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        outs = [p(ev(n=i)) for i in range(3)]
    assert [o.data if o else None for o in outs] == [{"n": i, "after": True} for i in range(3)]
    assert calls == {"bad": 1, "after": 3}
    assert p.errors == 1 and p.filtered == 0
    records = warnings_from(caplog)
    assert len(records) == 1
    assert "bad_processor" in records[0].getMessage()
    assert "boom" in records[0].getMessage()
    assert len(p) == 1


def test_the_event_reaches_the_next_processor_as_the_failing_one_got_it() -> None:
    def fail(e: Event) -> Event:
        raise ValueError("late")

    got: list[dict[str, Any]] = []

    def record(e: Event) -> Event:
        got.append(dict(e.data))
        return e

    Pipeline([record, fail, record])(ev(a=1))
    assert got == [{"a": 1}, {"a": 1}]


def test_a_non_event_return_counts_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    p = Pipeline([lambda e: {"not": "an event"}])  # type: ignore[list-item, return-value]
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        out = p(ev(a=1))
    assert out is not None and out.data == {"a": 1}
    assert p.errors == 1
    assert "expected Event or None" in warnings_from(caplog)[0].getMessage()


def test_pipeline_never_raises_even_if_logging_fails() -> None:
    class BadHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise OSError("disk full")

        def handleError(self, record: logging.LogRecord) -> None:
            raise OSError("still full")

    logger = logging.getLogger("asynctrace")
    handler = BadHandler()
    logger.addHandler(handler)
    try:
        p = Pipeline([lambda e: 1 / 0])  # type: ignore[operator, return-value]
        assert p(ev()) is not None
    finally:
        logger.removeHandler(handler)
    assert p.errors == 1


def test_non_callables_are_rejected() -> None:
    with pytest.raises(TypeError, match="processor 1"):
        Pipeline([lambda e: e, "nope"])  # type: ignore[list-item]


def test_a_processor_can_be_tested_by_calling_it_directly() -> None:
    def drop_debug(e: Event) -> Event | None:
        return None if e.data.get("level") == "debug" else e

    assert drop_debug(ev(level="debug")) is None
    kept = ev(level="info")
    assert drop_debug(kept) is kept


def test_counts_stay_exact_when_threads_share_a_pipeline() -> None:
    p = Pipeline([lambda e: None])
    n, threads = 2000, 4

    def work() -> None:
        for _ in range(n):
            p(ev())

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert p.filtered == n * threads


# -- the fused redact + sanitize step ------------------------------------------------


def test_redactor_then_sanitizer_are_fused_and_still_listed_as_two() -> None:
    r, s = Redactor(), Sanitizer()
    p = Pipeline([r, s, KindFilter(exclude=["llm"])])
    assert len(p) == 3
    assert p.processors[:2] == (r, s)
    assert isinstance(p._procs[0], RedactThenSanitize)


def test_fusion_only_applies_to_the_exact_types_in_that_order() -> None:
    class MyRedactor(Redactor):
        pass

    s = Sanitizer()
    assert not isinstance(Pipeline([MyRedactor(), s])._procs[0], RedactThenSanitize)
    assert not isinstance(Pipeline([s, Redactor()])._procs[0], RedactThenSanitize)


def test_fused_step_redacts_and_snapshots_the_common_event() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    data = {"name": "search", "args": {"q": "weather in paris"}, "tool_call_id": "call_1"}
    out = p(Event(ts_ns=1, event="tool.start", data=data))
    assert out is not None
    assert out.data == data
    assert out.data is not data and out.data["args"] is not data["args"]
    data["args"]["q"] = "changed"
    assert out.data["args"]["q"] == "weather in paris"
    step = p._procs[0]
    assert isinstance(step, RedactThenSanitize)
    assert step._fast({"name": "search", "n": 1.5, "l": [1, "x"]}) is not None  # fast path
    assert step._fast({"token": "t"}) is None  # general path
    assert step._fast({"q": "Bearer abcdefghijklmnop"}) is None


def test_fused_step_falls_back_when_something_needs_redacting() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    for _ in range(2):  # the second time, the keys are known
        out = p(ev(name="x", args={"api_key": "k", "q": "Bearer abcdefghijklmnop"}))
        assert out is not None
        assert out.data == {"name": "x", "args": {"api_key": REDACTED, "q": f"Bearer {REDACTED}"}}
        out = p(ev(path="/etc/passwd", n=1))
        assert out is not None and out.data == {"path": "[REDACTED_PATH]", "n": 1}


def test_fused_step_fixes_header_fields_like_the_sanitizer() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    e = Event(ts_ns=1, event="x\ud800", agent_id="a\udc00", status="ok", data={"a": 1})
    out = p(e)
    assert out is not None
    assert out.event == "x\ufffd" and out.agent_id == "a\ufffd"
    msgspec.json.encode(out)


VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=30),
        st.sampled_from(
            [
                "/etc/passwd",
                "~/.ssh/id_rsa",
                "/work/proj/src/x.py",
                "Bearer abcdefghijklmnop",
                "sk-abcdefghijklmnopqrstuvwxyz0123",
                "é" * 5,
                "x\ud800",
                "a" * 300,
            ]
        ),
        st.binary(max_size=4),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(
            st.one_of(
                st.text(max_size=10),
                st.sampled_from(["password", "file_path", "input_tokens", "new_string"]),
                st.integers(0, 3),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.text(max_size=10), VALUES, max_size=6))
def test_fused_step_gives_the_same_result_as_the_two_processors(data: dict[str, Any]) -> None:
    config = {"project_root": "/work/proj", "hash_content_keys": ["new_string"]}
    limits = {"max_string_bytes": 256, "max_items": 4, "max_depth": 3}
    fused = Pipeline([Redactor(**config), Sanitizer(**limits)])
    r, s = Redactor(**config), Sanitizer(**limits)
    for _ in range(2):  # cold and warm key caches
        a = fused(ev(**copy.deepcopy(data)))
        b = s(r(ev(**copy.deepcopy(data))))
        assert a is not None
        assert msgspec.json.encode(a) == msgspec.json.encode(b)


# -- KindFilter -------------------------------------------------------------------------


def test_event_kind_is_the_name_up_to_the_first_dot() -> None:
    assert event_kind("tool.stop") == "tool"
    assert event_kind("decision") == "decision"
    assert event_kind("a.b.c") == "a"


def test_include_keeps_only_the_listed_kinds() -> None:
    f = KindFilter(include=["tool", "llm"])
    assert f(ev("tool.start")) is not None
    assert f(ev("llm.call")) is not None
    assert f(ev("decision")) is None
    assert f(ev("tools.start")) is None


def test_exclude_drops_the_listed_kinds() -> None:
    f = KindFilter(exclude=("checkpoint",))
    assert f(ev("checkpoint")) is None
    assert f(ev("tool.stop")) is not None


def test_include_and_exclude_combine() -> None:
    f = KindFilter(include={"tool", "llm"}, exclude={"llm"})
    assert f(ev("tool.stop")) is not None
    assert f(ev("llm.stop")) is None


def test_the_collectors_own_trace_events_always_pass() -> None:
    f = KindFilter(include=["tool"], exclude=["trace"])
    assert f(ev("trace.start")) is not None
    assert f(ev("trace.event_omitted")) is not None


def test_kind_filter_drops_count_as_filtered_in_the_pipeline() -> None:
    p = Pipeline([KindFilter(exclude=["llm"])])
    p(ev("llm.start"))
    p(ev("tool.start"))
    assert p.filtered == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"include": "tool"}, TypeError),
        ({"exclude": [1]}, TypeError),
        ({"include": ["tool.start"]}, ValueError),
        ({"include": [""]}, ValueError),
        ({"exclude": [" tool"]}, ValueError),
        ({"include": 5}, TypeError),
    ],
)
def test_bad_kind_lists_are_rejected(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        KindFilter(**kwargs)
