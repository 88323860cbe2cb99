"""A scheduler whose clock runs ``speed`` times faster than the event loop's.

Timestamps, metrics and the hang timer all live in simulated time: a 3-minute call at
``speed=60`` takes 3 real seconds and still reports 180,000 ms. Background jobs are tracked
and closed as by ``AsyncioScheduler``, which this extends.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from callhook.engine import AsyncioScheduler, TimerHandle

__all__ = ["ScaledScheduler"]


class ScaledScheduler(AsyncioScheduler):
    """``AsyncioScheduler`` on the running loop, with time compressed by ``speed``."""

    def __init__(self, speed: float = 1.0, *, start_ms: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        super().__init__()
        self._speed = speed
        self._t0 = self.loop.time()
        self._start_ms = time.time() * 1000.0 if start_ms is None else start_ms

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> float:
        return self._start_ms + (self.loop.time() - self._t0) * 1000.0 * self._speed

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        when = self.loop.time() + max(delay_ms, 0.0) / 1000.0 / self._speed
        return self.loop.call_at(when, callback)
