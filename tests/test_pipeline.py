from __future__ import annotations

import logging
import threading
from typing import Any

import msgspec
import pytest

import asynctrace
from asynctrace._events._schema import Event
from asynctrace._processing._filters import KindFilter, event_kind
from asynctrace._processing._pipeline import BuiltinStep, DropEvent, Pipeline
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


def drop(e: Event) -> Event:
    raise DropEvent


def test_raising_drop_event_drops_the_event_counts_it_and_skips_the_rest() -> None:
    later: list[Event] = []
    p = Pipeline([drop, later.append])  # type: ignore[list-item]
    assert p(ev()) is None
    assert p(ev()) is None
    assert p.filtered == 2 and p.errors == 0
    assert later == []
    assert len(p) == 2  # dropping is not a failure: nothing is disabled


def test_drop_event_is_public_and_an_exception() -> None:
    assert asynctrace.DropEvent is DropEvent
    assert DropEvent.__module__ == "asynctrace"
    assert issubclass(DropEvent, Exception)


def test_returning_none_is_a_processor_error_logged_once_and_the_event_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def forgot_return(e: Event) -> Event:
        e.data["seen"] = True
        return None  # type: ignore[return-value]

    p = Pipeline([forgot_return])
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        outs = [p(ev(n=i)) for i in range(3)]
    assert [o.data if o else None for o in outs] == [{"n": 0, "seen": True}, {"n": 1}, {"n": 2}]
    assert p.errors == 1 and p.filtered == 0
    (record,) = warnings_from(caplog)
    assert "forgot_return" in record.getMessage()
    assert "raise asynctrace.DropEvent" in record.getMessage()


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
    assert "expected an Event" in warnings_from(caplog)[0].getMessage()


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
    def drop_debug(e: Event) -> Event:
        if e.data.get("level") == "debug":
            raise DropEvent
        return e

    with pytest.raises(DropEvent):
        drop_debug(ev(level="debug"))
    kept = ev(level="info")
    assert drop_debug(kept) is kept


def test_counts_stay_exact_when_threads_share_a_pipeline() -> None:
    p = Pipeline([drop])
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


# -- the built-in head: redact + sanitize as one step -------------------------------


def test_redactor_then_sanitizer_are_fused_and_still_listed_as_two() -> None:
    r, s = Redactor(), Sanitizer()
    p = Pipeline([r, s, KindFilter(exclude=["llm"])])
    assert len(p) == 3
    assert p.processors[:2] == (r, s)
    assert isinstance(p._procs[0], BuiltinStep)


def test_a_sanitizer_heading_the_chain_alone_gets_the_fast_path_too() -> None:
    s = Sanitizer()
    p = Pipeline([s])
    assert p.processors == (s,)
    step = p._procs[0]
    assert isinstance(step, BuiltinStep) and step.redactor is None and step.fast is not None
    out = p(ev(token="kept without a redactor", n=1))
    assert out is not None and out.data == {"token": "kept without a redactor", "n": 1}


def test_fusion_only_applies_to_the_exact_types_in_that_order() -> None:
    class MyRedactor(Redactor):
        pass

    s = Sanitizer()
    assert not isinstance(Pipeline([MyRedactor(), s])._procs[0], BuiltinStep)
    assert not any(isinstance(p, BuiltinStep) for p in Pipeline([drop, s])._procs)
    head = Pipeline([s, Redactor()])._procs[0]
    assert isinstance(head, BuiltinStep) and head.redactor is None  # the sanitizer alone


def test_tight_limits_switch_the_fast_path_off_with_the_same_result() -> None:
    step = Pipeline([Redactor(), Sanitizer(max_string_bytes=100)])._procs[0]
    assert isinstance(step, BuiltinStep) and step.fast is None
    p = Pipeline([Redactor(), Sanitizer(max_string_bytes=100)])
    out = p(ev(q="x" * 150))
    assert out is not None and out.data["q"].startswith("x" * 100 + "…[truncated")


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
    assert isinstance(step, BuiltinStep) and step.fast is not None
    snapshot = step.fast.snapshot
    assert snapshot({"name": "search", "n": 1.5, "l": [1, "x"]}) is not None  # fast path
    assert snapshot({"token": "t"}) is None  # general path
    assert snapshot({"q": "Bearer abcdefghijklmnop"}) is None
    assert snapshot({"q": "/etc/passwd"}) is None
    assert snapshot({"q": float("nan")}) is None
    assert snapshot({"q": (1, 2)}) is None


def test_fused_step_falls_back_when_something_needs_redacting() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    for _ in range(2):  # the second time, the keys are known
        out = p(ev(name="x", args={"api_key": "k", "q": "Bearer abcdefghijklmnop"}))
        assert out is not None
        assert out.data == {"name": "x", "args": {"api_key": REDACTED, "q": f"Bearer {REDACTED}"}}
        out = p(ev(path="/etc/passwd", n=1))
        assert out is not None and out.data == {"path": "[REDACTED_PATH]", "n": 1}


def test_fused_step_fixes_header_fields_like_the_sanitizer() -> None:
    steps: list[Any] = [Pipeline([Redactor(), Sanitizer()]), BuiltinStep(Redactor(), Sanitizer())]
    for step in steps:
        e = Event(ts_ns=1, event="x\ud800", agent_id="a\udc00", status="ok", data={"a": 1})
        out = step(e)
        assert out is not None
        assert out.event == "x\ufffd" and out.agent_id == "a\ufffd"
        msgspec.json.encode(out)


def test_processors_after_the_builtin_head_still_run_in_order() -> None:
    seen: list[str] = []

    def first(e: Event) -> Event:
        seen.append(f"first:{e.data['q']}")
        return e

    def second(e: Event) -> Event:
        seen.append("second")
        return e

    p = Pipeline([Redactor(), Sanitizer(), first, second])
    p(ev(q="plain"))  # the fast path
    p(ev(q="sk-abcdefghijklmnopqrstuvwxyz0123"))  # the general path
    assert seen == ["first:plain", "second", "first:[REDACTED]", "second"]


# -- run_known: the cheap path for a fresh dict of known-clean values --------------


def test_run_known_skips_the_builtin_steps_for_known_keys_and_strings() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    p(ev("tool.start", name="search", a=1))  # the start teaches it "name" and "search"
    data = {"name": "search"}
    out = p.run_known(Event(ts_ns=2, event="tool.stop", data=data))
    assert out is not None and out.data is data  # owned by the event: no copy
    step = p._procs[0]
    assert isinstance(step, BuiltinStep) and step.fast is not None
    assert step.fast.known({"name": "search", "a": 1, "ok": True, "x": None, "f": 2.0}) is False
    assert step.fast.known({"name": "search", "a": 2})
    assert not step.fast.known({"name": "never seen before"})
    assert not step.fast.known({"unknown_key": 1})
    assert not step.fast.known({"name": [1]})
    assert not step.fast.known({"a": float("inf")})


def test_run_known_gives_the_same_result_as_the_full_path_for_anything() -> None:
    p = Pipeline([Redactor(), Sanitizer()])
    p(ev(name="search"))
    for data in (
        {"name": "sk-abcdefghijklmnopqrstuvwxyz0123"},
        {"name": "search", "api_key": "hunter2"},
        {"name": "search", "error_message": "password=hunter2"},
        {"name": "x\ud800"},
        {"name": "/etc/passwd"},
        {"name": "search"},
    ):
        a = p.run_known(Event(ts_ns=1, event="tool.stop", data=dict(data)))
        b = Pipeline([Redactor(), Sanitizer()])(Event(ts_ns=1, event="tool.stop", data=dict(data)))
        assert a is not None and b is not None
        assert msgspec.json.encode(a) == msgspec.json.encode(b), data
    bad_header = Event(ts_ns=1, event="tool.stop", agent_id="a\udc00", data={"name": "search"})
    out = p.run_known(bad_header)
    assert out is not None and out.agent_id == "a\ufffd"


def test_run_known_still_runs_filters_and_user_processors() -> None:
    seen: list[str] = []

    def tag(e: Event) -> Event:
        seen.append(e.event)
        return e

    p = Pipeline([Redactor(), Sanitizer(), KindFilter(exclude=["llm"]), tag])
    p(ev("tool.start", name="search"))
    assert p.run_known(Event(ts_ns=1, event="llm.stop", data={"name": "search"})) is None
    assert p.run_known(Event(ts_ns=1, event="tool.stop", data={"name": "search"})) is not None
    assert seen == ["tool.start", "tool.stop"]
    assert p.filtered == 1


def test_run_known_without_builtin_steps_is_the_plain_chain() -> None:
    p = Pipeline([drop])
    assert p.run_known(ev(name="x")) is None and p.filtered == 1


# -- KindFilter -------------------------------------------------------------------------


def test_event_kind_is_the_name_up_to_the_first_dot() -> None:
    assert event_kind("tool.stop") == "tool"
    assert event_kind("decision") == "decision"
    assert event_kind("a.b.c") == "a"


def passes(f: KindFilter, e: Event) -> bool:
    """Calls the filter as the pipeline does; cross-checks ``keeps``."""
    try:
        out = f(e)
    except DropEvent:
        assert not f.keeps(e.event)
        return False
    assert out is e and f.keeps(e.event)
    return True


def test_include_keeps_only_the_listed_kinds() -> None:
    f = KindFilter(include=["tool", "llm"])
    assert passes(f, ev("tool.start"))
    assert passes(f, ev("llm.call"))
    assert not passes(f, ev("decision"))
    assert not passes(f, ev("tools.start"))


def test_exclude_drops_the_listed_kinds() -> None:
    f = KindFilter(exclude=("checkpoint",))
    assert not passes(f, ev("checkpoint"))
    assert passes(f, ev("tool.stop"))


def test_include_and_exclude_combine() -> None:
    f = KindFilter(include={"tool", "llm"}, exclude={"llm"})
    assert passes(f, ev("tool.stop"))
    assert not passes(f, ev("llm.stop"))


def test_the_collectors_own_trace_events_always_pass() -> None:
    f = KindFilter(include=["tool"], exclude=["trace"])
    assert passes(f, ev("trace.start"))
    assert passes(f, ev("trace.event_omitted"))


def test_kind_filter_drops_count_as_filtered_in_the_pipeline() -> None:
    p = Pipeline([KindFilter(exclude=["llm"])])
    assert p(ev("llm.start")) is None
    assert p(ev("tool.start")) is not None
    assert p.filtered == 1 and p.errors == 0


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
