"""Trace and span ids, W3C trace-context compatible."""

from __future__ import annotations

import random
import re
from typing import Final

_TRACE_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
_SPAN_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
_bits = random.getrandbits


def new_trace_id() -> str:
    """128 random bits as 32 lowercase hex characters (never all zero)."""
    # random's global generator is reseeded after fork, so forked workers
    # never repeat their parent's ids; a syscall per id would cost more than
    # the rest of a span.
    while True:
        tid = _bits(128).to_bytes(16).hex()
        if tid != _ZERO_TRACE:
            return tid


def new_span_id() -> str:
    """64 random bits as 16 lowercase hex characters (never all zero)."""
    # to_bytes().hex() is about twice as fast as a format spec; a span id is
    # made on every span.
    while True:
        sid = _bits(64).to_bytes(8).hex()
        if sid != _ZERO_SPAN:
            return sid


def is_trace_id(value: object) -> bool:
    return isinstance(value, str) and bool(_TRACE_ID_RE.fullmatch(value)) and value != _ZERO_TRACE


def is_span_id(value: object) -> bool:
    return isinstance(value, str) and bool(_SPAN_ID_RE.fullmatch(value)) and value != _ZERO_SPAN


def check_trace_id(value: object) -> str:
    """Return ``value`` if it is a valid trace id, else raise ``ValueError``.

    The trace id becomes part of a file name, so this is also what keeps a
    caller-supplied id from escaping the trace directory.
    """
    if not is_trace_id(value):
        raise ValueError(
            f"trace_id must be 32 lowercase hex characters and not all zero, got {value!r}"
        )
    assert isinstance(value, str)
    return value


def new_file_id() -> str:
    """64 random bits as 16 lowercase hex: the id of one trace file (schema v2)."""
    return new_span_id()


def is_file_id(value: object) -> bool:
    return is_span_id(value)
