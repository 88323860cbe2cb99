"""Live notices across processes through PostgreSQL LISTEN/NOTIFY (two buses, one database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhook.receiver import LiveBus
from callhook.receiver._fanout import MAX_PAYLOAD, PgFanout
from callhook.store import Outcome, parse_event
from tests.databases import database_url


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("postgresql", tmp_path)


def _event(call_id: str, text: str = "hello") -> bytes:
    messages = [{"messageId": "user-1", "role": "user", "text": text, "timestamp": 1}]
    body = {
        "message": {
            "type": "conversation-update",
            "messages": messages,
            "call": {"id": call_id, "status": "ongoing"},
        }
    }
    return json.dumps(body).encode()


def _ingest(bus: LiveBus, call_id: str, text: str = "hello") -> None:
    incoming = parse_event(_event(call_id, text), received_at=1)
    bus.ingested(incoming, Outcome("stored", call_id, 1))


async def _next(queue: asyncio.Queue[bytes]) -> dict[str, object]:
    return dict(json.loads(await asyncio.wait_for(queue.get(), 10)))


@pytest.mark.asyncio
async def test_a_notice_stored_by_one_process_reaches_the_other(pg_url: str) -> None:
    one, two = LiveBus(), LiveBus()
    async with PgFanout(pg_url, one.deliver) as f1, PgFanout(pg_url, two.deliver) as f2:
        assert f1.connected and f2.connected and f1.channel == f2.channel
        one.route_through(f1.publish)
        two.route_through(f2.publish)
        here, there = one.subscribe("c-1"), two.subscribe()
        _ingest(one, "c-1")
        assert (await _next(there.queue))["callId"] == "c-1"
        assert (await _next(here.queue))["callId"] == "c-1"  # its own, through the database


@pytest.mark.asyncio
async def test_a_notice_too_long_for_notify_goes_without_its_messages(pg_url: str) -> None:
    one, two = LiveBus(), LiveBus()
    async with PgFanout(pg_url, one.deliver) as f1, PgFanout(pg_url, two.deliver):
        one.route_through(f1.publish)
        there = two.subscribe()
        _ingest(one, "c-2", "x" * (MAX_PAYLOAD + 100))
        notice = await _next(there.queue)
        assert notice["callId"] == "c-2" and notice["messages"] == []
        assert notice["newMessages"] == 1  # the dashboard fetches what it lacks


@pytest.mark.asyncio
async def test_without_the_database_notices_are_delivered_locally() -> None:
    bus = LiveBus()
    async with PgFanout("postgresql://nobody@127.0.0.1:1/none", bus.deliver) as fanout:
        assert not fanout.connected
        bus.route_through(fanout.publish)
        mine = bus.subscribe()
        _ingest(bus, "c-3")
        assert (await _next(mine.queue))["callId"] == "c-3"


@pytest.mark.asyncio
async def test_a_notice_that_is_not_text_does_not_stop_the_fanout(pg_url: str) -> None:
    """The sending task survives a notice it cannot send (it used to die on anything but a
    database error, and the process's notices then never reached other processes)."""
    one, two = LiveBus(), LiveBus()
    async with PgFanout(pg_url, one.deliver) as f1, PgFanout(pg_url, two.deliver):
        there = two.subscribe()
        f1.publish(b'{"callId": "\xff"}')
        await asyncio.sleep(0.2)
        one.route_through(f1.publish)
        _ingest(one, "c-4")
        assert (await _next(there.queue))["callId"] == "c-4"
