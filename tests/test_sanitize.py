from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
from collections import OrderedDict, deque, namedtuple
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asynctrace._events._schema import Event
from asynctrace._processing._sanitize import (
    CYCLE_MARKER,
    DEPTH_MARKER,
    OVER_BUDGET_MARKER,
    Sanitizer,
    to_jsonable,
)

# -- helpers -------------------------------------------------------------------


def ev(data: Any, event: str = "tool.start") -> Event:
    return Event(ts_ns=1, event=event, data=data)


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def containers(value: Any) -> list[Any]:
    """Every dict and list reachable from ``value`` (each once)."""
    seen: dict[int, Any] = {}
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict | list | set | tuple) and id(v) not in seen:
            seen[id(v)] = v
            stack.extend(v.values() if isinstance(v, dict) else v)
            if isinstance(v, dict):
                stack.extend(k for k in v if isinstance(k, tuple))
    return [v for v in seen.values() if isinstance(v, dict | list)]


def walk_json(value: Any, depth: int = 0) -> Any:
    """Yield (depth, value) for every node of a sanitized (JSON-native) value."""
    yield depth, value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk_json(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from walk_json(v, depth + 1)


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # How hypothesis prints a failing example (repr() would raise).
        p.text("RaisingRepr()")


class ReprNotStr:
    def __repr__(self) -> Any:
        return 42

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("ReprNotStr()")


class Plain:
    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Plain({self.n})"


@dataclasses.dataclass
class DC:
    name: str
    nums: list[int]


class ST(msgspec.Struct):
    a: int
    b: str


class ModelLike:
    """Duck-typed pydantic model."""

    def model_dump(self) -> dict[str, Any]:
        return {"x": 1, "nested": {"y": (1, 2)}}


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1


SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.text(st.one_of(st.characters(), SURROGATE), max_size=20)
KEYS = st.one_of(
    TEXT,
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.tuples(st.integers(0, 3), TEXT),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.binary(max_size=20),
    st.sampled_from(
        [
            RaisingRepr(),
            ReprNotStr(),
            Plain(3),
            Color.RED,
            Level.LOW,
            ValueError("boom\ud800"),
            dt.datetime(2024, 5, 1, 12, 0),
            dt.date(2024, 5, 1),
            uuid.UUID(int=7),
            decimal.Decimal("1.25"),
            Path("/tmp/x"),
            DC("d", [1, 2]),
            ST(a=1, b="s"),
            ModelLike(),
            object(),
            bytearray(b"ab"),
            memoryview(b"abc"),
        ]
    ),
)
HASHABLE = st.one_of(st.integers(-3, 3), TEXT, st.booleans())


def nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.frozensets(HASHABLE, max_size=4),
        st.sets(HASHABLE, max_size=4),
        st.dictionaries(KEYS, children, max_size=6),
    )


ANYTHING = st.recursive(LEAVES, nested, max_leaves=30)


# -- properties ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(ANYTHING)
def test_sanitizer_never_raises_and_output_always_encodes(value: Any) -> None:
    out = Sanitizer()(ev({"v": value, "w": [value, value]}))
    line = encode(out)
    assert msgspec.json.decode(line)["event"] == "tool.start"


@settings(max_examples=50, deadline=None)
@given(ANYTHING)
def test_to_jsonable_output_is_json_native_within_limits(value: Any) -> None:
    out = to_jsonable(value, max_string_bytes=16, max_items=3, max_depth=4)
    encode(out)
    for depth, node in walk_json(out):
        # Containers stop at depth 4 (a fixed binary summary may sit there).
        if isinstance(node, dict | list) and "__binary__" not in node:
            assert depth < 4
        assert depth <= 5
        if isinstance(node, str):
            # The clipped text plus a marker that gives the original size.
            assert len(node.encode()) <= 16 + len("…[truncated, 999999999 bytes]")
        elif isinstance(node, dict):
            assert len(node) <= 4
            assert all(isinstance(k, str) for k in node)
        elif isinstance(node, list):
            assert len(node) <= 4
        elif isinstance(node, float):
            assert math.isfinite(node)
        else:
            assert node is None or isinstance(node, bool | int)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=8), ANYTHING, max_size=5))
def test_snapshot_shares_no_container_with_the_input(data: dict[str, Any]) -> None:
    before = {id(c) for c in containers(data)}
    out = Sanitizer()(ev(data)).data
    after = {id(c) for c in containers(out)}
    assert not before & after


def _mutate_everything(value: Any) -> None:
    for c in containers(value):
        if isinstance(c, dict):
            for k in list(c):
                c[k] = "mutated"
            c["added"] = 1
        else:
            c[:] = ["mutated"]


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=8), ANYTHING, max_size=5))
def test_mutating_the_input_after_sanitizing_does_not_change_the_output(
    data: dict[str, Any],
) -> None:
    out = Sanitizer()(ev(data))
    first = encode(out)
    _mutate_everything(data)
    assert encode(out) == first


SIMPLE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=10), children, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=10), SIMPLE, max_size=6))
def test_fast_path_and_general_path_give_the_same_snapshot(data: dict[str, Any]) -> None:
    s = Sanitizer()
    fast = s(ev(data)).data
    assert fast == s.sanitize_data(data)
    assert encode(fast) == encode(s.sanitize_data(data))


# -- strings -------------------------------------------------------------------------


def test_long_ascii_string_is_cut_with_a_marker_giving_the_original_size() -> None:
    out = to_jsonable("a" * 100, max_string_bytes=10)
    assert out == "a" * 10 + "…[truncated, 100 bytes]"


def test_long_string_is_cut_on_a_utf8_boundary() -> None:
    s = "é" * 10  # 2 bytes each
    out = to_jsonable(s, max_string_bytes=5)
    assert out == "éé…[truncated, 20 bytes]"
    out.encode()


def test_string_exactly_at_the_limit_is_kept() -> None:
    assert to_jsonable("€€", max_string_bytes=6) == "€€"


def test_lone_surrogates_are_replaced_and_pairs_are_joined() -> None:
    assert to_jsonable("a\ud800b") == "a\ufffdb"
    assert to_jsonable("\ud83d\ude00") == "\U0001f600"
    encode(to_jsonable({"k\udfff": "v"}))


def test_event_name_and_agent_id_with_surrogates_become_valid_text() -> None:
    e = Event(ts_ns=1, event="tool\ud800.start", agent_id="a\udc00", status="ok", data={})
    Sanitizer()(e)
    assert e.event == "tool\ufffd.start"
    assert e.agent_id == "a\ufffd"
    encode(e)


# -- containers ------------------------------------------------------------------------


def test_long_list_keeps_the_first_items_and_counts_the_rest() -> None:
    assert to_jsonable(list(range(5)), max_items=2) == [0, 1, "…[+3 more items]"]


def test_big_dict_keeps_the_first_keys_and_counts_the_rest() -> None:
    out = to_jsonable({f"k{i}": i for i in range(5)}, max_items=2)
    assert out == {"k0": 0, "k1": 1, "…": "[+3 more keys]"}


def test_dict_with_its_own_ellipsis_key_keeps_it() -> None:
    out = to_jsonable({"…": 1, "a": 2, "b": 3}, max_items=1)
    assert out == {"…": 1, "…#2": "[+2 more keys]"}


def test_containers_deeper_than_max_depth_become_a_marker() -> None:
    value: Any = "leaf"
    for _ in range(5):
        value = [value]
    assert to_jsonable(value, max_depth=3) == [[[DEPTH_MARKER]]]
    assert Sanitizer(max_depth=2)(ev({"a": {"b": {"c": 1}}})).data == {"a": {"b": DEPTH_MARKER}}


def test_cycles_are_broken() -> None:
    d: dict[str, Any] = {"name": "x"}
    d["self"] = d
    lst: list[Any] = [1]
    lst.append(lst)
    assert to_jsonable(d) == {"name": "x", "self": CYCLE_MARKER}
    assert to_jsonable(lst) == [1, CYCLE_MARKER]


def test_a_cycle_through_an_object_is_broken() -> None:
    @dataclasses.dataclass
    class Node:
        name: str
        other: Any = None

    a = Node("a")
    a.other = a
    assert to_jsonable(a) == {"name": "a", "other": CYCLE_MARKER}


def test_shared_but_acyclic_values_are_written_each_time() -> None:
    shared = [1, 2]
    assert to_jsonable({"a": shared, "b": shared}) == {"a": [1, 2], "b": [1, 2]}


def test_exponentially_shared_structure_is_bounded_by_the_total_budget() -> None:
    value: Any = ["x" * 50] * 100
    for _ in range(8):
        value = [value] * 100  # 100**9 paths if expanded
    out = to_jsonable(value)
    assert OVER_BUDGET_MARKER in encode(out).decode()
    assert len(encode(out)) < 64 * 1024 * 1024


# -- conversions -------------------------------------------------------------------------


def test_bytes_become_a_binary_summary_never_their_content() -> None:
    out = to_jsonable({"b": b"password=hunter2", "ba": bytearray(3), "mv": memoryview(b"xy")})
    assert out == {
        "b": {"__binary__": True, "size": 16},
        "ba": {"__binary__": True, "size": 3},
        "mv": {"__binary__": True, "size": 2},
    }


def test_tuples_sets_and_deques_become_lists() -> None:
    out = to_jsonable({"t": (1, 2), "s": {3, 1, 2}, "f": frozenset({"b", "a"}), "d": deque([2, 1])})
    assert out == {"t": [1, 2], "s": [1, 2, 3], "f": ["a", "b"], "d": [2, 1]}


def test_sets_of_incomparable_members_still_become_lists() -> None:
    out = to_jsonable({1, "a", None})
    assert sorted(map(str, out)) == ["1", "None", "a"]


def test_structured_objects_become_dicts() -> None:
    Point = namedtuple("Point", "x y")
    out = to_jsonable(
        {"dc": DC("n", [1]), "st": ST(a=1, b="b"), "model": ModelLike(), "nt": Point(1, 2)}
    )
    assert out == {
        "dc": {"name": "n", "nums": [1]},
        "st": {"a": 1, "b": "b"},
        "model": {"x": 1, "nested": {"y": [1, 2]}},
        "nt": {"x": 1, "y": 2},
    }


def test_a_dataclass_class_itself_is_not_treated_as_an_instance() -> None:
    assert to_jsonable(DC).startswith("<class ")


def test_exceptions_become_type_and_message() -> None:
    assert to_jsonable(KeyError("k")) == {"type": "KeyError", "message": "'k'"}


def test_enums_become_their_values() -> None:
    assert to_jsonable([Color.RED, Color.BLUE, Level.LOW]) == ["red", 2, 1]


def test_dates_uuids_paths_and_decimals_become_strings() -> None:
    out = to_jsonable(
        [
            dt.datetime(2024, 1, 2, 3, 4, 5),
            dt.date(2024, 1, 2),
            dt.time(3, 4),
            dt.timedelta(seconds=90),
            uuid.UUID(int=1),
            PurePosixPath("/a/b"),
            decimal.Decimal("0.10"),
        ]
    )
    assert out == [
        "2024-01-02T03:04:05",
        "2024-01-02",
        "03:04:00",
        "0:01:30",
        "00000000-0000-0000-0000-000000000001",
        "/a/b",
        "0.10",
    ]


def test_other_objects_become_their_clipped_repr() -> None:
    class Long:
        def __repr__(self) -> str:
            return "r" * 5000

    assert to_jsonable(Plain(1)) == "Plain(1)"
    out = to_jsonable(Long())
    assert out.startswith("r" * 1024) and "truncated, 5000 chars" in out


def test_objects_whose_repr_raises_become_a_marker() -> None:
    assert to_jsonable(RaisingRepr()) == "<unrepresentable RaisingRepr>"
    assert to_jsonable(ReprNotStr()) == "<unrepresentable ReprNotStr>"


def test_nan_and_infinities_become_strings() -> None:
    out = to_jsonable([math.nan, math.inf, -math.inf, 1.5])
    assert out == ["NaN", "Infinity", "-Infinity", 1.5]


def test_non_string_keys_become_strings_and_collisions_are_kept_apart() -> None:
    out = to_jsonable({1: "int", "1": "str", None: "none", (1, 2): "tuple", 1.5: "f"})
    assert out == {"1": "int", "1#2": "str", "None": "none", "(1, 2)": "tuple", "1.5": "f"}


def test_mapping_and_dict_subclasses_are_walked_as_dicts() -> None:
    assert to_jsonable(OrderedDict(a=(1,))) == {"a": [1]}


def test_subclasses_of_str_int_and_float_become_plain_values() -> None:
    class S(str):
        pass

    class I(int):  # noqa: E742
        pass

    out = to_jsonable([S("s"), I(3), Level.LOW])
    assert out == ["s", 3, 1]
    assert [type(v) for v in out] == [str, int, int]


def test_data_that_is_not_a_dict_is_wrapped() -> None:
    e = Sanitizer()(ev([1, 2]))
    assert e.data == {"value": [1, 2]}


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("arg", ["max_string_bytes", "max_items", "max_depth", "max_total_bytes"])
@pytest.mark.parametrize("bad", [0, -1])
def test_non_positive_limits_are_rejected(arg: str, bad: int) -> None:
    with pytest.raises(ValueError, match=arg):
        Sanitizer(**{arg: bad})


def test_non_int_limits_are_rejected() -> None:
    with pytest.raises(TypeError):
        Sanitizer(max_items=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Sanitizer(max_depth=True)


def test_max_depth_is_capped_to_stay_clear_of_the_recursion_limit() -> None:
    with pytest.raises(ValueError, match="at most"):
        Sanitizer(max_depth=10_000)


def test_small_limits_still_sanitize_through_the_general_path() -> None:
    s = Sanitizer(max_string_bytes=4, max_items=1, max_depth=1, max_total_bytes=1000)
    out = s(ev({"a": "hello", "b": 2})).data
    assert out == {"a": "hell…[truncated, 5 bytes]", "…": "[+1 more keys]"}
