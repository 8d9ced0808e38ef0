"""What a reader found wrong with a trace file, without stopping."""

from __future__ import annotations

from typing import Final

import msgspec

# Problem kinds.  A reader never raises for any of these; it reports them.
EMPTY: Final = "empty"
"""The file has no lines at all."""
NOT_A_TRACE: Final = "not_a_trace"
"""The first line is not a ``trace.start`` event."""
MALFORMED: Final = "malformed"
"""A line in the middle that is not a valid event; it was skipped."""
TORN_TAIL: Final = "torn_tail"
"""The final line is incomplete, as a crash mid-write leaves it; skipped."""
NO_FINAL_NEWLINE: Final = "no_final_newline"
"""The final line is a valid event but lacks its newline."""
MISSING_STOP: Final = "missing_stop"
"""There is no ``trace.stop``: the writer never closed the trace."""
OPEN_SPAN: Final = "open_span"
"""A ``*.start`` without its ``*.stop``."""
UNPAIRED_STOP: Final = "unpaired_stop"
"""A ``*.stop`` without its ``*.start``."""
SPAN_CYCLE: Final = "span_cycle"
"""Spans whose parent links form a loop; the loop was cut."""
MISSING_CHILD: Final = "missing_child"
"""A linked child trace whose file was not found."""
TRACE_CYCLE: Final = "trace_cycle"
"""A child trace link that leads back to a trace already loaded."""
BAD_CHILD: Final = "bad_child"
"""A child trace file that could not be read or does not point back."""
MISSING_PART: Final = "missing_part"
"""A rotated part names a next part whose file was not found."""


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a trace.

    ``line`` is the 1-based line number in the file, or 0 when the problem is
    not about one line.
    """

    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"
