"""The relay's commit hook: what a batch of stored events queues, in the ingest's own
transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio
from sqlalchemy import Connection, text

from callhook._exceptions import StorageError
from callhook.events import Envelope, Event, encode
from callhook.relay import ForwardTarget, Relay
from callhook.store import Store, parse_event
from tests.databases import database_url
from tests.monitor.calls import T0_MS, bot, conv, finished, started, user, welcome
from tests.store.test_refusals import refuse_call_bad

pytestmark = pytest.mark.asyncio

ALL = ForwardTarget.from_table({"url": "http://127.0.0.1:9/all"}, "forward[0]")
NEW = ForwardTarget.from_table(
    {"url": "http://127.0.0.1:9/new", "messages": "new", "events": ["conversation-update"]},
    "forward[1]",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest_asyncio.fixture
async def relayed(db_url: str) -> AsyncIterator[tuple[Store, list[None]]]:
    relay = Relay([ALL, NEW], postgres=db_url.startswith("postgresql"))
    wakes: list[None] = []
    relay.on_commit = lambda: wakes.append(None)  # the dispatcher's wake-up
    async with Store(db_url, hook=relay) as store:
        yield store, wakes


def body(event: Event) -> bytes:
    return encode(Envelope(message=event))


Row = tuple[str, str, str, int, bytes, str]


async def outbox(store: Store) -> list[Row]:
    def read(connection: Connection) -> list[Row]:
        rows = connection.execute(
            text(
                "SELECT url, call_id, event_type, sequence, body, status "
                "FROM callhook_delivery_outbox ORDER BY id"
            )
        )
        return [(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]

    return await store.read(read)


async def test_each_stored_event_is_queued_for_each_target_that_wants_it(
    relayed: tuple[Store, list[None]],
) -> None:
    store, wakes = relayed
    w, u1, b1 = welcome(), user(1, "hello there", T0_MS + 1_000), bot(1, "hi", T0_MS + 2_000)
    bodies = [body(started("A")), body(conv("A", [w, u1])), body(conv("A", [w, u1, b1]))]
    bodies.append(body(finished("A", T0_MS + 3_000)))
    for i, data in enumerate(bodies):
        await store.ingest(parse_event(data, received_at=T0_MS + i))
    rows = await outbox(store)
    to_all = [r for r in rows if r[0] == ALL.url]
    to_new = [r for r in rows if r[0] == NEW.url]
    # every event, byte for byte as received, to the target of all five types
    assert [r[4] for r in to_all] == bodies
    assert [r[2] for r in to_all] == [
        "status-update",
        "conversation-update",
        "conversation-update",
        "status-update",
    ]
    # only the conversation-updates, each with only the messages new to the call
    assert [r[2] for r in to_new] == ["conversation-update", "conversation-update"]
    ids = [
        [m["messageId"] for m in msgspec.json.decode(r[4])["message"]["messages"]] for r in to_new
    ]
    assert ids == [[w.message_id, u1.message_id], [b1.message_id]]
    # the rest of a trimmed body is the event as received
    trimmed = msgspec.json.decode(to_new[1][4])["message"]
    full = msgspec.json.decode(bodies[2])["message"]
    assert {k: v for k, v in trimmed.items() if k != "messages"} == {
        k: v for k, v in full.items() if k != "messages"
    }
    # one sequence per call across targets, in the order the events were stored
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)
    assert len({r[3] for r in rows}) == len(rows)
    assert all(r[5] == "pending" for r in rows)
    assert len(wakes) == 4  # each of the four commits queued rows


async def test_a_duplicate_or_an_event_without_a_call_queues_nothing(
    relayed: tuple[Store, list[None]],
) -> None:
    store, wakes = relayed
    data = body(conv("A", [welcome()]))
    await store.ingest(parse_event(data, received_at=T0_MS))
    again = await store.ingest(parse_event(data, received_at=T0_MS + 1))
    assert again.outcome == "duplicate"
    orphan = b'{"message":{"type":"status-update","status":"ongoing","timestamp":1}}'
    unattributed = await store.ingest(parse_event(orphan, received_at=T0_MS + 2))
    assert unattributed.outcome == "unattributed"
    rows = await outbox(store)
    assert [(r[0], r[4]) for r in rows] == [(ALL.url, data), (NEW.url, data)]
    assert len(wakes) == 1  # the commits of the duplicate and the orphan queued nothing


async def test_an_event_the_database_refuses_queues_nothing_and_the_others_are_queued(
    relayed: tuple[Store, list[None]],
) -> None:
    store, wakes = relayed
    await refuse_call_bad(store)
    events = [started("A"), started("BAD"), started("B")]
    incoming = [parse_event(body(e), received_at=T0_MS + i) for i, e in enumerate(events)]
    results = await asyncio.gather(*(store.ingest(i) for i in incoming), return_exceptions=True)
    assert isinstance(results[1], StorageError)
    rows = await outbox(store)
    assert sorted(r[1] for r in rows) == ["A", "B"]
    assert len(wakes) == 2  # A's and B's commits; BAD's rolled back and woke nothing


async def test_rows_that_cannot_be_queued_fail_the_event_with_them(
    relayed: tuple[Store, list[None]],
) -> None:
    """Stored and queued in one commit: when the outbox refuses the row, the event is not
    stored either (the sender gets a 503 and sends it again)."""
    store, _ = relayed

    def refuse_outbox(connection: Connection) -> None:
        if store.dialect == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_row BEFORE INSERT ON callhook_delivery_outbox "
                    "WHEN NEW.call_id = 'NOQ' BEGIN SELECT RAISE(ABORT, 'no queue'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN RAISE "
                    "EXCEPTION 'no queue'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_row BEFORE INSERT ON callhook_delivery_outbox "
                    "FOR EACH ROW WHEN (NEW.call_id = 'NOQ') EXECUTE FUNCTION refuse_row()"
                )
            )

    await store.write(refuse_outbox)
    events = [started("A"), started("NOQ")]
    incoming = [parse_event(body(e), received_at=T0_MS + i) for i, e in enumerate(events)]
    results = await asyncio.gather(*(store.ingest(i) for i in incoming), return_exceptions=True)
    assert isinstance(results[1], StorageError)

    def calls(connection: Connection) -> list[str]:
        return [r[0] for r in connection.execute(text("SELECT call_id FROM calls"))]

    assert await store.read(calls) == ["A"]
    assert [(r[0], r[1]) for r in await outbox(store)] == [(ALL.url, "A")]
