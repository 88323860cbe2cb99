"""``messages = "new"``: a target's conversation-updates, appended in order, rebuild the call's
conversation, even when a message first reached serve in another event type (a hang, an
error) that the target does not take (docs/relay.md, "Only the new messages")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from callhook.relay import ForwardTarget, Relay
from callhook.store import Store, parse_event
from tests.databases import database_url
from tests.monitor.calls import T0_MS, bot, conv, hang, user, welcome
from tests.relay.test_queue import body, outbox

pytestmark = pytest.mark.asyncio

NEW = ForwardTarget.from_table(
    {"url": "http://127.0.0.1:9/new", "messages": "new", "events": ["conversation-update"]},
    "forward[0]",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest_asyncio.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    relay = Relay([NEW], postgres=db_url.startswith("postgresql"))
    async with Store(db_url, hook=relay) as opened:
        yield opened


async def test_a_message_first_seen_in_a_hang_still_reaches_the_conversation_updates(
    store: Store,
) -> None:
    w, u1, b1 = welcome(), user(1, "hello", T0_MS + 1_000), bot(1, "hi", T0_MS + 7_000)
    # The order of tests/samples: user-1 first comes in the hang, then in a conversation-update.
    events = [conv("A", [w]), hang("A", [w, u1], T0_MS + 6_500), conv("A", [w, u1, b1])]
    for i, event in enumerate(events):
        await store.ingest(parse_event(body(event), received_at=T0_MS + i))
    rows = [r for r in await outbox(store) if r[2] == "conversation-update"]
    rebuilt = [
        m["messageId"] for r in rows for m in msgspec.json.decode(r[4])["message"]["messages"]
    ]
    assert rebuilt == [w.message_id, u1.message_id, b1.message_id]


async def test_what_is_not_yet_carried_survives_a_restart(db_url: str) -> None:
    """The writer reloads the call (``messages.in_update``) rather than trusting memory."""
    w, u1, b1 = welcome(), user(1, "hello", T0_MS + 1_000), bot(1, "hi", T0_MS + 7_000)
    postgres = db_url.startswith("postgresql")
    async with Store(db_url, hook=Relay([NEW], postgres=postgres)) as first:
        await first.ingest(parse_event(body(conv("A", [w])), received_at=T0_MS))
        await first.ingest(parse_event(body(hang("A", [w, u1], T0_MS + 6_500)), received_at=T0_MS))
    async with Store(db_url, hook=Relay([NEW], postgres=postgres)) as second:
        await second.ingest(parse_event(body(conv("A", [w, u1, b1])), received_at=T0_MS + 2))
        rows = [r for r in await outbox(second) if r[2] == "conversation-update"]
    rebuilt = [
        m["messageId"] for r in rows for m in msgspec.json.decode(r[4])["message"]["messages"]
    ]
    assert rebuilt == [w.message_id, u1.message_id, b1.message_id]
