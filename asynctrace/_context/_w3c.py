"""W3C Trace Context: the ``traceparent`` and ``tracestate`` headers."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Final

import msgspec

_TRACEPARENT_RE: Final = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?"
)


class TraceParent(msgspec.Struct, frozen=True):
    """A parsed ``traceparent``: the remote trace, span and sampling decision."""

    trace_id: str
    span_id: str
    sampled: bool = True
    tracestate: str | None = None

    def header(self) -> str:
        """The ``traceparent`` header value (version 00)."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(value: str, tracestate: str | None = None) -> TraceParent | None:
    """Parse a ``traceparent`` value; ``None`` if the spec says to ignore it.

    Per the spec: version ``ff`` is invalid, all-zero trace or span ids are
    invalid, version 00 has exactly four fields, and a later version may
    append fields after a dash, which are ignored.
    """
    if not isinstance(value, str):
        return None
    m = _TRACEPARENT_RE.fullmatch(value.strip())
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, bool(int(flags, 16) & 1), tracestate or None)


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # HTTP header names are case-insensitive; plain dicts are not.
    for key, val in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return val
    return None


def extract(headers: Mapping[str, str]) -> TraceParent | None:
    """Read ``traceparent``/``tracestate`` from incoming HTTP headers.

    Returns ``None`` when there is no valid ``traceparent``.
    """
    raw = _get(headers, "traceparent")
    if raw is None:
        return None
    return parse_traceparent(raw, _get(headers, "tracestate"))


def inject_parent(parent: TraceParent | None, headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    if parent is not None:
        headers["traceparent"] = parent.header()
        if parent.tracestate:
            headers["tracestate"] = parent.tracestate
    return headers
