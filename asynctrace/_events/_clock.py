"""The one clock of producer timestamps: wall-clock nanoseconds read off the monotonic clock.

Every ``ts_ns`` a producer stamps is ``monotonic_ns() + offset_ns``, where
``offset_ns`` is the wall clock's lead over the monotonic clock.  One clock
read per event then gives both a wall-clock time and, between two events,
an exact duration: a span's stop is its start plus ``duration_ns`` to the
nanosecond, so nested spans can never appear to stop out of order.

The offset is taken again (``reanchor``) when a collector opens and about
once a second while one writes, so a wall clock that was stepped (a VM
resumed, NTP's first sync) is followed within a second; between two
anchors the time moves at the monotonic clock's rate, which NTP slews like
the wall clock's.
"""

from __future__ import annotations

from time import monotonic_ns, time_ns

__all__ = ["now_ns", "offset_ns", "reanchor"]

offset_ns = time_ns() - monotonic_ns()
"""Read it through the module (``_clock.offset_ns``): ``reanchor`` rebinds it."""


def reanchor() -> None:
    """Take the wall clock's offset from the monotonic clock again."""
    global offset_ns
    offset_ns = time_ns() - monotonic_ns()


def now_ns() -> int:
    """The wall-clock time in nanoseconds, as producers stamp it."""
    return monotonic_ns() + offset_ns
