"""The deliveries API over a known set of outbox rows, on SQLite and PostgreSQL: listing and
filters, cursor pagination, one delivery with its attempts, per-target summary, a call's
deliveries, and replay (token required; the replayed row is sent by a dispatcher)."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from callhook.delivery import Dispatcher, RetryPolicy
from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store
from tests.delivery.conftest import FakeClock, FakeTransport
from tests.receiver.deliveries import BILLING, CRM, KNOWN_ROWS, SECRET, insert_rows

pytestmark = pytest.mark.asyncio

TOKEN = "relay-operator-token-0123456789"


def http(store: Store, *, tokens: tuple[str, ...] = (), token: str | None = None) -> Any:
    config = ReceiverConfig(database_url=store.url, api_tokens=tokens)
    app = create_app(config, store=store)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver", headers=headers
    )


def no_secrets(text: str) -> None:
    for secret in (SECRET, "header-secret", "crm-password", "query-secret", "crm-user"):
        assert secret not in text


async def test_the_list_is_newest_first_with_filters_and_no_secrets(store: Store) -> None:
    ids = insert_rows(store.engine, KNOWN_ROWS, time.time())
    async with http(store) as client:
        r = await client.get("/api/deliveries")
        assert r.status_code == 200
        no_secrets(r.text)
        items = r.json()["deliveries"]
        assert [d["id"] for d in items] == ids[::-1]
        first = items[-1]
        assert first["target"] == first["name"] == CRM  # no [[forward]] names it
        assert (first["status"], first["attempts"], first["lastStatusCode"]) == (
            "delivered",
            1,
            200,
        )
        assert set(first) >= {"webhookId", "callId", "eventType", "sequence", "createdAt"}
        assert "body" not in first and "config" not in first

        async def ids_of(**params: str) -> list[int]:
            r = await client.get("/api/deliveries", params=params)
            assert r.status_code == 200, r.text
            return [d["id"] for d in r.json()["deliveries"]]

        assert await ids_of(status="dead") == [ids[8], ids[4], ids[3]]
        assert await ids_of(status="retrying") == [ids[5]]
        assert await ids_of(status="pending") == [ids[6]]
        assert await ids_of(target=BILLING) == [ids[8], ids[7]]
        assert await ids_of(target=CRM, status="delivered") == [ids[2], ids[1], ids[0]]
        assert await ids_of(callId="call-c") == [ids[5], ids[4]]
        assert await ids_of(target="http://127.0.0.1:9/other") == []


async def test_pages_follow_the_cursor(store: Store) -> None:
    ids = insert_rows(store.engine, KNOWN_ROWS, time.time())
    seen: list[int] = []
    async with http(store) as client:
        params: dict[str, str] = {"limit": "4"}
        while True:
            page = (await client.get("/api/deliveries", params=params)).json()
            seen += [d["id"] for d in page["deliveries"]]
            if page["nextCursor"] is None:
                break
            params["cursor"] = page["nextCursor"]
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "²"}, "query.limit"),
        ({"status": "lost"}, "query.status"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
    ],
)
async def test_bad_parameters_are_400_with_their_name(
    store: Store, params: dict[str, str], path: str
) -> None:
    async with http(store) as client:
        r = await client.get("/api/deliveries", params=params)
    assert r.status_code == 400
    assert r.json()["error"]["path"] == path


async def test_one_delivery_has_its_attempts(store: Store) -> None:
    ids = insert_rows(store.engine, KNOWN_ROWS, time.time())
    async with http(store) as client:
        r = await client.get(f"/api/deliveries/{ids[1]}")
        assert r.status_code == 200
        no_secrets(r.text)
        found = r.json()
        assert found["id"] == ids[1] and found["status"] == "delivered"
        history = [(a["attempt"], a["outcome"], a["latencyMs"]) for a in found["history"]]
        assert history == [(1, "retry", 500.0), (2, "delivered", 60.0)]
        assert found["history"][0]["target"] == CRM
        assert (await client.get("/api/deliveries/999999")).status_code == 404
        bad = await client.get("/api/deliveries/abc")
        assert bad.status_code == 400 and bad.json()["error"]["path"] == "path.deliveryId"


async def test_the_target_summary_counts_each_state(store: Store) -> None:
    now = time.time()
    insert_rows(store.engine, KNOWN_ROWS, now)
    async with http(store) as client:
        r = await client.get("/api/deliveries/targets", params={"bucket": "300"})
    assert r.status_code == 200
    no_secrets(r.text)
    summary = r.json()
    targets = {t["target"]: t for t in summary["targets"]}
    assert sorted(targets) == [BILLING, CRM]
    crm = targets[CRM]
    counts = {k: crm[k] for k in ("pending", "retrying", "dead", "backlog", "delivered", "failed")}
    # delivered and failed: attempts in the range (the last hour); the rest: now
    assert counts == {
        "pending": 1,
        "retrying": 1,
        "dead": 2,
        "backlog": 2,
        "delivered": 3,
        "failed": 5,
    }
    assert crm["successRate"] == pytest.approx(3 / 8)
    # latencies 10 20 30 40 60 80 100 500: nearest rank
    assert (crm["p50"], crm["p95"]) == (40.0, 500.0)
    assert crm["oldestPendingAt"] == round((now - 60 * 4) * 1000)
    assert sum(p["attempts"] for p in crm["points"]) == 8
    assert len(crm["points"]) == 12
    billing = targets[BILLING]
    assert (billing["dead"], billing["delivered"], billing["backlog"]) == (1, 1, 0)


async def test_a_calls_deliveries_per_target(store: Store) -> None:
    insert_rows(store.engine, KNOWN_ROWS, time.time())
    async with http(store) as client:
        r = await client.get("/api/calls/call-a/deliveries")
        assert r.status_code == 200
        targets = {t["target"]: t for t in r.json()["targets"]}
        assert targets[CRM]["delivered"] == 2 and len(targets[CRM]["items"]) == 2
        assert targets[BILLING]["delivered"] == 1
        assert (await client.get("/api/calls/no-such-call/deliveries")).status_code == 404


async def test_replay_needs_a_token(store: Store) -> None:
    ids = insert_rows(store.engine, KNOWN_ROWS, time.time())
    async with http(store) as client:  # the API open: no tokens configured
        r = await client.post(f"/api/deliveries/{ids[3]}/replay")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "token_required"
    async with http(store, tokens=(TOKEN,)) as client:
        r = await client.post(f"/api/deliveries/{ids[3]}/replay")
    assert r.status_code == 401
    async with http(store, tokens=(TOKEN,), token=TOKEN) as client:
        assert (await client.get(f"/api/deliveries/{ids[3]}")).json()["status"] == "dead"
        assert (await client.post("/api/deliveries/999999/replay")).status_code == 404
        pending = await client.post(f"/api/deliveries/{ids[6]}/replay")
        assert pending.status_code == 409


async def test_a_replayed_dead_letter_is_delivered(store: Store) -> None:
    ids = insert_rows(store.engine, KNOWN_ROWS[:5], time.time())  # none pending
    dead = ids[3]
    async with http(store, tokens=(TOKEN,), token=TOKEN) as client:
        r = await client.post(f"/api/deliveries/{dead}/replay")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "retrying"  # pending again, after earlier attempts
        sent: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers["webhook-id"])
            return httpx.Response(200)

        async with Dispatcher(
            store.engine,
            transport=FakeTransport(handler),
            clock=FakeClock(time.time()),
            rng=random.Random(1),
            policy=RetryPolicy(wait=False),
            poll_interval=None,
            create_tables=False,
        ) as dispatcher:
            await dispatcher.wait_idle([dead])
        found = (await client.get(f"/api/deliveries/{dead}")).json()
    assert sent == ["msg_3"]
    assert found["status"] == "delivered"
    assert found["attempts"] == 3
    assert found["history"][-1]["outcome"] == "delivered"
