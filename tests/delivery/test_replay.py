"""Replay: per-call order while a later event is in flight, and the endpoint's current
configuration (a corrected secret, a new URL) for the events replayed."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from callhook.delivery import METADATA, ServerConfig, list_attempts, list_deliveries
from callhook.delivery._outbox import Outbox

from .conftest import URL, FakeClock, dispatcher, envelope, server

pytestmark = pytest.mark.asyncio

NEW_URL = "http://fixed.example/callhook"


def _sequence(request: httpx.Request) -> int:
    return int(request.headers["x-callhook-call-sequence"])


def _heads(db: sa.Engine) -> list[int]:
    table = METADATA.tables["callhook_delivery_outbox"]
    with db.connect() as conn:
        query = sa.select(table.c.sequence).where(table.c.is_head == sa.true())
        return sorted(conn.execute(query).scalars())


async def test_replay_while_a_later_event_is_in_flight_keeps_the_call_in_order(
    db: sa.Engine,
) -> None:
    """Event 1 is given up (400); it is replayed while event 2 is in flight; event 2 then
    gets 500. Event 1 must go out before event 2 is sent again, never beside it, and the
    call never has two heads."""
    clock = FakeClock()
    in_flight = asyncio.Event()
    gate = asyncio.Event()
    tries: Counter[int] = Counter()
    active = 0
    sent: list[tuple[int, int]] = []  # (sequence, status)

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active
        sequence = _sequence(request)
        tries[sequence] += 1
        active += 1
        assert active == 1, "two requests of one call in flight at once"
        try:
            if (sequence, tries[sequence]) == (1, 1):
                status = 400
            elif (sequence, tries[sequence]) == (2, 1):
                in_flight.set()
                await gate.wait()
                status = 500
            elif (sequence, tries[sequence]) == (1, 2):
                return httpx.Response(503, headers={"retry-after": "5"})
            else:
                status = 200
            return httpx.Response(status)
        finally:
            active -= 1
            sent.append((sequence, tries[sequence]))

    async with dispatcher(db, handler, clock=clock) as d:
        for n in range(3):
            await d.deliver(envelope(n=n))
        await in_flight.wait()
        [dead] = list_deliveries(db, failed=True)
        assert await d.replay([dead.id]) == [dead.id]
        assert _heads(db) == [], "event 1 must wait while event 2 is in flight"
        other = Outbox(db)
        assert other.claim(clock.now, "w", limit=5, free={}, default_free=5, lease_margin=1) == []
        other.close()
        gate.set()
        await d.wait_idle()
        assert _heads(db) == []
    # (sequence, try): 1 given up, 2 in flight, replayed 1 (503 then 200), 2 again, then 3
    assert sent == [(1, 1), (2, 1), (1, 2), (1, 3), (2, 2), (3, 1)]
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


async def test_a_replay_uses_the_secret_corrected_since(db: sa.Engine) -> None:
    """Event of call 1 got 401 (wrong secret); events accepted after the fix carry the right
    one: the replay goes out with it."""

    def handler(request: httpx.Request) -> httpx.Response:
        good = request.headers.get("x-interactly-secret") == "right"
        return httpx.Response(200 if good else 401)

    async with dispatcher(db, handler) as d:
        await d.deliver(envelope("WC-1", assistant_server=server(secret="wrong")))
        await d.wait_idle()
        [dead] = list_deliveries(db, failed=True)
        await d.deliver(envelope("WC-2", assistant_server=server(secret="right")))
        await d.wait_idle()
        await d.replay([dead.id])
        await d.wait_idle()
    attempts = list_attempts(db, dead.id)
    assert [a.status_code for a in attempts] == [401, 200]
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


async def test_a_replay_uses_the_configuration_given_or_resolved(db: sa.Engine) -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        secret = request.headers.get("x-interactly-secret")
        seen.append((str(request.url), secret))
        return httpx.Response(200 if secret == "right" else 401)

    table = {"asst-1": ServerConfig.parse(server(secret="wrong"))}
    async with dispatcher(db, handler, servers=lambda event: table["asst-1"]) as d:
        await d.deliver(envelope("WC-1", n=0))
        await d.deliver(envelope("WC-2", n=1))
        await d.wait_idle()
        first, second = sorted(r.id for r in list_deliveries(db, failed=True))
        table["asst-1"] = ServerConfig.parse(server(secret="right"))
        await d.replay([first])  # the servers resolver's current answer
        await d.replay([second], server=server(url=NEW_URL, secret="right"))
        await d.wait_idle()
    assert sorted(seen[2:]) == [(NEW_URL, "right"), (URL, "right")]


async def test_replay_to_a_new_url_moves_the_rows_still_retrying(db: sa.Engine) -> None:
    """The old URL answers 500: its rows retry for hours unless a replay moves them."""
    clock = FakeClock()
    seen: list[tuple[str, int]] = []
    retried = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), _sequence(request)))
        if len(seen) == 2:
            retried.set()
        return httpx.Response(200 if str(request.url) == NEW_URL else 500)

    async with dispatcher(db, handler, clock=clock) as d:
        for n in range(2):
            await d.deliver(envelope(n=n))
        await retried.wait()  # event 1 failed once and is being retried; both are pending
        pending = sorted(r.id for r in list_deliveries(db))
        moved = await d.replay(call_id="WC-1", to=NEW_URL)
        assert moved == pending
        by_id = await d.replay(pending[1:], to=NEW_URL)
        assert by_id == pending[1:]
        await d.wait_idle()
    assert [s for u, s in seen if u == NEW_URL] == [1, 2]
    assert {(r.status, r.url) for r in list_deliveries(db)} == {("delivered", NEW_URL)}


async def test_sequence_numbers_continue_when_a_call_moves_to_a_new_url(db: sa.Engine) -> None:
    """A receiver at the new URL sees 2, 3: it can tell that event 1 went elsewhere."""
    seen: list[tuple[str, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), _sequence(request)))
        return httpx.Response(200)

    async with dispatcher(db, handler) as d:
        await d.deliver(envelope(n=0))
        await d.deliver(envelope(n=1, assistant_server=server(url=NEW_URL)))
        await d.deliver(envelope(n=2, assistant_server=server(url=NEW_URL)))
        await d.wait_idle()
    assert seen == [(URL, 1), (NEW_URL, 2), (NEW_URL, 3)]


async def test_replay_keeps_the_number_and_webhook_id_of_the_event(db: sa.Engine) -> None:
    seen: list[tuple[str, int, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), _sequence(request), request.headers["webhook-id"]))
        return httpx.Response(404 if str(request.url) == URL else 200)

    async with dispatcher(db, handler) as d:
        await d.deliver(envelope(n=0))
        await d.wait_idle()
        await d.replay(call_id="WC-1", to=NEW_URL)
        await d.wait_idle()
    (old_url, old_seq, old_id), (new_url, new_seq, new_id) = seen
    assert (old_url, new_url) == (URL, NEW_URL)
    assert (old_seq, old_id) == (new_seq, new_id)
