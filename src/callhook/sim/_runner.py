"""Runs many planned calls concurrently through real ``CallSession``s into any event sink."""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from callhook.engine import EventSink
from callhook.events import AssistantServer, Envelope, Event, EventType
from callhook.sim._clock import ScaledScheduler
from callhook.sim._driver import CallDriver, build_assistant
from callhook.sim._plan import CallPlan, plan_call
from callhook.sim._profile import Profile

__all__ = ["CountingSink", "SimulationReport", "plan_calls", "run_simulation"]


class CountingSink:
    """Counts events by type on their way to ``inner`` (any ``EventSink``, or none)."""

    def __init__(self, inner: EventSink | None = None) -> None:
        self.inner = inner
        self.by_type: Counter[EventType] = Counter()

    def emit(self, envelope: Envelope[Event]) -> None:
        self.by_type[envelope.message.type] += 1
        if self.inner is not None:
            self.inner.emit(envelope)


@dataclass
class SimulationReport:
    """What a simulation generated (delivery figures are added by the caller)."""

    calls: int = 0
    failed_calls: int = 0
    forwarded_calls: int = 0
    events: Counter[EventType] = field(default_factory=Counter)
    barge_ins: int = 0
    #: Generated latencies in ms, by stage (``llm``, ``stt``, ``eou``, ``tts``).
    latencies: dict[str, list[float]] = field(default_factory=dict)

    @property
    def hangs(self) -> int:
        return self.events[EventType.HANG]

    @property
    def errors(self) -> int:
        return self.events[EventType.ERROR]

    def percentiles(self, stage: str) -> tuple[float, float, float]:
        """p50, p95, p99 of one stage's generated latencies (zeros when none)."""
        values = self.latencies.get(stage, [])
        if len(values) < 2:
            return (values[0],) * 3 if values else (0.0, 0.0, 0.0)
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cuts[49], cuts[94], cuts[98]


def plan_calls(profile: Profile, count: int, seed: int) -> list[CallPlan]:
    """The calls of a simulation: the same seed gives the same calls."""
    rng = random.Random(seed)
    return [plan_call(profile, rng) for _ in range(count)]


async def run_simulation(
    profile: Profile,
    *,
    calls: int,
    sink: EventSink | None = None,
    concurrency: int = 10,
    rate: float | None = None,
    seed: int = 0,
    speed: float = 1.0,
    server: AssistantServer | None = None,
    on_call_done: Callable[[CallPlan], None] | None = None,
) -> SimulationReport:
    """Play ``calls`` planned calls, at most ``concurrency`` at once, starting at most ``rate``
    calls per real second; returns once every call has ended and its report was emitted.

    ``server`` is the assistants' ``assistantServer`` (see ``delivery_server``), echoed in
    the payloads; ``None`` leaves delivery disabled in them.
    """
    if calls < 0 or concurrency < 1 or (rate is not None and rate <= 0):
        raise ValueError("calls must be >= 0, concurrency >= 1 and rate > 0")
    plans = plan_calls(profile, calls, seed)
    counting = CountingSink(sink)
    scheduler = ScaledScheduler(speed)
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(concurrency)
    finished: list[asyncio.Future[CallDriver]] = []
    drivers: list[CallDriver] = []
    assistants = {a.name: build_assistant(a, server) for a in profile.assistants}
    try:
        for index, plan in enumerate(plans):
            if rate is not None and index:
                await asyncio.sleep(1.0 / rate)
            await slots.acquire()
            done: asyncio.Future[CallDriver] = loop.create_future()

            def call_done(driver: CallDriver, done: asyncio.Future[CallDriver] = done) -> None:
                slots.release()
                if on_call_done is not None:
                    on_call_done(driver.plan)
                done.set_result(driver)

            driver = CallDriver(
                plan,
                assistants[plan.assistant.name],
                scheduler=scheduler,
                sink=counting,
                rng=random.Random(f"{seed}/{index}"),
                on_done=call_done,
            )
            drivers.append(driver)
            finished.append(done)
            driver.start()
        await asyncio.gather(*finished)
    finally:
        await scheduler.aclose()  # lets the end-of-call analyses finish
    return _report(plans, drivers, counting)


def _report(
    plans: list[CallPlan], drivers: list[CallDriver], sink: CountingSink
) -> SimulationReport:
    report = SimulationReport(calls=len(plans), events=sink.by_type)
    report.failed_calls = sum(p.failed for p in plans)
    report.forwarded_calls = sum(p.forwarded and not p.failed for p in plans)
    report.barge_ins = sum(d.session.ledger.barge_ins for d in drivers)
    stages: dict[str, list[float]] = {"llm": [], "stt": [], "eou": [], "tts": []}
    for plan in plans:
        if plan.failed:
            continue
        for turn in plan.turns:
            stages["llm"].append(turn.llm_ms)
            stages["stt"].append(turn.stt_ms)
            stages["eou"].append(turn.eou_ms)
            stages["tts"].append(turn.tts_ms)
    report.latencies = stages
    return report
