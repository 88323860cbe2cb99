"""Sliding time windows over the monitor's clock (seconds).

A sample taken at ``t`` is inside the window at ``now`` while ``now - t < span``: a 300 s
window evaluated at ``now = 300`` no longer holds a sample from ``t = 0``. Counting is
amortised O(1); ``ValueWindow`` also keeps its samples sorted (``bisect``: O(log n) search, a
memmove on insert and evict) so that a percentile is one index, whatever the window size.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Hashable

__all__ = ["CountWindow", "DistinctWindow", "ValueWindow", "percentile"]


class CountWindow:
    """How many things happened in the last ``span`` seconds."""

    __slots__ = ("_times", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._times: deque[float] = deque()

    def add(self, t: float, count: int = 1) -> None:
        for _ in range(count):
            self._times.append(t)

    def count(self, now: float) -> int:
        self._evict(now)
        return len(self._times)

    def _evict(self, now: float) -> None:
        times = self._times
        cutoff = now - self.span
        while times and times[0] <= cutoff:
            times.popleft()


class DistinctWindow:
    """How many distinct keys were seen in the last ``span`` seconds."""

    __slots__ = ("_last", "_order", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._last: dict[Hashable, float] = {}
        self._order: deque[tuple[float, Hashable]] = deque()

    def add(self, t: float, key: Hashable) -> None:
        previous = self._last.get(key)
        if previous is not None and previous >= t:
            return
        self._last[key] = t
        self._order.append((t, key))

    def count(self, now: float) -> int:
        self._evict(now)
        return len(self._last)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._last

    def _evict(self, now: float) -> None:
        order = self._order
        cutoff = now - self.span
        while order and order[0][0] <= cutoff:
            t, key = order.popleft()
            if self._last.get(key) == t:
                del self._last[key]


class ValueWindow:
    """Numeric samples of the last ``span`` seconds: count, mean and percentiles."""

    __slots__ = ("_samples", "_sorted", "_sum", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._samples: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []
        self._sum = 0.0

    def add(self, t: float, value: float) -> None:
        if math.isnan(value):
            return  # would break the ordering; a NaN latency says nothing anyway
        self._samples.append((t, value))
        bisect.insort(self._sorted, value)
        self._sum += value

    def count(self, now: float) -> int:
        self._evict(now)
        return len(self._samples)

    def mean(self, now: float) -> float | None:
        self._evict(now)
        if not self._samples:
            return None
        return self._sum / len(self._samples)

    def percentile(self, now: float, q: float) -> float | None:
        """Nearest-rank ``q``-th percentile of the samples in the window (see ``percentile``)."""
        self._evict(now)
        return _nearest_rank(self._sorted, q)

    def _evict(self, now: float) -> None:
        samples = self._samples
        ordered = self._sorted
        cutoff = now - self.span
        while samples and samples[0][0] <= cutoff:
            value = samples.popleft()[1]
            del ordered[bisect.bisect_left(ordered, value)]
            self._sum -= value
        if not samples:
            self._sum = 0.0  # no drift from float rounding once the window empties


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (``q`` in 0..100) of ``values``, or ``None``.

    Nearest rank: the smallest sample such that at least ``q`` % of the samples are at or
    below it; it is always one of the samples, never an interpolation.
    """
    return _nearest_rank(sorted(values), q)


def _nearest_rank(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
