"""Two writers (separate connections, as two ``serve`` processes have) creating the same call
at once: the second waits for the first's insert, then judges its event against the call the
first created (its stored messages and event digests), instead of failing with a unique
violation (which answered 503 and made the sender retry)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from callhook.events import Envelope, Event, encode
from callhook.store import Outcome, Writer, make_engine, parse_event, upgrade
from tests.monitor.calls import T0_MS, conv, user, welcome


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def body(event: Event) -> bytes:
    return encode(Envelope(message=event))


W, U1 = welcome(), user(1, "hello there", T0_MS + 1_000)


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (body(conv("C", [W, U1])), Outcome("stored", "C", new_messages=1)),
        (body(conv("C", [W])), Outcome("duplicate", "C")),
    ],
    ids=["overlapping-messages", "same-event"],
)
def test_the_second_creator_of_a_call_merges_into_the_first(
    engine: Engine, second: bytes, expected: Outcome
) -> None:
    first, other = Writer(engine), Writer(engine)
    answers: list[object] = []
    try:
        first.begin()
        staged = first.stage([parse_event(body(conv("C", [W])), received_at=1)])
        # The other writer's transaction starts while the first has created the call but not
        # committed: on PostgreSQL its insert waits on the row, on SQLite its BEGIN waits.
        racer = threading.Thread(
            target=lambda: answers.extend(other.apply([parse_event(second, received_at=2)]))
        )
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive()  # it is waiting for the first transaction
        assert first.commit(staged) == [Outcome("stored", "C", new_messages=1)]
        racer.join(30)
        assert answers == [expected]
    finally:
        first.close()
        other.close()
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT message_id FROM messages ORDER BY seq")).all()
        count = connection.execute(text("SELECT message_count FROM calls")).scalar_one()
    assert [r[0] for r in rows] == ["welcome-1", "user-1"][: 1 + expected.new_messages]
    assert count == len(rows)
