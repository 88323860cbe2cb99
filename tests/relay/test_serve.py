"""The receiver with forward targets: its own dispatcher sends what it stores, signed and in
order; Vapi's and Retell's webhooks are relayed as callhook events; ``deliver = false``
leaves the rows queued."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from callhook.delivery import list_deliveries, open_outbox
from callhook.events import decode
from callhook.receiver import ReceiverConfig, create_app
from callhook.relay import ForwardTarget, RelayConfig
from tests.databases import database_url

pytestmark = pytest.mark.asyncio

SAMPLES = Path(__file__).parent.parent / "samples"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {"content-type": "application/json"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


class App:
    """A customer's app on loopback that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def customer() -> AsyncIterator[App]:
    app = App()
    web_app = web.Application()
    web_app.router.add_post("/hooks", app.handle)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    app.url = f"http://127.0.0.1:{port}/hooks"
    yield app
    await runner.cleanup()


def statuses(db_url: str) -> list[str]:
    engine = open_outbox(db_url)
    try:
        return sorted(r.status for r in list_deliveries(engine, limit=100))
    finally:
        engine.dispose()


async def wait_for(app: App, count: int) -> None:
    async def enough() -> None:
        while len(app.requests) < count:
            app.arrived.clear()
            await app.arrived.wait()

    await asyncio.wait_for(enough(), 30)


def samples() -> list[bytes]:
    names = ["status-update.full.json", "conversation-update.full.json", "hang.full.json"]
    names += ["end-of-call-report.full.json"]
    return [(SAMPLES / name).read_bytes() for name in names]


async def all_delivered(db_url: str, count: int) -> None:
    for _ in range(600):
        if statuses(db_url) == ["delivered"] * count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all {count} delivered: {statuses(db_url)}")


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_serve_sends_what_it_stores_signed_and_in_order(
    db_url: str, customer: App, isolation: str
) -> None:
    target = ForwardTarget.from_table({"url": customer.url, "signing_secret": SECRET}, "forward[0]")
    relay = RelayConfig((target,), isolation=isolation)
    app = create_app(ReceiverConfig(database_url=db_url, relay=relay))
    bodies = samples()
    async with app.other.router.lifespan_context(app.other):
        if isolation == "inline":
            assert app.dispatcher is not None and app.dispatcher_process is None
        else:
            assert app.dispatcher is None and app.dispatcher_process is not None
            assert app.dispatcher_process.pid is not None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            for data in bodies:
                answer = await client.post("/webhook", content=data, headers=JSON)
                assert answer.status_code == 200, answer.text
            duplicate = await client.post("/webhook", content=bodies[0], headers=JSON)
            assert duplicate.json()["outcome"] == "duplicate"
        await wait_for(customer, len(bodies))
        await all_delivered(db_url, len(bodies))
    assert [body for _, body in customer.requests] == bodies
    sequences = [int(h["x-callhook-call-sequence"]) for h, _ in customer.requests]
    assert sequences == sorted(sequences)
    verifier = Webhook(SECRET)
    for headers, body in customer.requests:
        verifier.verify(body, headers)  # raises when the signature is wrong
    assert len({h["webhook-id"] for h, _ in customer.requests}) == len(bodies)


async def test_vapi_and_retell_webhooks_are_relayed_as_callhook_events(
    db_url: str, customer: App
) -> None:
    config = ReceiverConfig(
        database_url=db_url, relay=RelayConfig((ForwardTarget.from_url(customer.url),))
    )
    app = create_app(config)
    vapi = sorted((SAMPLES / "vapi").glob("*.json"))[0].read_bytes()
    async with app.other.router.lifespan_context(app.other):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            answer = await client.post("/webhook/vapi", content=vapi, headers=JSON)
            assert answer.status_code == 200, answer.text
        await wait_for(customer, 1)
    for _, body in customer.requests:
        event = decode(body).message  # a callhook (Interactly-format) event
        assert event.call is not None
    assert json.loads(vapi) != json.loads(customer.requests[0][1])


async def test_without_deliver_serve_only_queues(db_url: str, customer: App) -> None:
    relay = RelayConfig((ForwardTarget.from_url(customer.url),), deliver=False)
    app = create_app(ReceiverConfig(database_url=db_url, relay=relay))
    async with app.other.router.lifespan_context(app.other):
        assert app.dispatcher is None and app.dispatcher_process is None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            for data in samples():
                assert (
                    await client.post("/webhook", content=data, headers=JSON)
                ).status_code == 200
    assert customer.requests == []
    assert statuses(db_url) == ["pending"] * 4
