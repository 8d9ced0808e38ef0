"""The flat fast path of the built-in steps gives exactly what the general path gives.

The general path is the redactor's walk followed by the sanitizer's walk,
each called directly; the fast path is what ``Pipeline`` runs for the
default chain.  The corpus mixes the common event (short plain values under
known keys) with everything that must leave the fast path: secrets in keys,
in free text, nested deep, in error messages, paths, odd types, limits.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynctrace._events._schema import Event
from asynctrace._processing._pipeline import BuiltinStep, Pipeline
from asynctrace._processing._redact import Redactor
from asynctrace._processing._sanitize import Sanitizer

SECRETS = [
    "sk-abcdefghijklmnopqrstuvwxyz0123",
    "sk-ant-api03-abcdefghijklmnopqrstuv",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAABCDEFGHIJKLMNOP",
    "xoxb-1234567890-abcdef",
    "eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl",
    "Bearer abcdefghijklmnop",
    "password=hunter2",
    "api_key: 'hunter22'",
    "postgres://user:pass@db.example.com/x",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
]
PLAIN = ["search", "weather in Paris tomorrow", "ok", "x", "", "gpt-4o", "call_1", "task-abc"]
PATHS = ["/etc/passwd", "~/.ssh/id_rsa", "/work/proj/src/x.py", "/tmp/a b", "~", "/"]
ODD_TEXT = ["é" * 5, "x\ud800", "a" * 300, "a" * 70, "\x00", "sk-", "Bearer"]
KEYS = [
    "name",
    "q",
    "args",
    "password",
    "api_key",
    "X-Api-Key",
    "input_tokens",
    "file_path",
    "new_string",
    "error_message",
    "authorization",
    "token",
    "hunter2 sk-abcdefghijklmnopqrstuvwxyz0123",
]

texts = st.one_of(
    st.sampled_from(PLAIN + SECRETS + PATHS + ODD_TEXT),
    st.text(max_size=12),
    st.builds(
        lambda a, secret, b: f"{a}{secret}{b}",
        st.sampled_from(["", "x ", "key is ", "err: "]),
        st.sampled_from(SECRETS),
        st.sampled_from(["", " y", ".", "\n"]),
    ),
)


class Odd:
    def __repr__(self) -> str:
        return "Odd(token=sk-abcdefghijklmnopqrstuvwxyz0123)"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    texts,
    st.binary(max_size=4),
    st.just(ValueError("failed with password=hunter2")),
    st.just(Odd()),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(0, 3))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=20,
)
anything = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), values, max_size=6
)
# Mostly what the fast path takes, with a secret, a path or an odd string
# planted now and then: the cases where taking it wrongly would leak.
plain_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), texts, st.sampled_from(PLAIN)
)
_clean_keys = st.sampled_from(["name", "q", "n", "ok", "model", "args"])
plain_keys = st.one_of(_clean_keys, _clean_keys, _clean_keys, st.sampled_from(KEYS))
plain_values = st.recursive(
    plain_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(plain_keys, children, max_size=4)
    ),
    max_leaves=10,
)
plain = st.dictionaries(plain_keys, plain_values, max_size=5)
events = st.one_of(plain, plain, anything)

CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults": ({}, {}),
    "configured": (
        {
            "project_root": "/work/proj",
            "hash_content_keys": ["new_string"],
            "allow_keys": ["token"],
            "extra_keys": ["q"],
            "extra_patterns": [r"^task-\w+$", "Paris"],
        },
        {"max_string_bytes": 256, "max_items": 4, "max_depth": 3},
    ),
    "shallow": ({"max_depth": 2}, {"max_items": 2}),
}
# One pipeline per configuration for the whole run, so its caches of keys and
# strings already found clean carry over from one example to the next.
PIPELINES = {name: Pipeline([Redactor(**r), Sanitizer(**s)]) for name, (r, s) in CONFIGS.items()}
ALONE = Pipeline([Sanitizer(max_items=4, max_depth=3, max_string_bytes=256)])


def general(redactor: Redactor | None, sanitizer: Sanitizer, ev: Event) -> Event:
    """The reference: each walk called directly, no fast path anywhere."""
    if redactor is not None:
        ev = redactor(ev)
    ev.data = sanitizer.sanitize_data(ev.data)
    sanitizer.fix_header(ev)
    return ev


def line(ev: Event | None) -> bytes:
    assert ev is not None
    return msgspec.json.encode(ev)


def event(data: dict[Any, Any], name: str = "tool.start") -> Event:
    return Event(ts_ns=1, event=name, data=copy.deepcopy(data))


@pytest.mark.parametrize("config", list(CONFIGS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=events)
def test_the_fast_path_and_the_general_path_write_the_same_line(
    config: str, data: dict[str, Any]
) -> None:
    r_kw, s_kw = CONFIGS[config]
    pipeline = PIPELINES[config]
    for _ in range(2):  # cold, then warm for what this example added to the caches
        expected = line(general(Redactor(**r_kw), Sanitizer(**s_kw), event(data)))
        assert line(pipeline(event(data))) == expected
        assert line(pipeline(event(data), owned=True)) == expected
        assert line(pipeline.run_known(event(data, "tool.stop"))) == line(
            general(Redactor(**r_kw), Sanitizer(**s_kw), event(data, "tool.stop"))
        )


@settings(max_examples=150, deadline=None)
@given(data=events)
def test_the_sanitizer_alone_gives_the_same_line_on_either_path(data: dict[str, Any]) -> None:
    s = Sanitizer(max_items=4, max_depth=3, max_string_bytes=256)
    for _ in range(2):
        assert line(ALONE(event(data))) == line(general(None, s, event(data)))


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(["q", "args", "note", "error_message"]),
    secret=st.sampled_from(SECRETS),
    nest=st.integers(0, 3),
)
def test_a_planted_secret_never_reaches_the_line(key: str, secret: str, nest: int) -> None:
    value: Any = f"see {secret} here"
    for _ in range(nest):
        value = {"inner": [value, "plain"]}
    pipeline = PIPELINES["defaults"]
    for data in ({key: value, "name": "search"}, {"api_key": secret, "name": "search"}):
        for _ in range(2):
            out = line(pipeline(event(data)))
            assert secret.encode() not in out
            assert b"hunter2" not in out


def test_the_common_events_take_the_fast_path() -> None:
    step = Pipeline([Redactor(), Sanitizer()])._procs[0]
    assert isinstance(step, BuiltinStep) and step.fast is not None
    for data in (
        {"name": "op", "a": 1, "b": "x", "c": 2.0},
        {"name": "search", "query": "weather in Paris tomorrow", "n": 3, "ok": True},
        {"name": "search", "args": {"q": "weather", "k": [1, 2, {"deep": "er"}]}},
        {"name": "llm", "input_tokens": 10, "output_tokens": 3, "model": "gpt-4o"},
    ):
        out = step.fast.snapshot(data)
        assert out == data and out is not data
        assert step.fast.known(data) is not None


def test_the_snapshot_is_taken_at_emit_time_on_the_fast_path() -> None:
    pipeline = Pipeline([Redactor(), Sanitizer()])
    args = {"q": "weather", "k": [1, 2]}
    data = {"name": "search", "args": args}
    out = pipeline(Event(ts_ns=1, event="tool.start", data=data))
    args["q"] = "sk-abcdefghijklmnopqrstuvwxyz0123"
    args["k"].append(3)
    data["late"] = True
    assert out is not None and out.data == {"name": "search", "args": {"q": "weather", "k": [1, 2]}}


def test_an_owned_dict_is_checked_in_place_and_its_nested_values_still_copied() -> None:
    pipeline = Pipeline([Redactor(), Sanitizer()])
    args = {"q": "weather"}
    data = {"name": "search", "args": args}
    out = pipeline(Event(ts_ns=1, event="tool.start", data=data), owned=True)
    assert out is not None and out.data is data
    assert out.data["args"] == args and out.data["args"] is not args
    args["q"] = "changed"
    assert out.data["args"] == {"q": "weather"}


def test_a_string_found_dirty_is_never_remembered_as_clean() -> None:
    pipeline = Pipeline([Redactor(), Sanitizer()])
    step = pipeline._procs[0]
    assert isinstance(step, BuiltinStep) and step.fast is not None
    secret = "sk-abcdefghijklmnopqrstuvwxyz0123"
    for _ in range(3):
        out = pipeline(Event(ts_ns=1, event="e", data={"name": secret, "q": "clean"}))
        assert out is not None and out.data["name"] == "[REDACTED]"
    assert not step.fast.known({"name": secret})


def test_a_flood_of_new_keys_and_strings_keeps_the_caches_bounded() -> None:
    pipeline = Pipeline([Redactor(), Sanitizer()])
    for i in range(10_000):
        out = pipeline(Event(ts_ns=1, event="e", data={f"k{i}": f"v{i}"}))
        assert out is not None and out.data == {f"k{i}": f"v{i}"}
    step = pipeline._procs[0]
    assert isinstance(step, BuiltinStep) and step.fast is not None
    # Still correct, and a recent key and string are known again.
    assert step.fast.known({"k9999": "v9999"})
