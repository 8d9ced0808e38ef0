"""Latency percentiles in bounded memory: a log-bucket histogram.

Values land in buckets whose bounds grow by ``GAMMA`` (2 %), so any
quantile is reported within 1 % of a value that was observed at that rank,
and a bucket count is all that is kept: durations from a nanosecond to a
day fit in about 1,300 buckets, whatever the number of calls.
"""

from __future__ import annotations

import math
from typing import Final

GAMMA: Final = 1.02
_PER_LOG: Final = 1 / math.log(GAMMA)


class Sketch:
    """Counts of non-negative integer durations (ns) by log bucket."""

    __slots__ = ("_buckets", "count", "max", "min", "zeros")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.zeros = 0
        self.min = 0
        self.max = 0

    def add(self, value: int) -> None:
        if value < 0:
            value = 0
        if self.count == 0:
            self.min = self.max = value
        elif value < self.min:
            self.min = value
        elif value > self.max:
            self.max = value
        self.count += 1
        if value == 0:
            self.zeros += 1
            return
        index = math.ceil(math.log(value) * _PER_LOG)
        self._buckets[index] = self._buckets.get(index, 0) + 1

    def quantile(self, q: float) -> int:
        """Nearest-rank quantile (``0 < q <= 1``), within 1 % of the true one;
        exact at the extremes.  0 when empty."""
        if self.count == 0:
            return 0
        rank = max(math.ceil(q * self.count), 1)
        if rank >= self.count:
            return self.max
        if rank <= self.zeros:
            return 0
        seen = self.zeros
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                # The bucket (gamma^(i-1), gamma^i]: its midpoint in log terms.
                value = round(2 * GAMMA**index / (GAMMA + 1))
                return min(max(value, self.min), self.max)
        return self.max
