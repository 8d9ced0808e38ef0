"""Ages and periods as people type them: ``30d``, ``12h``, ``90m``, ``2w``."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_AGE_RE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")


def parse_age_s(text: str, *, default_unit: str = "d") -> float:
    """Seconds in ``text`` (``30d``, ``1.5h``, ``45s``; a bare number is in
    ``default_unit``).  Raises ``ValueError`` for anything else or zero."""
    m = _AGE_RE.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"not an age: {text!r} (use e.g. 30d, 12h, 90m, 45s, 2w)")
    value = float(m[1]) * _UNITS[m[2] or default_unit]
    if value <= 0:
        raise ValueError(f"an age must be positive, got {text!r}")
    return value
