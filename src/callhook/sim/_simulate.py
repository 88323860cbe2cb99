"""``simulate``: synthetic calls through real sessions and real, durable delivery to a URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from callhook.delivery import (
    Dispatcher,
    OutboxStats,
    RetryPolicy,
    Transport,
    outbox_stats,
    servers_by_assistant,
)
from callhook.engine import EventSink
from callhook.events import Envelope, Event
from callhook.sim._driver import build_assistant, delivery_server
from callhook.sim._formats import SimFormat
from callhook.sim._plan import CallPlan
from callhook.sim._platform_send import PlatformSender
from callhook.sim._profile import Profile
from callhook.sim._runner import SimulationReport, run_simulation
from callhook.store import make_engine

__all__ = ["SimulationResult", "simulate"]

logger = logging.getLogger("callhook.sim")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What was generated, and how its delivery went."""

    report: SimulationReport
    delivery: OutboxStats


class _Tee:
    """An ``EventSink`` handing each event to several sinks, in order."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, envelope: Envelope[Event]) -> None:
        for sink in self.sinks:
            sink.emit(envelope)


async def simulate(
    url: str,
    profile: Profile,
    *,
    calls: int,
    outbox_url: str,
    concurrency: int = 10,
    rate: float | None = None,
    seed: int = 0,
    speed: float = 1.0,
    secret: str = "",
    wait_s: float = 60.0,
    policy: RetryPolicy | None = None,
    transport: Transport | None = None,
    also: EventSink | None = None,
    on_call_done: Callable[[CallPlan], None] | None = None,
    format: SimFormat | str = SimFormat.INTERACTLY,
) -> SimulationResult:
    """Run ``calls`` synthetic calls whose events are delivered to ``url`` through a durable
    outbox at ``outbox_url``; waits up to ``wait_s`` seconds for the last deliveries.

    ``also`` receives every event too (tests compare it with what the receiver stored).
    ``format`` ``vapi`` or ``retell`` renders the calls as that platform's webhooks instead,
    signed with ``secret`` (the Vapi HMAC secret or the Retell API key) and posted in order
    per call with a few retries (``PlatformSender``); the outbox is then not used.
    """
    chosen = SimFormat(format)
    if chosen is not SimFormat.INTERACTLY:
        return await _simulate_platform(
            url,
            profile,
            chosen,
            calls=calls,
            concurrency=concurrency,
            rate=rate,
            seed=seed,
            speed=speed,
            secret=secret,
            wait_s=wait_s,
            transport=transport,
            also=also,
            on_call_done=on_call_done,
        )
    server = delivery_server(url, secret=secret)  # delivers, and is echoed in the payloads
    assistant_ids = [build_assistant(a, server).id for a in profile.assistants]
    servers = servers_by_assistant({str(i): server for i in assistant_ids})
    async with Dispatcher(
        outbox_url, servers=servers, policy=policy, transport=transport
    ) as dispatcher:
        sink: EventSink = dispatcher if also is None else _Tee(dispatcher, also)
        report = await run_simulation(
            profile,
            calls=calls,
            sink=sink,
            concurrency=concurrency,
            rate=rate,
            seed=seed,
            speed=speed,
            server=server,
            on_call_done=on_call_done,
        )
        await dispatcher.flush()
        try:
            await asyncio.wait_for(dispatcher.wait_idle(), wait_s)
        except TimeoutError:
            logger.warning("sim.delivery_pending after %.0f s; the outbox keeps them", wait_s)
    engine = make_engine(outbox_url)
    try:
        stats = outbox_stats(engine)
    finally:
        engine.dispose()
    return SimulationResult(report, stats)


async def _simulate_platform(
    url: str,
    profile: Profile,
    format: SimFormat,
    *,
    calls: int,
    concurrency: int,
    rate: float | None,
    seed: int,
    speed: float,
    secret: str,
    wait_s: float,
    transport: Transport | None,
    also: EventSink | None,
    on_call_done: Callable[[CallPlan], None] | None,
) -> SimulationResult:
    sender = PlatformSender(url, format, secret=secret, transport=transport)
    try:
        sink: EventSink = sender if also is None else _Tee(sender, also)
        report = await run_simulation(
            profile,
            calls=calls,
            sink=sink,
            concurrency=concurrency,
            rate=rate,
            seed=seed,
            speed=speed,
            on_call_done=on_call_done,
        )
        await sender.drain(wait_s)
        return SimulationResult(report, sender.stats)
    finally:
        await sender.aclose()
