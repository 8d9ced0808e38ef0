"""Trace and span ids, W3C trace-context compatible."""

from __future__ import annotations

import random
import re
from typing import Final

_TRACE_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
_SPAN_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def new_trace_id() -> str:
    """128 random bits as 32 lowercase hex characters (never all zero)."""
    # random's global generator is reseeded after fork, so forked workers
    # never repeat their parent's ids; a syscall per id would cost more than
    # the rest of a span.
    while True:
        tid = f"{random.getrandbits(128):032x}"
        if tid != _ZERO_TRACE:
            return tid


def new_span_id() -> str:
    """64 random bits as 16 lowercase hex characters (never all zero)."""
    while True:
        sid = f"{random.getrandbits(64):016x}"
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
