"""The engine's boundaries: where time comes from, how timers run, where events go.

A ``CallSession`` never reads the system clock, never sleeps and never starts a thread. It asks
its ``Scheduler`` for the time and for one-shot timers, and hands every event to an ``EventSink``.

- ``AsyncioScheduler`` puts timers on the running event loop (``loop.call_at``): a pending hang
  or ``maxCallDuration`` timer is one ``TimerHandle`` in the loop's heap, not a task.
- ``FakeScheduler`` is a manual clock for tests and simulations: ``advance(ms)`` runs the timers
  that fall due, in order, so tests never sleep.

``EventSink.emit`` is **synchronous** and must return quickly: the session calls it inline
from the platform's call or from a timer callback. A delivery layer enqueues there (for example
into its outbox) and sends from its own workers.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from callhook._exceptions import EngineError
from callhook.events import Envelope, Event

__all__ = ["AsyncioScheduler", "EventSink", "FakeScheduler", "ListSink", "Scheduler", "TimerHandle"]

logger = logging.getLogger("callhook.engine")

#: A coroutine the scheduler runs to completion; its result is ignored.
Job = Coroutine[Any, Any, None]  # Any: the send/yield types of a coroutine are the loop's business


class TimerHandle(Protocol):
    """A pending one-shot timer."""

    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Clock and timers of a set of sessions (usually one per event loop)."""

    def now_ms(self) -> float:
        """The current time, epoch milliseconds (fractions allowed)."""
        ...

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once, ``delay_ms`` from now."""
        ...

    def spawn(self, job: Job, *, name: str) -> None:
        """Run ``job`` (the end-of-call analysis) in the background, tracked."""
        ...


class EventSink(Protocol):
    """Where a session puts each event, in order. Called synchronously; must not block."""

    def emit(self, envelope: Envelope[Event]) -> None: ...


class ListSink:
    """An ``EventSink`` that keeps every envelope in ``self.envelopes`` (tests, demos)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope[Event]] = []

    def emit(self, envelope: Envelope[Event]) -> None:
        self.envelopes.append(envelope)

    @property
    def events(self) -> list[Event]:
        """The events, without their envelopes."""
        return [envelope.message for envelope in self.envelopes]


class AsyncioScheduler:
    """Timers on an asyncio event loop; the clock is the loop's monotonic clock.

    ``now_ms()`` is the loop time shifted to the epoch once, at construction, so timers and
    timestamps share one time base. Create it inside the running loop, or pass ``loop``.
    Background jobs are named, tracked, and cancelled by ``aclose`` after a timeout.

    ``gc_freeze_every_s``: for a process hosting thousands of live calls, call ``gc.freeze()``
    that often (opt-in; it acts on the whole process). A full garbage collection of such a heap
    stops the loop for hundreds of ms and makes timers late; frozen objects are skipped by the
    collector, while reference counting still frees them (sessions form no cycles). ``aclose``
    stops the ticks and unfreezes. See BENCHMARKS.md ("Engine") for the measured effect.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        gc_freeze_every_s: float | None = None,
    ) -> None:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise EngineError(
                    "AsyncioScheduler() needs a running event loop: create it inside "
                    "`async def` code, or pass loop=..."
                ) from None
        self._loop = loop
        self._offset_ms = time.time() * 1000.0 - loop.time() * 1000.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._freezer: asyncio.TimerHandle | None = None
        if gc_freeze_every_s is not None:
            if gc_freeze_every_s <= 0:
                raise EngineError(f"gc_freeze_every_s must be > 0, got {gc_freeze_every_s}")
            self._freeze(gc_freeze_every_s)

    def _freeze(self, every_s: float) -> None:
        gc.freeze()
        self._freezer = self._loop.call_later(every_s, self._freeze, every_s)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the timers run on."""
        return self._loop

    def now_ms(self) -> float:
        return self._offset_ms + self._loop.time() * 1000.0

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop.call_at(self._loop.time() + max(delay_ms, 0.0) / 1000.0, callback)

    def spawn(self, job: Job, *, name: str) -> None:
        if self._closed:
            job.close()
            raise EngineError(f"the scheduler is closed; cannot start {name}")
        task = self._loop.create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("engine.job_failed %s", task.get_name(), exc_info=exc)

    async def drain(self) -> None:
        """Wait until every background job has finished."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Refuse new jobs, wait up to ``grace_s`` seconds for running ones, cancel the rest."""
        self._closed = True
        if self._freezer is not None:
            self._freezer.cancel()
            self._freezer = None
            gc.unfreeze()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def __aenter__(self) -> AsyncioScheduler:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """A manual clock: time moves only when ``advance`` is called.

    ``spawn`` runs a job at once, to completion; a job that waits on real I/O cannot run here
    (use ``AsyncioScheduler``) and raises ``EngineError``.
    """

    def __init__(self, start_ms: float = 1_772_702_479_627.0) -> None:
        self._now = float(start_ms)
        self._heap: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now_ms(self) -> float:
        return self._now

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(self._now + max(delay_ms, 0.0), callback)
        heapq.heappush(self._heap, (timer.due, next(self._seq), timer))
        return timer

    def spawn(self, job: Job, *, name: str) -> None:
        try:
            job.send(None)
        except StopIteration:
            return
        job.close()
        raise EngineError(f"{name} waits on I/O; FakeScheduler cannot, use AsyncioScheduler")

    def advance(self, ms: float) -> None:
        """Move the clock ``ms`` forward, running each timer due by then at its due time."""
        if ms < 0:
            raise ValueError(f"time only moves forward; got advance({ms})")
        target = self._now + ms
        while self._heap and self._heap[0][0] <= target:
            due, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            timer.callback()
        self._now = target

    @property
    def pending(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)
