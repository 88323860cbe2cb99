"""The async ``Monitor``: lifecycle, non-blocking ``observe``, and the outcome carried out
against real local servers (webhook sink, control URL, systemic-hangs webhook)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import pytest

from callhook.monitor import (
    AlertState,
    InMemoryAlertStore,
    Monitor,
    MonitorClosedError,
    MonitorConfig,
    MonitorCore,
    Notice,
    RemediationConfig,
    RuleId,
    WebhookSinkConfig,
)
from callhook.monitor._sinks import AlertSinkError

from .calls import T0_MS, bot, conv, hang, started, user
from .conftest import HttpReceiver

pytestmark = pytest.mark.asyncio

NOW = 1_000_000.0


class FakeClock:
    """Epoch milliseconds, moved by hand."""

    def __init__(self, now_ms: int = int(NOW * 1000)) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.notices.append(notice)


class Broken:
    name = "broken"

    async def send(self, notice: Notice) -> None:
        raise AlertSinkError(self.name, "nowhere", "always fails")


async def test_observe_outside_the_context_raises_a_sentence() -> None:
    monitor = Monitor(MonitorConfig(sentiment=False), sinks=[])
    with pytest.raises(MonitorClosedError, match="outside `async with Monitor"):
        monitor.observe(started("c"))
    async with monitor:
        assert monitor.observe(started("c")) is True
    with pytest.raises(MonitorClosedError):
        monitor.observe(started("c"))
    with pytest.raises(MonitorClosedError, match="entered once"):
        async with monitor:
            pass


async def test_background_tasks_are_named_and_cancelled_on_close() -> None:
    async with Monitor(MonitorConfig(sentiment=False), sinks=[]) as monitor:
        names = sorted(t.get_name() for t in asyncio.all_tasks())
        assert {
            "callhook-monitor-evaluate",
            "callhook-monitor-notify",
            "callhook-monitor-tick",
        } <= set(names)
    assert not any(t.get_name().startswith("callhook-monitor") for t in asyncio.all_tasks())
    assert monitor.stats.observed == 0


async def test_full_queue_drops_and_counts_without_blocking() -> None:
    async with Monitor(MonitorConfig(sentiment=False, queue_size=2), sinks=[]) as monitor:
        results = [
            monitor.observe(started(f"c{i}"), int(NOW * 1000)) for i in range(5)
        ]  # no await between
        assert results == [True, True, False, False, False]
        await monitor.drain()
        stats = monitor.stats
    assert (stats.observed, stats.processed, stats.dropped, stats.queued) == (5, 2, 3, 0)


async def test_events_flow_to_store_sinks_and_remediation(http_receiver: HttpReceiver) -> None:
    config = MonitorConfig(
        sentiment=False,
        sinks=[WebhookSinkConfig(url=f"{http_receiver.url}/alerts", format="slack")],
        remediation=RemediationConfig(
            say_on_hang=True,
            say_message="One moment please.",
            systemic_hangs_webhook=f"{http_receiver.url}/systemic",
        ),
    )
    store = InMemoryAlertStore()
    clock = FakeClock()
    control = f"{http_receiver.url}/control/c0"
    async with Monitor(config, store=store, clock=clock) as monitor:
        for i in range(3):  # three hangs of one assistant: systemic
            cid = f"c{i}"
            monitor.observe(started(cid, control_url=control if i == 0 else ""))
            monitor.observe(hang(cid, [user(1, "hello?", T0_MS)], T0_MS + 5000))
        await monitor.drain()
        u1 = user(1, "hello?", T0_MS)
        clock.now_ms += 9000
        monitor.observe(conv("c0", [u1, bot(1, "Here", T0_MS + 9000, waited=9000)]))
        await monitor.drain()
        open_rules = sorted(a.rule for a in monitor.open_alerts())
    assert http_receiver.bodies("/control/c0") == [{"type": "say", "message": "One moment please."}]
    (systemic,) = http_receiver.bodies("/systemic")
    assert (
        systemic["alert"]["rule"] == "systemic_hangs"
        and systemic["alert"]["scope"] == "assistant=asst-1"
    )
    texts = [b["text"] for b in http_receiver.bodies("/alerts")]
    assert sum("hang call=c" in t and "firing" in t for t in texts) == 3
    assert any(t.startswith("[CRITICAL] systemic_hangs assistant=asst-1 firing") for t in texts)
    assert texts[-1].startswith(
        "[WARNING] hang call=c0/user-1 resolved: call c0 hung on user-1 after 5000 ms"
    )
    assert texts[-1].endswith("; at resolution: response arrived after 9000 ms")
    history = await store.list(limit=100)
    hang_c0 = [a for a in history if a.scope == "call=c0/user-1"]
    assert [a.state for a in hang_c0] == [AlertState.RESOLVED]
    assert open_rules == [RuleId.HANG, RuleId.HANG, RuleId.SYSTEMIC_HANGS]
    assert monitor.stats.remediation_failures == 0 and monitor.stats.sink_failures == 0


async def test_a_failing_sink_does_not_stop_the_others() -> None:
    recorder = Recorder()
    sinks: Sequence[Recorder | Broken] = [Broken(), recorder]
    async with Monitor(MonitorConfig(sentiment=False), sinks=sinks, clock=FakeClock()) as monitor:
        monitor.observe(hang("c", [user(1, "hi", T0_MS)], T0_MS + 5000))
        await monitor.drain()
    assert [n.alert.rule for n in recorder.notices] == [RuleId.HANG]
    assert monitor.stats.sink_failures == 1


async def test_failing_control_url_is_counted(http_receiver: HttpReceiver) -> None:
    http_receiver.status = 404
    config = MonitorConfig(sentiment=False, remediation=RemediationConfig(say_on_hang=True))
    async with aiohttp.ClientSession() as client:
        async with Monitor(config, sinks=[], client=client, clock=FakeClock()) as monitor:
            event = hang(
                "c", [user(1, "hi", T0_MS)], T0_MS + 5000, control_url=f"{http_receiver.url}/c"
            )
            monitor.observe(event)
            await monitor.drain()
        assert not client.closed  # a client passed in is the caller's to close
    assert monitor.stats.remediation_failures == 1
    assert len(http_receiver.requests) == 1


async def test_sentiment_and_patterns_are_readable() -> None:
    async with Monitor(MonitorConfig(), sinks=[], clock=FakeClock()) as monitor:
        u1 = user(1, "This is great, thank you so much!", T0_MS + 1000)
        u2 = user(2, "This is terrible. I hate waiting.", T0_MS + 9000)
        monitor.observe(started("c"))
        monitor.observe(conv("c", [u1]))
        monitor.observe(hang("c", [u1, bot(1, "ok", T0_MS + 2000), u2], T0_MS + 15000))
        await monitor.drain()
        sentiment = monitor.sentiment("c")
        rows = monitor.patterns("provider")
    assert sentiment is not None
    assert [p.message_id for p in sentiment.points] == ["user-1", "user-2"]
    assert sentiment.points[0].compound > 0.5 and sentiment.points[1].compound < -0.5
    assert sentiment.average == pytest.approx(sum(p.compound for p in sentiment.points) / 2)
    assert monitor.sentiment("unknown") is None
    (row,) = rows
    assert (row.group, row.calls, row.hangs, row.turns, row.hangs_per_turn) == (
        "openai",
        1,
        1,
        2,
        0.5,
    )


async def test_disabled_monitor_ignores_events() -> None:
    async with Monitor(MonitorConfig(enabled=False), sinks=[]) as monitor:
        assert monitor.observe(started("c"), 1) is False
        await monitor.drain()
    assert monitor.stats.observed == 0 and monitor.core.calls == {}


class BrokenStore(InMemoryAlertStore):
    async def save(self, alert: object) -> None:
        raise OSError("disk full")


async def test_a_failing_store_does_not_stop_notices() -> None:
    recorder = Recorder()
    config = MonitorConfig(sentiment=False)
    async with Monitor(config, store=BrokenStore(), sinks=[recorder], clock=FakeClock()) as monitor:
        monitor.observe(hang("c", [user(1, "hi", T0_MS)], T0_MS + 5000))
        monitor.observe(hang("d", [user(1, "hi", T0_MS)], T0_MS + 5000))
        await monitor.drain()
    assert len(recorder.notices) == 2 and monitor.stats.store_failures == 2


async def test_sentiment_in_worker_processes_matches_in_process() -> None:
    """With ``sentiment_workers`` the scores come from a spawned process, equal to VADER's."""
    u1 = user(1, "This is great, thank you so much!", T0_MS + 1000)
    u2 = user(2, "This is terrible. I hate waiting.", T0_MS + 9000)
    config = MonitorConfig(sentiment_workers=1)
    async with Monitor(config, sinks=[], clock=FakeClock()) as monitor:
        monitor.observe(conv("c", [u1]))
        monitor.observe(conv("c", [u1, bot(1, "ok", T0_MS + 2000), u2]))
        await monitor.drain()
        sentiment = monitor.sentiment("c")
        assert "callhook-monitor-sentiment" in {t.get_name() for t in asyncio.all_tasks()}
    inline = MonitorCore(MonitorConfig())
    inline.process(conv("c", [u1, u2]), NOW)
    assert sentiment is not None
    assert sentiment.points == inline.calls["c"].sentiment
