"""An event the database refuses fails alone: the others of its group commit are stored, and
the store keeps working (its cache of the calls involved stays true to the database)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, text

from callhook._exceptions import StorageError
from callhook.events import Envelope, Event, encode
from callhook.store import Outcome, Store, parse_event
from tests.monitor.calls import T0_MS, conv, started, user, welcome

pytestmark = pytest.mark.asyncio

_SQLITE_TRIGGER = """
CREATE TRIGGER refuse_bad BEFORE INSERT ON calls WHEN NEW.call_id = 'BAD'
BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END
"""
_PG_FUNCTION = """
CREATE FUNCTION refuse_bad() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER refuse_bad BEFORE INSERT ON calls FOR EACH ROW
WHEN (NEW.call_id = 'BAD') EXECUTE FUNCTION refuse_bad()
"""


async def refuse_call_bad(store: Store) -> None:
    def install(connection: Connection) -> None:
        if store.dialect == "sqlite":
            connection.execute(text(_SQLITE_TRIGGER))
        else:
            connection.execute(text(_PG_FUNCTION))
            connection.execute(text(_PG_TRIGGER))

    await store.write(install)


def body(event: Event) -> bytes:
    return encode(Envelope(message=event))


async def test_a_refused_event_fails_alone_and_the_batch_is_stored(store: Store) -> None:
    await refuse_call_bad(store)
    w, u1 = welcome(), user(1, "hello there", T0_MS + 1_000)
    events = [started("A"), started("BAD"), conv("A", [w]), started("B"), conv("B", [w, u1])]
    incoming = [parse_event(body(e), received_at=T0_MS + i) for i, e in enumerate(events)]
    commits = store.commits
    results = await asyncio.gather(*(store.ingest(i) for i in incoming), return_exceptions=True)
    refused = results[1]
    assert isinstance(refused, StorageError)
    assert "refused" in str(refused)
    stored = [r for i, r in enumerate(results) if i != 1]
    assert all(isinstance(r, Outcome) and r.outcome == "stored" for r in stored), results
    assert [r.new_messages for r in stored if isinstance(r, Outcome)] == [0, 1, 0, 2]
    assert store.commits == commits + 1  # one group commit, retried event by event
    # The calls of the failed batch were reloaded: a re-delivery is a duplicate, and the next
    # message of call A is new.
    again = await store.ingest(parse_event(body(conv("A", [w])), received_at=T0_MS + 10))
    assert again.outcome == "duplicate"
    more = await store.ingest(parse_event(body(conv("A", [w, u1])), received_at=T0_MS + 11))
    assert (more.outcome, more.new_messages) == ("stored", 1)

    def counts(connection: Connection) -> tuple[int, int]:
        calls = connection.execute(text("SELECT count(*) FROM calls")).scalar_one()
        messages = connection.execute(text("SELECT count(*) FROM messages")).scalar_one()
        return calls, messages

    assert await store.read(counts) == (2, 4)
