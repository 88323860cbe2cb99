"""A scheduler whose clock runs ``speed`` times faster than the event loop's.

Timestamps, metrics and the hang timer all live in simulated time: a 3-minute call at
``speed=60`` takes 3 real seconds and still reports 180,000 ms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from callhook.engine import EngineError, TimerHandle

__all__ = ["ScaledScheduler"]

logger = logging.getLogger("callhook.sim")

Job = Coroutine[Any, Any, None]  # Any: send/yield types of a coroutine are the loop's business


class ScaledScheduler:
    """``callhook.engine.Scheduler`` on the running loop, with time compressed by ``speed``."""

    def __init__(self, speed: float = 1.0, *, start_ms: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._loop = asyncio.get_running_loop()
        self._speed = speed
        self._t0 = self._loop.time()
        self._start_ms = time.time() * 1000.0 if start_ms is None else start_ms
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> float:
        return self._start_ms + (self._loop.time() - self._t0) * 1000.0 * self._speed

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        when = self._loop.time() + max(delay_ms, 0.0) / 1000.0 / self._speed
        return self._loop.call_at(when, callback)

    def spawn(self, job: Job, *, name: str) -> None:
        if self._closed:
            job.close()
            raise EngineError(f"the simulation is over; cannot start {name}")
        task = self._loop.create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("sim.job_failed %s", task.get_name(), exc_info=exc)

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Refuse new jobs; wait up to ``grace_s`` s for running ones, then cancel them."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
