"""The durable outbox: commit before return, restart after a crash, concurrent workers."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import sqlalchemy as sa

from callhook.delivery import METADATA, ServerConfig, create_outbox_tables, list_deliveries
from callhook.delivery._outbox import NewRow, Outbox

from .conftest import FakeClock, dispatcher, envelope, server


def _row(call_id: str, n: int) -> NewRow:
    config = ServerConfig.parse(server())
    assert config is not None
    body = json.dumps({"message": {"type": "hang", "call": {"id": call_id}, "n": n}}).encode()
    return NewRow(f"msg_{call_id}_{n}", call_id, "hang", config.url, body, config)


@pytest.mark.asyncio
async def test_an_accepted_event_is_committed_before_deliver_returns(db: sa.Engine) -> None:
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200)

    async with dispatcher(db, handler) as d:
        webhook_id = await d.deliver(envelope())
        other = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
        if db.dialect.name == "postgresql":
            other = other.execution_options(**db.get_execution_options())
        with other.connect() as conn:
            table = METADATA.tables["callhook_delivery_outbox"]
            found = conn.execute(sa.select(table.c.status).where(table.c.webhook_id == webhook_id))
            assert found.scalar_one() == "pending"
        other.dispose()
        gate.set()
        await d.wait_idle()


@pytest.mark.asyncio
async def test_rows_left_by_a_dead_process_are_sent_in_order_after_restart(
    db: sa.Engine,
) -> None:
    clock = FakeClock()
    dead = Outbox(db)
    dead.insert([_row("A", 0), _row("B", 0), _row("A", 1), _row("B", 1)], clock.now)
    leased = dead.claim(
        clock.now, "dead-worker", limit=1, free={}, default_free=10, lease_margin=30.0
    )
    assert [(r.call_id, r.sequence) for r in leased] == [("A", 1)]
    seen: list[tuple[float, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)["message"]["call"]["id"]
        seen.append((clock.now, call, request.headers["x-callhook-call-sequence"]))
        return httpx.Response(200)

    async with dispatcher(db, handler, clock=clock) as d:
        await d.wait_idle()
    assert [(call, seq) for _, call, seq in seen if call == "A"] == [("A", "1"), ("A", "2")]
    assert [(call, seq) for _, call, seq in seen if call == "B"] == [("B", "1"), ("B", "2")]
    first_a = next(at for at, call, _ in seen if call == "A")
    assert first_a >= leased[0].window_start + 35.0, "A waited for the dead worker's lease"
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


@pytest.mark.asyncio
async def test_sequences_continue_after_a_restart(db: sa.Engine) -> None:
    clock = FakeClock()
    numbers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        numbers.append(request.headers["x-callhook-call-sequence"])
        return httpx.Response(200)

    for n in range(2):
        async with dispatcher(db, handler, clock=clock) as d:
            await d.deliver(envelope(n=2 * n))
            await d.deliver(envelope(n=2 * n + 1))
            await d.wait_idle()
    assert numbers == ["1", "2", "3", "4"]


class TickingClock(FakeClock):
    """Time creeps forward by a millisecond per wait, so no lease expires during the test."""

    async def sleep(self, seconds: float) -> None:
        self.now += min(seconds, 0.001)
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_two_dispatchers_share_one_outbox_without_double_sends(db: sa.Engine) -> None:
    clock = TickingClock()
    seen: list[tuple[str, int, str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        call = json.loads(request.content)["message"]["call"]["id"]
        seq = int(request.headers["x-callhook-call-sequence"])
        seen.append((call, seq, request.headers["webhook-id"]))
        return httpx.Response(200)

    async with (
        dispatcher(db, handler, clock=clock, poll_interval=0.01) as one,
        dispatcher(db, handler, clock=clock, poll_interval=0.01) as two,
    ):
        for n in range(40):
            one.emit(envelope(f"WC-{n % 4}", "conversation-update", n=n))
        await one.flush()
        await asyncio.gather(one.wait_idle(), two.wait_idle())
    assert len(seen) == 40
    assert len({webhook_id for _, _, webhook_id in seen}) == 40
    for call in {c for c, _, _ in seen}:
        assert [s for c, s, _ in seen if c == call] == list(range(1, 11))


def test_create_outbox_tables_is_idempotent(db: sa.Engine) -> None:
    create_outbox_tables(db)
    assert set(METADATA.tables) == {
        "callhook_delivery_outbox",
        "callhook_delivery_attempts",
        "callhook_delivery_endpoints",
    }


def test_repair_heads_restores_a_lost_head(db: sa.Engine) -> None:
    """A head lost in a cross-process race is found again from the definition."""
    outbox = Outbox(db)
    outbox.insert([_row("A", 0), _row("A", 1)], 1000.0)
    table = METADATA.tables["callhook_delivery_outbox"]
    with db.begin() as conn:
        conn.execute(table.update().values(is_head=False))
    assert outbox.claim(1000.0, "w", limit=5, free={}, default_free=5, lease_margin=1) == []
    assert outbox.repair_heads() == 1
    [claimed] = outbox.claim(1000.0, "w", limit=5, free={}, default_free=5, lease_margin=1)
    assert (claimed.call_id, claimed.sequence) == ("A", 1)
    assert outbox.repair_heads() == 0
