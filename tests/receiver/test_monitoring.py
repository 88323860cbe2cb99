"""The monitor in the receiver: scripted calls posted to the real app lead to alerts, hang
impacts, sentiment and pattern rows in the API, still there after a restart; a slow or broken
sink never delays or fails the ack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import pytest

from callhook.events import Envelope, Event, encode
from callhook.monitor import (
    AlertSink,
    AlertSinkError,
    AlertState,
    Monitor,
    MonitorConfigError,
    Notice,
    SqlAlertStore,
)
from callhook.monitor import load_config as load_monitor_config
from callhook.receiver import ReceiverApp, ReceiverConfig, create_app, load_config
from callhook.store import Store
from tests.monitor.calls import (
    T0_MS,
    bot,
    conv,
    error,
    finished,
    hang,
    started,
    user,
    welcome,
)

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}
ASKED = "I want to book a table for two tonight"


class Clock:
    """The receiver's and the monitor's clock (epoch ms), moved by the test only."""

    def __init__(self) -> None:
        self.now = T0_MS

    def __call__(self) -> int:
        return self.now


def script(call_id: str) -> list[Event]:
    """A call that hangs on user-1, is asked again, recovers late, errors, and is hung up on
    by the user 8 s after the hang."""
    w, u1 = welcome(), user(1, ASKED, T0_MS + 1_000)
    u2 = user(2, ASKED + " please", T0_MS + 9_000)
    b1 = bot(1, "Sure, for what time?", T0_MS + 12_000, waited=11_000)
    u3 = user(3, "This is terrible, I hate waiting so long.", T0_MS + 13_500)
    return [
        started(call_id),
        conv(call_id, [w, u1]),
        hang(call_id, [w, u1], T0_MS + 6_000),
        conv(call_id, [w, u1, u2]),
        conv(call_id, [w, u1, u2, b1]),
        error(call_id, T0_MS + 13_000, messages=[w, u1, u2, b1]),
        conv(call_id, [w, u1, u2, b1, u3]),
        finished(call_id, T0_MS + 14_000),
    ]


async def post_all(client: httpx.AsyncClient, clock: Clock, events: Sequence[Event]) -> None:
    for event in events:
        clock.now += 1_000
        body = encode(Envelope(message=event))
        response = await client.post("/webhook", content=body, headers=JSON)
        assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def serving(app: ReceiverApp) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (as ``callhook serve`` runs it)."""
    async with app.other.router.lifespan_context(app.other):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            yield client


async def check_everything(client: httpx.AsyncClient) -> None:
    alerts = (await client.get("/api/alerts")).json()
    assert alerts["nextCursor"] is None
    by_rule = {a["rule"]: a for a in alerts["alerts"]}
    assert set(by_rule) == {"hang", "error"}
    assert [a["rule"] for a in alerts["alerts"]] == ["error", "hang"]  # newest first
    assert by_rule["hang"]["state"] == "resolved"
    assert by_rule["hang"]["callId"] == "M1"
    assert by_rule["hang"]["resolvedAt"] is not None
    assert by_rule["error"]["state"] == "open"
    assert by_rule["error"]["provider"] == "openai"
    assert set(by_rule["error"]) == {
        "id", "rule", "scope", "severity", "state", "summary", "value", "threshold",
        "firedAt", "updatedAt", "resolvedAt", "callId", "assistantId", "provider",
    }  # fmt: skip
    opened = (await client.get("/api/alerts", params={"state": "open"})).json()["alerts"]
    assert [a["rule"] for a in opened] == ["error"]
    resolved = (await client.get("/api/alerts", params={"state": "resolved"})).json()["alerts"]
    assert [a["rule"] for a in resolved] == ["hang"]
    later = by_rule["error"]["firedAt"]
    assert [
        a["rule"] for a in (await client.get(f"/api/alerts?since={later}")).json()["alerts"]
    ] == ["error"]
    page = (await client.get("/api/alerts", params={"limit": "1"})).json()
    assert [a["rule"] for a in page["alerts"]] == ["error"]
    rest = (await client.get("/api/alerts", params={"cursor": page["nextCursor"]})).json()
    assert [a["rule"] for a in rest["alerts"]] == ["hang"]

    impacts = (await client.get("/api/hangs/impact", params={"callId": "M1"})).json()
    assert impacts["nextCursor"] is None
    (impact,) = impacts["impacts"]
    assert impact["callId"] == "M1" and impact["pendingMessageId"] == "user-1"
    assert impact["hangAt"] == T0_MS + 6_000
    assert impact["recovered"] is True
    assert impact["responseMessageId"] == f"user-1-AbCdEfGhIj-{T0_MS + 12_000}"
    assert impact["waitedMs"] == 11_000
    assert impact["repeated"] is True
    assert impact["abandoned"] is True
    none = (await client.get("/api/hangs/impact", params={"since": T0_MS + 7_000})).json()
    assert none["impacts"] == []

    sentiment = (await client.get("/api/calls/M1/sentiment")).json()
    assert sentiment["callId"] == "M1"
    points = sentiment["trajectory"]
    assert [p["messageId"] for p in points] == ["user-1", "user-2", "user-3"]
    assert points[0]["timestamp"] == T0_MS + 1_000
    assert isinstance(points[0]["timestamp"], int)
    assert points[2]["compound"] < -0.3
    mean = sum(p["compound"] for p in points) / 3
    assert sentiment["average"] == pytest.approx(mean)

    hangs = (await client.get("/api/patterns", params={"kind": "hang"})).json()
    assert hangs["kind"] == "hang" and hangs["dimension"] == "provider"
    assert hangs["rows"] == [
        {"key": "openai", "calls": 1, "turns": 3.0, "incidents": 1, "ratePerCall": 1.0,
         "ratePerTurn": pytest.approx(1 / 3)}
    ]  # fmt: skip
    errors = (
        await client.get("/api/patterns", params={"kind": "error", "dimension": "length_band"})
    ).json()
    assert {r["key"]: r["incidents"] for r in errors["rows"]} == {"0-4": 1}
    models = (await client.get("/api/patterns?kind=hang&dimension=model")).json()["rows"]
    assert [(r["key"], r["incidents"]) for r in models] == [("gpt-4o", 1)]
    outside = (await client.get(f"/api/patterns?since={T0_MS + 60_000}")).json()["rows"]
    assert outside == []


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_scripted_call_reaches_every_endpoint_and_survives_a_restart(
    db_url: str, isolation: str
) -> None:
    clock = Clock()
    monitor_config = load_monitor_config({"monitor": {"isolation": isolation}})
    config = ReceiverConfig(database_url=db_url, monitor=monitor_config)
    first = create_app(config, clock=clock)
    async with serving(first) as client:
        if isolation == "process":
            assert first.monitor is None and first.monitor_process is not None
            assert first.monitor_process.pid is not None
        else:
            assert first.monitor is not None and first.monitor_process is None
        await post_all(client, clock, script("M1"))
        await first.drain_monitor()
        await check_everything(client)
        if first.monitor_process is not None:
            stats = first.monitor_process.stats
            assert (stats.sent, stats.dropped, stats.restarts) == (len(script("M1")), 0, 0)
        exposed = (await client.get("/metrics")).text
        assert f'callhook_monitor_events_total{{outcome="fed"}} {len(script("M1"))}.0' in exposed
        assert 'callhook_monitor_events_total{outcome="dropped"} 0.0' in exposed
        assert ("callhook_monitor_restarts_total 0.0" in exposed) == (isolation == "process")
    assert first.monitor is None and first.monitor_process is None  # the lifespan closed it
    again = create_app(config, clock=Clock())
    async with serving(again) as client:
        await check_everything(client)


async def test_the_serve_config_file_configures_the_monitor(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[monitor]\nsuppress_s = 1\n\n'
        '[monitor.rules.hang]\nseverity = "critical"\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={})
    assert config.monitor.suppress_s == 1
    assert config.monitor.rules.hang.severity == "critical"
    assert load_config(None, environ={}).monitor == load_monitor_config(None)
    clock = Clock()
    app = create_app(config, clock=clock)
    async with serving(app) as client:
        events = script("M2")
        await post_all(client, clock, events[:3])
    async with serving(create_app(config, clock=clock)) as client:
        (alert,) = (await client.get("/api/alerts")).json()["alerts"]
    assert alert["rule"] == "hang" and alert["severity"] == "critical"


async def test_a_bad_monitor_key_in_the_config_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text("[monitor.rules.hang_rate]\ncritcal = 0.1\n", encoding="utf-8")
    with pytest.raises(MonitorConfigError, match=r"callhook\.toml") as caught:
        load_config(path, environ={})
    assert caught.value.path == "$.rules.hang_rate"


async def test_monitoring_can_be_switched_off(db_url: str) -> None:
    config = ReceiverConfig(
        database_url=db_url, monitor=load_monitor_config({"monitor": {"enabled": False}})
    )
    clock = Clock()
    app = create_app(config, clock=clock)
    async with serving(app) as client:
        assert app.monitor is None and app.monitor_process is None
        await post_all(client, clock, script("M3")[:3])
        assert "callhook_monitor_events" not in (await client.get("/metrics")).text
        assert (await client.get("/api/alerts")).json() == {"alerts": [], "nextCursor": None}


class GatedSink:
    """Blocks in ``send`` until the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.entered.set()
        await self.gate.wait()
        self.sent.append(notice)


class BrokenSink:
    name = "broken"

    def __init__(self, error: Callable[[], Exception]) -> None:
        self.error = error

    async def send(self, notice: Notice) -> None:
        raise self.error()


async def test_a_slow_or_broken_sink_never_delays_or_fails_the_ack(store: Store) -> None:
    gated = GatedSink()
    sinks: list[AlertSink] = [
        gated,
        BrokenSink(lambda: AlertSinkError("broken", "nowhere", "refused")),
        BrokenSink(lambda: RuntimeError("a sink with a bug")),
    ]
    clock = Clock()
    async with Monitor(store=SqlAlertStore(store), sinks=sinks, clock=clock) as monitor:
        app = create_app(
            ReceiverConfig(database_url=store.url), store=store, clock=clock, monitor=monitor
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            events = script("S1")
            await post_all(client, clock, events[:3])  # up to the hang: its alert is sent
            await gated.entered.wait()  # the sink now holds the notify task
            await post_all(client, clock, events[3:])  # every ack still comes, all 200
            assert gated.sent == []
            gated.gate.set()
            await monitor.drain()
            assert monitor.stats.sink_failures >= 4  # two broken sinks, two notices or more
            stored = await monitor.store.list()
            assert {a.rule for a in stored} == {"hang", "error"}
            assert {a.state for a in stored} == {AlertState.FIRING, AlertState.RESOLVED}
            alerts = (await client.get("/api/alerts")).json()["alerts"]
            assert len(alerts) == 2
    assert [n.alert.rule for n in gated.sent][:1] == ["hang"]


async def test_without_a_running_monitor_ingest_works_as_before(client: httpx.AsyncClient) -> None:
    """An app whose lifespan is not run (the caller owns the store) feeds no monitor."""
    clock = Clock()
    await post_all(client, clock, script("N1"))
    assert (await client.get("/api/alerts")).json()["alerts"] == []
    sentiment = (await client.get("/api/calls/N1/sentiment")).json()
    assert sentiment == {"callId": "N1", "average": None, "trajectory": []}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/alerts?state=firing", "state"),
        ("/api/alerts?since=yesterday", "since"),
        ("/api/alerts?cursor=WzFd", "cursor"),
        ("/api/hangs/impact?limit=0", "limit"),
        ("/api/patterns?kind=hangs", "kind"),
        ("/api/patterns?dimension=weekday", "dimension"),
        ("/api/patterns?until=later", "until"),
    ],
)
async def test_bad_monitor_parameters_are_400(
    client: httpx.AsyncClient, path: str, name: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 400
    assert response.json()["error"]["path"] == f"query.{name}"


async def test_sentiment_of_an_unknown_call_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/calls/nope/sentiment")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No call 'nope' has been received",
            "path": "path.callId",
        }
    }


async def test_openapi_documents_the_monitor_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {
        "/api/alerts",
        "/api/calls/{callId}/sentiment",
        "/api/hangs/impact",
        "/api/patterns",
    } <= set(paths)
    names = {p["name"] for p in paths["/api/patterns"]["get"]["parameters"]}
    assert names == {"kind", "dimension", "since", "until"}
