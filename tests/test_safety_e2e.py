"""End to end: what reaches the file is redacted, bounded, and survives bad processors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asynctrace
from asynctrace.testing import recording

pytestmark = pytest.mark.anyio

SECRETS = [
    "sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "hunter2-super-secret-password",
]


async def test_secrets_in_keys_text_and_errors_never_reach_the_file(tmp_path: Path) -> None:
    async with recording(tmp_path) as rec:
        async with asynctrace.tool(
            "http",
            args={
                "headers": {"Authorization": f"Bearer {SECRETS[0]}", "X-Api-Key": SECRETS[1]},
                "body": [{"nested": {"password": SECRETS[3]}}],
            },
        ) as t:
            t.result(f"token echoed back: {SECRETS[2]}")
        await rec.trace.sink.emit(
            {"event": "note", "text": f"aws key {SECRETS[1]} in prose", "OPENAI_API_KEY": SECRETS[0]}
        )
        with pytest.raises(RuntimeError):
            async with asynctrace.span("login"):
                raise RuntimeError(f"auth failed for key {SECRETS[0]}")
    raw = rec.path.read_bytes()
    for secret in SECRETS:
        assert secret.encode() not in raw
    assert b"[REDACTED]" in raw


async def test_redaction_can_be_turned_off_explicitly(tmp_path: Path) -> None:
    async with recording(tmp_path, redact=False) as rec:
        await rec.trace.sink.emit({"event": "note", "password": "visible"})
    assert rec.find("note")[0].data == {"password": "visible"}


async def test_long_strings_are_cut_to_the_collectors_limit(tmp_path: Path) -> None:
    async with recording(tmp_path, max_string_bytes=1000) as rec:
        await rec.trace.sink.emit({"event": "big", "text": "a" * 50_000})
    text = rec.find("big")[0].data["text"]
    assert len(text.encode()) < 1100
    assert "50000" in text  # the marker keeps the original size


async def test_a_failing_user_processor_is_disabled_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asynctrace")

    def boom(ev: asynctrace.Event) -> asynctrace.Event:
        raise ZeroDivisionError("processor bug")

    async with recording(tmp_path, processors=[boom]) as rec:
        for i in range(5):
            await rec.trace.sink.emit({"event": "e", "i": i})
    assert [e.data["i"] for e in rec.find("e")] == list(range(5))
    assert rec.counts["processor_errors"] == 1
    assert len([r for r in caplog.records if "boom" in r.getMessage()]) == 1


async def test_a_user_processor_can_enrich_and_drop_events(tmp_path: Path) -> None:
    def tag(ev: asynctrace.Event) -> asynctrace.Event:
        if ev.data.get("drop"):
            raise asynctrace.DropEvent
        ev.data["env"] = "test"
        return ev

    async with recording(tmp_path, processors=[tag]) as rec:
        await rec.trace.sink.emit({"event": "keep"})
        await rec.trace.sink.emit({"event": "gone", "drop": True})
    assert rec.names() == ["keep"]
    assert rec.find("keep")[0].data == {"env": "test"}
    assert rec.counts["filtered"] == 1


async def test_a_processor_returning_none_is_an_error_and_drops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asynctrace")

    def forgot_return(ev: asynctrace.Event) -> asynctrace.Event:
        ev.data["seen"] = True
        return None  # type: ignore[return-value]

    async with recording(tmp_path, processors=[forgot_return]) as rec:
        for i in range(3):
            await rec.trace.sink.emit({"event": "e", "i": i})
        async with asynctrace.span("s"):
            pass
    assert [e.data["i"] for e in rec.find("e")] == [0, 1, 2]
    assert rec.names() == ["e", "e", "e", "span.start", "span.stop"]
    assert rec.counts["processor_errors"] == 1 and rec.counts["filtered"] == 0
    (warning,) = [r for r in caplog.records if "forgot_return" in r.getMessage()]
    assert "DropEvent" in warning.getMessage()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"include": ["tool"]}, ["tool.start", "tool.stop"]),
        ({"exclude": ["tool", "decision"]}, ["llm.start", "llm.stop"]),
    ],
)
async def test_selective_tracing_keeps_only_the_chosen_kinds(
    tmp_path: Path, options: dict[str, Any], expected: list[str]
) -> None:
    async with recording(tmp_path, **options) as rec:
        async with asynctrace.llm("gpt-4o"):
            pass
        async with asynctrace.tool("t"):
            pass
        await asynctrace.decision("d", "o")
    assert rec.names() == expected


async def test_a_redaction_failure_drops_the_data_and_is_counted(tmp_path: Path) -> None:
    class Unlistable(dict[str, Any]):
        """A dict whose keys cannot even be listed: nothing can be checked."""

        def items(self) -> Any:
            raise RuntimeError("no")

        def __iter__(self) -> Any:
            raise RuntimeError("no")

    async with recording(tmp_path) as rec:
        await rec.trace.sink.emit({"event": "weird", "value": Unlistable(api_key="sk-live-1234567890abcdef")})
        await rec.trace.sink.emit({"event": "fine", "n": 1})
    assert b"sk-live" not in rec.path.read_bytes()
    assert rec.find("weird")[0].data == {"redaction_error": "RuntimeError"}
    assert rec.find("fine")[0].data == {"n": 1}
    assert rec.counts["processor_errors"] == 1


class _Opaque:
    """Not JSON: the sanitizer falls back to its repr."""

    __slots__ = ()


_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.binary(max_size=50),
    st.builds(_Opaque),
    st.sets(st.integers(), max_size=3),
)
_payloads = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=8),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), inner, max_size=8),
    ),
    max_leaves=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(_payloads, min_size=1, max_size=5))
def test_arbitrary_payloads_become_one_valid_json_line_each_within_the_cap(
    tmp_path: Path, payloads: list[Any]
) -> None:
    cap = 2048
    path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.jsonl"

    async def main() -> None:
        async with asynctrace.collector(path, max_event_bytes=cap, max_string_bytes=512) as trace:
            for p in payloads:
                await trace.sink.emit({"event": "x", "payload": p})

    anyio.run(main)
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(payloads) + 2
    for line in lines[1:-1]:
        assert len(line) + 1 <= cap
        assert isinstance(msgspec.json.decode(line), dict)
    assert msgspec.json.decode(lines[-1])["data"]["counts"]["written"] == len(payloads)
