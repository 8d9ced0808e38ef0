"""Captured HTTP bodies of model calls, as they are stored in ``llm.request`` /
``llm.response`` events, and read back.

A body is kept as a list of text chunks, each well under the sanitizer's
per-string limit and few enough to stay under its per-list limit, so that a
body up to the event size cap survives the processor chain whole (the chain
cuts long strings, it never joins or reorders list items).  Its length and
SHA-256 are recorded beside it: the reader checks them, so a body that a
processor changed or cut is reported as not reproducible instead of being
replayed wrong.  No chunk starts with ``/`` or ``~``, which the redactor
would read as a file path.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

LLM_REQUEST: Final = "llm.request"
LLM_RESPONSE: Final = "llm.response"

# 16 KiB chunks: a quarter of the default max_string_bytes, and 100 of them
# (the default max_items) hold 1.6 MB, more than the default event cap.
CHUNK_BYTES: Final = 16_384
_PATHLIKE: Final = frozenset(b"/~")


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def split_body(body: bytes, chunk_bytes: int = CHUNK_BYTES) -> list[str]:
    """UTF-8 *body* as text chunks of at most *chunk_bytes* bytes each.

    Raises ``UnicodeDecodeError`` for a body that is not UTF-8 text.
    """
    body.decode("utf-8")  # the whole body must be text
    out: list[str] = []
    start, n = 0, len(body)
    while start < n:
        end = min(start + chunk_bytes, n)
        # Back off to a character boundary, and off a '/' or '~' that would
        # open the next chunk.
        while end < n and (body[end] & 0xC0 == 0x80 or body[end] in _PATHLIKE):
            end -= 1
        if end <= start:  # a run of '/' longer than a chunk: cut anywhere on a boundary
            end = min(start + chunk_bytes, n)
            while end < n and body[end] & 0xC0 == 0x80:
                end -= 1
        out.append(body[start:end].decode("utf-8"))
        start = end
    return out


def body_fields(body: bytes | None, limit: int, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """The ``body*`` keys of an ``llm.request``/``llm.response`` event.

    ``body`` (list of chunks, or null when the body is not text),
    ``body_bytes`` (the full size), ``body_sha256`` (of the full body),
    ``body_truncated`` (true when only the first *limit* bytes are kept).
    """
    if body is None:
        return {"body": None}
    full = len(body)
    truncated = full > limit
    kept = body[:limit] if truncated else body
    try:
        chunks = split_body(kept, chunk_bytes)
    except UnicodeDecodeError as exc:
        if not truncated or exc.start < len(kept) - 3:
            return {"body": None, "body_bytes": full, "body_encoding": "binary"}
        chunks = split_body(kept[: exc.start], chunk_bytes)  # a character cut at the limit
    return {
        "body": chunks,
        "body_bytes": full,
        "body_sha256": digest(body),
        "body_truncated": truncated,
    }


def join_body(data: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The body stored in an event's *data*, and why it is not exact (or None).

    Returns ``(body, None)`` for a body that is byte for byte what was sent,
    ``(partial, reason)`` for one that was truncated or changed on the way,
    ``(None, reason)`` when none was recorded.
    """
    chunks = data.get("body")
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
        if data.get("body_encoding") == "binary":
            return None, "the body was not text and was not recorded"
        if data.get("body_omitted"):
            return None, f"the body was not recorded ({data['body_omitted']})"
        return None, "no body was recorded"
    body = "".join(chunks).encode("utf-8")
    if data.get("body_truncated"):
        return body, f"the body was truncated ({len(body)} of {data.get('body_bytes')} bytes kept)"
    if data.get("body_sha256") != digest(body) or data.get("body_bytes") != len(body):
        return body, "the body was changed after capture (redacted or cut by a processor)"
    if data.get("body_redacted"):
        return body, "secrets in the body were redacted before it was recorded"
    return body, None


def route(url: str, base: str) -> str:
    """The part of a recorded *url* after its *base* URL (the endpoint's path and query)."""
    if base and url.startswith(base):
        return url[len(base) :]
    _, _, rest = url.partition("://")
    _, slash, path = rest.partition("/")
    return slash + path
