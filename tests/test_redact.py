from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import logging
import re
from pathlib import PurePosixPath
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asynctrace._events._schema import Event
from asynctrace._processing._pipeline import Pipeline
from asynctrace._processing._redact import (
    _BACK,
    _BRANCHES,
    MIN_SECRET_LEN,
    REDACTED,
    REDACTED_PATH,
    Redactor,
    is_sensitive_key,
    redact_text,
)
from asynctrace._processing._sanitize import CYCLE_MARKER, DEPTH_MARKER, Sanitizer


def ev(data: Any) -> Event:
    return Event(ts_ns=1, event="tool.start", data=data)


def red(data: Any, **config: Any) -> Any:
    return Redactor(**config)(ev(data)).data


# -- keys ----------------------------------------------------------------------------

SENSITIVE_KEYS = [
    "password",
    "PASSWORD",
    "db_password",
    "passwd",
    "passphrase",
    "pass",
    "api_key",
    "apikey",
    "api-key",
    "X-Api-Key",
    "OPENAI_API_KEY",
    "apiKey",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "githubToken",
    "x-auth-token",
    "secret",
    "client_secret",
    "SECRET_KEY",
    "credential",
    "credentials",
    "auth",
    "Authorization",
    "proxy-authorization",
    "oauth",
    "basic_auth",
    "auth_header",
    "private_key",
    "privateKey",
    "aws_secret_access_key",
    "aws_access_key_id",
    "cookie",
    "Set-Cookie",
    "session_key",
    "sessionToken",
    "JSESSIONID",
    "jwt",
    "bearer",
    "access_tokens",
]

NOT_SENSITIVE_KEYS = [
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "max_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "max_completion_tokens",
    "tokens",
    "token_count",
    "tokenizer",
    "author",
    "authority",
    "authors",
    "authenticated",
    "name",
    "key",
    "keyword",
    "passed",
    "bypass",
    "session_id",
    "model",
    "tool_call_id",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_secret_named_keys_are_redacted(key: str) -> None:
    assert red({key: "s3cr3t-value"}) == {key: REDACTED}
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", NOT_SENSITIVE_KEYS)
def test_token_counts_and_ordinary_words_are_not_redacted(key: str) -> None:
    assert red({key: 123}) == {key: 123}
    assert not is_sensitive_key(key)


def test_redacts_api_key_nested_in_a_list() -> None:
    data = {"calls": [{"headers": {"X-Api-Key": "abc"}}, ({"token": "t"},)]}
    assert red(data) == {"calls": [{"headers": {"X-Api-Key": REDACTED}}, [{"token": REDACTED}]]}


def test_a_sensitive_key_redacts_its_whole_value_whatever_its_type() -> None:
    data = {"credentials": {"user": "u", "pw": "p"}, "password": 1234, "token": ["a", "b"]}
    assert red(data) == {"credentials": REDACTED, "password": REDACTED, "token": REDACTED}


def test_a_sensitive_key_set_to_none_stays_none() -> None:
    assert red({"api_key": None}) == {"api_key": None}


def test_extra_keys_are_matched_like_the_built_in_ones() -> None:
    data = {"user_ssn": "123", "SSN": "456", "ssn_count": 2, "other": "x"}
    assert red(data, extra_keys=["ssn"]) == {
        "user_ssn": REDACTED,
        "SSN": REDACTED,
        "ssn_count": REDACTED,
        "other": "x",
    }


def test_allow_keys_keep_the_value_but_still_mask_secret_text_in_it() -> None:
    data = {"api_key": "public-demo", "token": "uses sk-abcdefghijklmnopqrstuvwxyz123 here"}
    out = red(data, allow_keys=["API_KEY", "token"])
    assert out == {"api_key": "public-demo", "token": f"uses {REDACTED} here"}


def test_non_string_keys_are_checked_by_their_text() -> None:
    class K(enum.Enum):
        PW = "password"

    out = red({K.PW: "x", ("password",): "y", 3: "z", None: "n"})
    assert out == {"password": REDACTED, "('password',)": REDACTED, 3: "z", None: "n"}


def test_a_secret_inside_a_key_is_masked_in_the_key() -> None:
    key = "sk-abcdefghijklmnopqrstuvwxyz0123"
    assert red({key: 1, "ok": 2}) == {"ok": 2, REDACTED: 1}


# -- text --------------------------------------------------------------------------------

TEXT_CASES = [
    ("key sk-abcdefghijklmnopqrstuvwxyz0123 end", f"key {REDACTED} end"),
    ("sk-proj-Abc123_def456-ghi789jkl012mno", REDACTED),
    ("x sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345-_xyz y", f"x {REDACTED} y"),
    ("Authorization: Bearer abc.def-123_456/789+=", f"Authorization: Bearer {REDACTED}"),
    (
        "curl -H 'authorization: bearer abcdefgh12345678'",
        f"curl -H 'authorization: bearer {REDACTED}'",
    ),
    ("id AKIAIOSFODNN7EXAMPLE.", f"id {REDACTED}."),
    ("ASIAABCDEFGHIJKLMNOP", REDACTED),
    ("jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl!", f"jwt={REDACTED}!"),
    (
        "k: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc==\n-----END RSA PRIVATE KEY----- ok",
        f"k: {REDACTED} ok",
    ),
    ("cut -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNza", f"cut {REDACTED}"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nxyz\n-----END PGP PRIVATE KEY BLOCK-----", REDACTED),
    ("db postgres://bob:hunter2@db.local:5432/app", f"db postgres://{REDACTED}@db.local:5432/app"),
    ("https://u:p@ss@host/x", f"https://{REDACTED}@host/x"),
    ("ghp_" + "a1B2" * 9, REDACTED),
    ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnop", f"token {REDACTED}"),
    ("xoxb-1234567890-abcdefghij", REDACTED),
    ("hf_" + "a" * 34, REDACTED),
    ("AIza" + "B" * 35, REDACTED),
    ("stripe sk_live_" + "a1" * 12, f"stripe {REDACTED}"),
    ("password=hunter2 host=db", f"password={REDACTED} host=db"),
    ("Server=db;PWD=s3cret;UID=sa", f"Server=db;PWD={REDACTED};UID=sa"),
    ('{"password": "correct horse"}', f'{{"password": "{REDACTED}"}}'),
    ("secret: 'xyz123'", f"secret: '{REDACTED}'"),
    ("api_key = abc123", f"api_key = {REDACTED}"),
]

UNCHANGED_TEXT = [
    "weather in paris",
    "max_tokens=100 tokens: 5",
    "task-abcdefghijklmnopqrstuvwxyz",
    "risk-free-allocation-strategy-text",
    "https://example.com:8080/a?b=c",
    "user@example.com",
    "a Bearer of news",
    "see https://host/path#frag:x@y",
    "AKIAIOSFODNN7EXAMPLEX is too long",
    "password",
    "the token: it",
]


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_secret_shaped_text_is_masked_and_the_rest_kept(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert red({"msg": text}) == {"msg": expected}


@pytest.mark.parametrize("text", UNCHANGED_TEXT)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_several_secrets_in_one_text_are_all_masked() -> None:
    text = "a sk-abcdefghijklmnopqrstuvwxyz0123 b Bearer zzzzzzzzzzzz c AKIAIOSFODNN7EXAMPLE"
    assert redact_text(text) == f"a {REDACTED} b Bearer {REDACTED} c {REDACTED}"


def test_no_built_in_pattern_matches_text_shorter_than_the_scan_threshold() -> None:
    # Strings shorter than MIN_SECRET_LEN skip the scan; check that no branch
    # could match one: its own minimum width plus the text its look-behind
    # needs before it.
    parser = pytest.importorskip("re._parser")
    for branch in _BRANCHES:
        group = next(iter(re.compile(branch).groupindex))
        before = 3 if group.startswith("kv") else 1 if group == "url" else _BACK.get(group, 0)
        width = parser.parse(branch).getwidth()[0]  # "pwd=" / "a://" come before
        assert width + before >= MIN_SECRET_LEN, branch
    for s in ["pwd=abc", "a://:b@"]:
        assert len(s) == MIN_SECRET_LEN
        assert redact_text(s) != s


def test_extra_patterns_mask_their_matches_everywhere() -> None:
    r = Redactor(extra_patterns=[r"ACME-\d{6}", re.compile(r"(?i)internal-[a-z]+")])
    out = r(ev({"m": "ticket ACME-123456 and INTERNAL-host", "ACME-000001": 1, "s": "ab"})).data
    assert out == {"m": f"ticket {REDACTED} and {REDACTED}", REDACTED: 1, "s": "ab"}
    assert r.redact_text("x ACME-999999") == f"x {REDACTED}"


# -- paths ------------------------------------------------------------------------------


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", "/home/tester")
    return "/home/tester"


def test_paths_under_the_project_root_become_relative(home: str) -> None:
    r = Redactor(project_root="/work/proj")
    out = r(
        ev(
            {
                "file_path": "/work/proj/src/a.py",
                "root": "/work/proj",
                "other": "/work/project/x.py",
                "p": PurePosixPath("/work/proj/b.py"),
                "files": ["/work/proj/c.py"],
            }
        )
    ).data
    assert out == {
        "file_path": "src/a.py",
        "root": ".",
        "other": "/work/project/x.py",
        "p": "b.py",
        "files": ["c.py"],
    }


def test_paths_under_sensitive_dirs_are_redacted(home: str) -> None:
    r = Redactor(project_root="/work/proj")
    data = {
        "a": "/etc/passwd",
        "b": "/etc",
        "c": "~/.ssh/id_rsa",
        "d": "/home/tester/.aws/credentials",
        "e": "/work/proj/../../etc/shadow",
        "f": "//etc/hosts",
        "g": "/home/tester/.config/gh/hosts.yml",
        "h": "/etcetera/x",
        "i": "~other/.ssh/id_rsa",
    }
    assert r(ev(data)).data == {
        "a": REDACTED_PATH,
        "b": REDACTED_PATH,
        "c": REDACTED_PATH,
        "d": REDACTED_PATH,
        "e": REDACTED_PATH,
        "f": REDACTED_PATH,
        "g": REDACTED_PATH,
        "h": "/etcetera/x",
        "i": "~other/.ssh/id_rsa",
    }


def test_paths_inside_prose_are_left_alone_but_path_keys_allow_spaces(home: str) -> None:
    r = Redactor(project_root="/work/proj")
    data = {
        "command": "/bin/cat /etc/passwd",
        "file": "/work/proj/My Docs/a.txt",
        "dir": "/etc/some dir",
        "path": "/work/proj/a\nb",
    }
    assert r(ev(data)).data == {
        "command": "/bin/cat /etc/passwd",
        "file": "My Docs/a.txt",
        "dir": REDACTED_PATH,
        "path": "/work/proj/a\nb",
    }


def test_sensitive_dirs_are_configurable(home: str) -> None:
    r = Redactor(sensitive_dirs=["/srv/keys", "~/vault"])
    data = {"a": "/srv/keys/k.pem", "b": "/etc/passwd", "c": "/home/tester/vault/x"}
    assert r(ev(data)).data == {"a": REDACTED_PATH, "b": "/etc/passwd", "c": REDACTED_PATH}


def test_sensitive_dirs_win_over_the_project_root(home: str) -> None:
    r = Redactor(project_root="/home/tester")
    assert r(ev({"a": "/home/tester/.ssh/k", "b": "/home/tester/x"})).data == {
        "a": REDACTED_PATH,
        "b": "x",
    }


# -- content hashing ------------------------------------------------------------------------


def test_content_keys_are_replaced_by_a_hash_when_configured() -> None:
    digest = hashlib.sha256(b"new text").hexdigest()[:12]
    r = Redactor(hash_content_keys=["old_string", "new_string"])
    out = r(ev({"newString": "new text", "old_string": b"new text", "content": "kept"})).data
    assert out == {
        "newString": f"[content hash: {digest}]",
        "old_string": f"[content hash: {digest}]",
        "content": "kept",
    }


def test_content_is_not_hashed_by_default() -> None:
    assert red({"content": "x", "new_string": "y"}) == {"content": "x", "new_string": "y"}


# -- structures -------------------------------------------------------------------------------


@dataclasses.dataclass
class Login:
    user: str
    password: str


class Creds(msgspec.Struct):
    name: str
    token: str


class ModelLike:
    def model_dump(self) -> dict[str, Any]:
        return {"api_key": "k", "n": 1}


class Leaky:
    def __repr__(self) -> str:
        return "Leaky(key=sk-abcdefghijklmnopqrstuvwxyz0123)"


def test_objects_are_redacted_field_by_field() -> None:
    out = red(
        {
            "login": Login("bob", "hunter2"),
            "creds": Creds(name="n", token="t"),
            "model": ModelLike(),
        }
    )
    assert out == {
        "login": {"user": "bob", "password": REDACTED},
        "creds": {"name": "n", "token": REDACTED},
        "model": {"api_key": REDACTED, "n": 1},
    }


def test_exception_messages_and_object_reprs_are_masked() -> None:
    out = red({"err": ValueError("bad url https://u:pw@h/"), "obj": Leaky()})
    assert out == {
        "err": {"type": "ValueError", "message": f"bad url https://{REDACTED}@h/"},
        "obj": f"Leaky(key={REDACTED})",
    }


def test_sets_and_tuples_are_walked_like_lists() -> None:
    out = red({"s": {"Bearer abcdefghijkl"}, "t": ("ok", "Bearer abcdefghijkl")})
    assert out == {"s": [f"Bearer {REDACTED}"], "t": ["ok", f"Bearer {REDACTED}"]}


def test_unchanged_data_is_returned_as_is_and_the_input_is_never_mutated() -> None:
    inner = {"q": "weather"}
    data = {"a": inner, "b": [1, 2], "c": ("x",)}
    r = Redactor()
    assert r(ev(data)).data is data
    data2 = {"a": inner, "secret": "s", "nested": {"token": "t", "keep": inner}}
    before = copy.deepcopy(data2)
    out = r(ev(data2)).data
    assert data2 == before
    assert out == {"a": inner, "secret": REDACTED, "nested": {"token": REDACTED, "keep": inner}}
    assert out["a"] is inner  # copy on write: untouched branches are shared


def test_cycles_become_a_marker_so_no_unredacted_copy_survives() -> None:
    d: dict[str, Any] = {"token": "t"}
    d["self"] = d
    # Left as a reference, the cycle would lead back to the caller's dict,
    # and the sanitizer would write its unredacted token.
    out = red(d)
    assert out == {"token": REDACTED, "self": CYCLE_MARKER}
    assert Sanitizer()(ev(out)).data == {"token": REDACTED, "self": CYCLE_MARKER}


def test_a_structure_sharing_one_container_many_times_is_walked_once_per_container() -> None:
    value: Any = {"token": "t", "n": 1}
    for _ in range(7):
        value = [value] * 10  # 10**7 paths to the token if walked naively
    out = Redactor()(ev({"v": value})).data["v"]
    # The result shares its parts the way the input did: each was made once.
    for _ in range(7):
        assert all(item is out[0] for item in out)
        out = out[0]
    assert out == {"token": REDACTED, "n": 1}


def test_nesting_beyond_max_depth_is_cut_not_passed_through() -> None:
    value: Any = {"password": "deep"}
    for _ in range(40):
        value = {"n": value}
    out = red(value)
    text = msgspec.json.encode(out).decode()
    assert DEPTH_MARKER in text and "deep" not in text


def test_a_failure_inside_the_walk_drops_the_data_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Hostile(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no items")

    r = Redactor()
    with caplog.at_level(logging.WARNING, logger="asynctrace"):
        out1 = r(ev(Hostile(password="x"))).data
        out2 = r(ev(Hostile(password="x"))).data
    assert out1 == out2 == {"redaction_error": "RuntimeError"}
    assert len([rec for rec in caplog.records if "redaction failed" in rec.message]) == 1


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"extra_patterns": ["(unclosed"]}, ValueError),
        ({"extra_patterns": ["a*"]}, ValueError),
        ({"extra_patterns": [r"\b"]}, ValueError),
        ({"extra_patterns": "abc"}, TypeError),
        ({"extra_patterns": [b"bytes"]}, TypeError),
        ({"extra_keys": ["--"]}, ValueError),
        ({"extra_keys": "password"}, TypeError),
        ({"allow_keys": [1]}, TypeError),
        ({"project_root": "relative/dir"}, ValueError),
        ({"sensitive_dirs": ["etc"]}, ValueError),
        ({"sensitive_dirs": "/etc"}, TypeError),
        ({"max_depth": 0}, ValueError),
        ({"max_depth": "3"}, TypeError),
    ],
)
def test_bad_configuration_is_rejected_at_construction(
    config: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Redactor(**config)


# -- properties ---------------------------------------------------------------------------------

MARK = "ZQSECRET"
ALNUM = st.text(
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", min_size=30, max_size=40
)
UPPER = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=8, max_size=8)


def _planted_text() -> st.SearchStrategy[str]:
    shapes = st.one_of(
        ALNUM.map(lambda r: f"sk-{MARK}{r}"),
        ALNUM.map(lambda r: f"sk-ant-api03-{MARK}{r}"),
        ALNUM.map(lambda r: f"sk-proj-{MARK}{r}"),
        ALNUM.map(lambda r: f"Bearer {MARK}{r}"),
        UPPER.map(lambda r: f"AKIA{MARK}{r}"),
        ALNUM.map(lambda r: f"eyJ{MARK}{r}.eyJ{r}.{r}"),
        ALNUM.map(
            lambda r: f"-----BEGIN EC PRIVATE KEY-----\n{MARK}{r}\n-----END EC PRIVATE KEY-----"
        ),
        ALNUM.map(lambda r: f"https://admin:{MARK}{r}@db.example/x"),
        ALNUM.map(lambda r: f"ghp_{MARK}{r}"),
        ALNUM.map(lambda r: f"password={MARK}{r}"),
    )
    around = st.text(max_size=15)
    return st.tuples(around, shapes, around).map(lambda t: f"{t[0]} {t[1]} {t[2]}")


SECRET_KEY_NAMES = st.sampled_from(SENSITIVE_KEYS)
PLAIN_LEAF = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=12))
SECRET_VALUE = st.one_of(
    ALNUM.map(lambda r: f"{MARK}{r}"),
    ALNUM.map(lambda r: {"inner": f"{MARK}{r}"}),
    ALNUM.map(lambda r: [f"{MARK}{r}", 1]),
)


def _tree() -> st.SearchStrategy[Any]:
    leaf = st.one_of(PLAIN_LEAF, _planted_text())

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        plain_dict = st.dictionaries(st.text(max_size=8), children, max_size=4)
        with_secret_key = st.tuples(plain_dict, SECRET_KEY_NAMES, SECRET_VALUE).map(
            lambda t: {**t[0], t[1]: t[2]}
        )
        with_secret_key_text = st.tuples(plain_dict, ALNUM).map(
            lambda t: {**t[0], f"sk-{MARK}{t[1]}": 1}
        )
        return st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=3).map(tuple),
            plain_dict,
            with_secret_key,
            with_secret_key_text,
        )

    return st.recursive(leaf, extend, max_leaves=20)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _tree(), max_size=4))
def test_planted_secrets_never_reach_the_encoded_event(data: dict[str, Any]) -> None:
    sequential = Sanitizer()(Redactor()(ev(copy.deepcopy(data))))
    fused = Pipeline([Redactor(), Sanitizer()])(ev(copy.deepcopy(data)))
    assert fused is not None
    for out in (sequential, fused):
        line = msgspec.json.encode(out)
        assert MARK.encode() not in line


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _tree(), max_size=4))
def test_redactor_never_mutates_its_input(data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    Redactor()(ev(data))
    assert data == before or repr(data) == repr(before)  # NaN != NaN
