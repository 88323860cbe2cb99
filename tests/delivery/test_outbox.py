"""The durable outbox: commit before return, restart after a crash, concurrent workers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from callhook.delivery import (
    METADATA,
    DeliveryError,
    ServerConfig,
    create_outbox_tables,
    list_deliveries,
)
from callhook.delivery._outbox import Outbox
from callhook.delivery._rows import AttemptResult, NewRow
from callhook.store import make_engine

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
    dead.close()
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
    outbox.close()


def _waiting_on_a_lock(db: sa.Engine, application: str) -> bool:
    with db.connect() as conn:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = :app AND wait_event_type = 'Lock'"
        )
        return bool(conn.execute(query, {"app": application}).scalar())


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_event_inserted_while_another_process_finishes_its_predecessor_is_head(
    db: sa.Engine,
) -> None:
    """PostgreSQL, two processes: A inserts event 2 while B records event 1 as delivered.
    A must not decide "not head" from event 1 being pending while B, not seeing event 2
    yet, passes the head to no one: event 2 would wait forever."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite serialises its write transactions")
    url = db.url.render_as_string(hide_password=False)
    apps = {name: f"callhook-test-{name}-{uuid.uuid4().hex[:8]}" for name in "AB"}
    engines = {name: make_engine(f"{url}&application_name={app}") for name, app in apps.items()}
    a, b = Outbox(engines["A"]), Outbox(engines["B"])
    a.insert([_row("C", 0)], 1000.0)
    [first] = b.claim(1000.0, "B", limit=5, free={}, default_free=5, lease_margin=30)
    second = _row("C", 1)
    table = METADATA.tables["callhook_delivery_outbox"]
    blocker = db.connect()
    try:
        # Holds event 2's webhook-id uncommitted, so A's insert stops after it has looked.
        blocker.execute(
            table.insert().values(
                webhook_id=second.webhook_id,
                call_id="other",
                event_type="hang",
                url="http://x/",
                sequence=1,
                body=b"{}",
                config=b"{}",
                status="dead",
                is_head=False,
                window_start=0.0,
                created_at=0.0,
                next_attempt_at=0.0,
            )
        )
        inserting = threading.Thread(target=a.insert, args=([second], 1000.0))
        inserting.start()
        _until(lambda: _waiting_on_a_lock(db, apps["A"]))
        delivered = AttemptResult(
            row=first,
            started_at=1000.0,
            latency_ms=1.0,
            status_code=200,
            outcome="delivered",
            error=None,
            new_status="delivered",
            next_attempt_at=1000.0,
        )
        recording = threading.Thread(target=b.record, args=([delivered], 1000.0))
        recording.start()
        _until(lambda: not recording.is_alive() or _waiting_on_a_lock(db, apps["B"]))
    finally:
        blocker.rollback()
        blocker.close()
    inserting.join(30)
    recording.join(30)
    [claimed] = a.claim(1000.0, "A", limit=5, free={}, default_free=5, lease_margin=30)
    assert (claimed.call_id, claimed.sequence) == ("C", 2)
    for outbox in (a, b):
        outbox.close()
    for engine in engines.values():
        engine.dispose()


@pytest.mark.asyncio
async def test_a_call_id_of_any_length_is_stored_with_its_batch(db: sa.Engine) -> None:
    """A call id over 255 characters lost every event of its emit() batch on PostgreSQL."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["message"]["call"]["id"])
        return httpx.Response(200)

    long_id = "WC-" + "x" * 300
    async with dispatcher(db, handler) as d:
        for call in ("WC-1", long_id, "WC-2"):
            d.emit(envelope(call))
        await d.flush()
        await d.wait_idle()
    assert sorted(seen) == sorted(["WC-1", long_id, "WC-2"])
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


@pytest.mark.asyncio
async def test_an_event_the_database_refuses_loses_no_other_of_its_batch(
    db: sa.Engine,
) -> None:
    """One row that cannot be stored fails alone: ``deliver`` raises for it, the events
    accepted with it in the same batch are stored and sent."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL character in text")
    parsed = ServerConfig.parse(server())
    assert parsed is not None
    unstorable = msgspec.structs.replace(parsed, url="http://hooks.example/\x00")
    async with dispatcher(db, lambda r: httpx.Response(200)) as d:
        d.emit(envelope("WC-1"))
        refused = asyncio.ensure_future(d.deliver(envelope("WC-2"), server=unstorable))
        d.emit(envelope("WC-3"))
        with pytest.raises(DeliveryError, match="Could not store the event"):
            await refused
        await d.wait_idle()
    assert sorted(r.call_id for r in list_deliveries(db)) == ["WC-1", "WC-3"]
    assert [r.sequence for r in list_deliveries(db)] == [1, 1]


@pytest.mark.asyncio
async def test_a_call_id_with_nul_is_refused_with_a_sentence(db: sa.Engine) -> None:
    async with dispatcher(db, lambda r: httpx.Response(200)) as d:
        with pytest.raises(DeliveryError, match="contains a NUL character"):
            await d.deliver(envelope("WC\x001"))
        await d.deliver(envelope("WC-2"))
    assert [r.call_id for r in list_deliveries(db)] == ["WC-2"]
