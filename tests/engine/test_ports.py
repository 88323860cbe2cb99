"""Schedulers and sinks: the fake clock runs due timers in order; asyncio timers ride the loop."""

from __future__ import annotations

import asyncio
import gc

import pytest

from callhook.engine import AsyncioScheduler, EngineError, FakeScheduler, ListSink
from callhook.events import Envelope, StatusUpdate


def test_advance_runs_due_timers_in_time_order_at_their_due_time() -> None:
    scheduler = FakeScheduler(1000)
    seen: list[tuple[str, float]] = []
    scheduler.call_later(30, lambda: seen.append(("b", scheduler.now_ms())))
    scheduler.call_later(10, lambda: seen.append(("a", scheduler.now_ms())))
    scheduler.call_later(31, lambda: seen.append(("c", scheduler.now_ms())))
    scheduler.advance(30)
    assert seen == [("a", 1010), ("b", 1030)]
    assert scheduler.now_ms() == 1030
    assert scheduler.pending == 1


def test_a_cancelled_fake_timer_never_runs() -> None:
    scheduler = FakeScheduler(0)
    seen: list[int] = []
    scheduler.call_later(5, lambda: seen.append(1)).cancel()
    scheduler.advance(10)
    assert seen == []
    assert scheduler.pending == 0


def test_a_timer_set_by_a_timer_runs_in_the_same_advance_when_due() -> None:
    scheduler = FakeScheduler(0)
    seen: list[float] = []
    scheduler.call_later(
        5, lambda: scheduler.call_later(5, lambda: seen.append(scheduler.now_ms()))
    )
    scheduler.advance(10)
    assert seen == [10]


def test_time_never_goes_back() -> None:
    with pytest.raises(ValueError, match="time only moves forward"):
        FakeScheduler(0).advance(-1)


def test_the_fake_scheduler_runs_a_job_that_does_not_wait_at_once() -> None:
    done: list[str] = []

    async def job() -> None:
        done.append("ran")

    FakeScheduler(0).spawn(job(), name="job")
    assert done == ["ran"]


def test_the_fake_scheduler_refuses_a_job_that_waits_on_io() -> None:
    async def job() -> None:
        await asyncio.sleep(0)

    with pytest.raises(EngineError, match="FakeScheduler cannot"):
        FakeScheduler(0).spawn(job(), name="report")


def test_the_asyncio_scheduler_needs_a_running_loop() -> None:
    with pytest.raises(EngineError, match="needs a running event loop"):
        AsyncioScheduler()


@pytest.mark.asyncio
async def test_asyncio_timers_ride_the_loop_and_can_be_cancelled() -> None:
    scheduler = AsyncioScheduler()
    fired = asyncio.get_running_loop().create_future()
    cancelled: list[int] = []
    scheduler.call_later(0, lambda: fired.set_result(scheduler.now_ms()))
    scheduler.call_later(0, lambda: cancelled.append(1)).cancel()
    before = scheduler.now_ms()
    assert await fired >= before
    assert cancelled == []
    await scheduler.aclose()


@pytest.mark.asyncio
async def test_the_asyncio_clock_is_epoch_milliseconds() -> None:
    import time

    scheduler = AsyncioScheduler()
    assert abs(scheduler.now_ms() - time.time() * 1000) < 1000
    await scheduler.aclose()


@pytest.mark.asyncio
async def test_aclose_cancels_jobs_that_outlive_the_grace_period() -> None:
    scheduler = AsyncioScheduler()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler.spawn(forever(), name="forever")
    await started.wait()
    await scheduler.aclose(grace_s=0)
    with pytest.raises(EngineError, match="the scheduler is closed"):
        scheduler.spawn(forever(), name="late")


def test_the_list_sink_keeps_envelopes_in_order() -> None:
    sink = ListSink()
    first, second = StatusUpdate(timestamp=1), StatusUpdate(timestamp=2)
    sink.emit(Envelope(first))
    sink.emit(Envelope(second))
    assert sink.events == [first, second]


@pytest.mark.asyncio
async def test_the_scheduler_can_freeze_the_heap_periodically_and_unfreezes_on_close() -> None:
    """Opt-in ``gc_freeze_every_s``: objects alive at a tick leave the collector's reach."""
    assert gc.get_freeze_count() == 0
    scheduler = AsyncioScheduler(gc_freeze_every_s=60.0)
    try:
        assert gc.get_freeze_count() > 0  # the first tick runs at once
    finally:
        await scheduler.aclose()
    assert gc.get_freeze_count() == 0


@pytest.mark.asyncio
async def test_a_freeze_interval_must_be_positive() -> None:
    with pytest.raises(EngineError, match="gc_freeze_every_s must be > 0, got 0"):
        AsyncioScheduler(gc_freeze_every_s=0)
