"""The one msgspec encoder and decoders the whole package shares."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._schema import Event

ENCODER: Final = msgspec.json.Encoder()
EVENT_DECODER: Final = msgspec.json.Decoder(Event)
ANY_DECODER: Final = msgspec.json.Decoder()


def encode_line(value: Any) -> bytes:
    """Encode one value as a JSONL line, newline included."""
    buf = ENCODER.encode(value)
    return buf + b"\n"
