"""Trace and span ids: W3C-shaped, never zero, different in forked children."""

from __future__ import annotations

import os

import pytest

from asynctrace._events._ids import is_span_id, is_trace_id, new_span_id, new_trace_id


def test_ids_are_lowercase_hex_of_the_w3c_widths() -> None:
    assert all(is_trace_id(new_trace_id()) for _ in range(1000))
    assert all(is_span_id(new_span_id()) for _ in range(1000))
    assert not is_trace_id("0" * 32)
    assert not is_span_id("0" * 16)
    assert not is_span_id("A" * 16)


def test_span_ids_do_not_repeat_in_a_large_sample() -> None:
    assert len({new_span_id() for _ in range(100_000)}) == 100_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.write(write, (new_span_id() + new_trace_id()).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    mine = new_span_id() + new_trace_id()
    assert len(child) == 48
    assert child[:16] != mine[:16] and child[16:] != mine[16:]
