"""The monitor's tables: the migration matches the schema, upserts replace, scores stay."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callhook import delivery
from callhook.monitor import (
    Alert,
    AlertState,
    HangImpact,
    HangOutcome,
    RuleId,
    SentimentPoint,
    Severity,
    SqlAlertStore,
)
from callhook.store import (
    Store,
    get_sentiment,
    list_hang_impacts,
    make_engine,
    metadata,
    parse_event,
    upgrade,
)
from tests.calls import make_call

pytestmark = pytest.mark.asyncio


async def test_the_migrations_create_exactly_the_schema(db_url: str) -> None:
    """Every revision together gives the tables of the store (receiver and monitor) and of
    the delivery outbox, exactly."""
    upgrade(db_url)
    expected = sa.MetaData()
    for tables in (metadata, delivery.METADATA):
        for table in tables.tables.values():
            table.to_metadata(expected)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, expected) == []
    finally:
        engine.dispose()


def alert(n: int, *, state: AlertState = AlertState.FIRING, fired: int = 1_000) -> Alert:
    return Alert(
        id=f"hang:call=C{n}/user-1:{fired}:{n}",
        rule=RuleId.HANG,
        scope=f"call=C{n}/user-1",
        severity=Severity.WARNING,
        state=state,
        summary=f"call C{n} hung",
        value=5000.0,
        threshold=None,
        fired_at_ms=fired + n,
        updated_at_ms=fired + n,
        call_id=f"C{n}",
    )


async def test_alerts_are_replaced_by_id_and_listed_newest_first(store: Store) -> None:
    history = SqlAlertStore(store)
    for n in range(3):
        await history.save(alert(n))
    await history.save(alert(1, state=AlertState.RESOLVED))
    await history.flush()
    assert [a.call_id for a in await history.list()] == ["C2", "C1", "C0"]
    resolved = await history.list(state=AlertState.RESOLVED)
    assert [(a.call_id, a.state) for a in resolved] == [("C1", AlertState.RESOLVED)]
    assert [a.call_id for a in await history.list(since_ms=1_001, limit=1)] == ["C2"]
    assert (await history.list())[0] == alert(2)  # round trip, every field


async def test_impacts_are_replaced_and_first_scores_kept(store: Store) -> None:
    body = make_call("C9", 3, hang=False, error=False)[0].body
    await store.ingest(parse_event(body, received_at=1))
    history = SqlAlertStore(store)
    pending = HangImpact(call_id="C9", pending_message_id="user-1", hung_at_ms=2_000.0)
    history.record_impacts([pending])
    history.record_sentiment(
        "C9", [SentimentPoint(message_id="user-1", timestamp_ms=1.0, compound=0.5)]
    )
    await history.flush()
    recovered = HangImpact(
        call_id="C9",
        pending_message_id="user-1",
        hung_at_ms=2_000.0,
        outcome=HangOutcome.RECOVERED,
        response_message_id="user-1-x-3000",
        waited_ms=1_000.0,
    )
    history.record_impacts([recovered])
    history.record_sentiment(
        "C9", [SentimentPoint(message_id="user-1", timestamp_ms=1.0, compound=-1.0)]
    )
    await history.flush()
    page = await store.read(
        lambda c: list_hang_impacts(c, call_id=None, since=None, cursor=None, limit=10)
    )
    (impact,) = page.items
    assert impact["recovered"] is True and impact["waitedMs"] == 1_000.0
    sentiment = await store.read(lambda c: get_sentiment(c, "C9"))
    assert sentiment == {
        "callId": "C9",
        "average": 0.5,
        "trajectory": [{"messageId": "user-1", "timestamp": 1, "compound": 0.5}],
    }
    assert await store.read(lambda c: get_sentiment(c, "nope")) is None
    assert history.failures == 0
