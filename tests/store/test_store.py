"""Storing events: each message once, duplicates cheap, merged state never rolls back."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from callhook import DecodeError, StorageError
from callhook.store import (
    CallFilter,
    Store,
    get_call,
    head_revision,
    list_calls,
    list_errors,
    list_events,
    list_hangs,
    list_messages,
    list_unattributed,
    make_engine,
    metadata,
    parse_event,
    upgrade,
)
from tests.calls import make_call
from tests.conftest import sample_params

pytestmark = pytest.mark.asyncio


async def ingest(store: Store, body: bytes, at: int = 1) -> str:
    outcome = await store.ingest(parse_event(body, received_at=at))
    return outcome.outcome


async def messages_of(store: Store, call_id: str) -> list[str]:
    page = await store.read(lambda c: list_messages(c, call_id, None, 500))
    assert page is not None
    return [msgspec.json.decode(raw)["messageId"] for raw in page.items]


async def count(store: Store, table: str) -> int:
    t = metadata.tables[table]
    return await store.read(lambda c: c.execute(select(func.count()).select_from(t)).scalar_one())


@pytest.mark.parametrize("path", sample_params())
async def test_every_sample_is_stored_and_queryable(store: Store, path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    outcome = await ingest(store, path.read_bytes())
    assert outcome in ("stored", "unattributed")
    if outcome == "stored":
        call_id = parse_event(path.read_bytes(), received_at=0).call_id
        assert call_id is not None
        assert await store.read(lambda c: get_call(c, call_id)) is not None
    else:
        page = await store.read(lambda c: list_unattributed(c, None, 10))
        assert len(page.items) == 1


async def test_each_message_is_stored_once_and_redelivery_is_a_duplicate(store: Store) -> None:
    events = make_call("C1", 6)
    for event in events:
        assert await ingest(store, event.body) == "stored"
    for event in events:
        assert await ingest(store, event.body) == "duplicate"
    assert await count(store, "messages") == 6
    call = await store.read(lambda c: get_call(c, "C1"))
    assert call is not None
    assert call["messageCount"] == 6
    assert call["duplicateCount"] == len(events)
    assert call["eventCount"] == len(events)
    assert call["status"] == "finished"
    assert [h["status"] for h in call["statusHistory"]] == [
        "initiated",
        "queued",
        "ongoing",
        "finished",
    ]


async def test_a_lost_conversation_update_is_repaired_by_a_later_full_history(
    store: Store,
) -> None:
    events = [e for e in make_call("C2", 5) if e.kind == "conversation-update"]
    for event in events[:2] + events[4:]:
        await ingest(store, event.body)
    final = msgspec.json.decode(events[4].body)["message"]["messages"]
    assert await messages_of(store, "C2") == [m["messageId"] for m in final]


async def test_a_late_older_event_rolls_nothing_back(store: Store) -> None:
    events = make_call("C3", 3, hang=False, error=False)
    by_kind = {e.kind: e for e in events}
    await ingest(store, events[-1].body)  # end-of-call-report first
    result = await store.ingest(parse_event(events[0].body, received_at=2))  # initiated, late
    assert result.late
    call = await store.read(lambda c: get_call(c, "C3"))
    assert call is not None
    assert call["status"] == "finished"
    fields = msgspec.json.decode(call["call"])
    assert fields["endAt"] == "2026-03-05T09:22:00.000Z"
    assert msgspec.json.decode(call["cost"]) == {"totalCost": 0.12, "callDuration": 40}
    assert "end-of-call-report" in by_kind


async def test_hangs_errors_and_events_are_kept(store: Store) -> None:
    for event in make_call("C4", 4):
        await ingest(store, event.body)
    hangs = await store.read(lambda c: list_hangs(c, CallFilter(call_id="C4"), None, 10))
    assert [(h["pendingMessageId"], h["waitedMs"], h["stage"]) for h in hangs.items] == [
        ("user-1", 5100, "llm")
    ]
    errors = await store.read(lambda c: list_errors(c, CallFilter(), None, 10))
    assert [(e["code"], e["provider"], e["retryable"]) for e in errors.items] == [
        ("rate_limit_exceeded", "openai", True)
    ]
    assert msgspec.json.decode(errors.items[0]["error"])["details"] == {"retryAfter": 2}
    events = await store.read(lambda c: list_events(c, "C4", None, 100))
    assert events is not None
    kinds = [e["type"] for e in events.items]
    assert kinds.count("conversation-update") == 4
    assert all(e["body"] is None for e in events.items if e["type"] == "conversation-update")
    assert all(e["body"] is not None for e in events.items if e["type"] != "conversation-update")
    assert sum(e["newMessages"] for e in events.items) == 4
    calls = await store.read(lambda c: list_calls(c, CallFilter(has_hang=True), None, 10))
    assert [c["callId"] for c in calls.items] == ["C4"]


async def test_an_invalid_new_message_stores_nothing_of_the_event(store: Store) -> None:
    body = (
        b'{"message": {"type": "conversation-update", "timestamp": 5, "call": {"id": "C5"},'
        b' "messages": [{"messageId": "user-1", "role": 7}]}}'
    )
    with pytest.raises(DecodeError) as caught:
        await store.ingest(parse_event(body, received_at=1))
    assert caught.value.path == "$.message.messages[0].role"
    assert await count(store, "calls") == 0
    assert await count(store, "arrivals") == 0


async def test_calls_are_paginated_newest_first(store: Store) -> None:
    for index in range(5):
        body = msgspec.json.encode(
            {
                "message": {
                    "type": "status-update",
                    "timestamp": 1000 + index,
                    "call": {"id": f"P{index}", "status": "queued"},
                }
            }
        )
        await ingest(store, body)
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.read(lambda c, cur=cursor: list_calls(c, CallFilter(), cur, 2))
        seen += [c["callId"] for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["P4", "P3", "P2", "P1", "P0"]


async def test_migrations_are_idempotent_and_create_every_table(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert current == head_revision()
    assert {"calls", "messages", "arrivals", "callhook_delivery_outbox", "monitor_alerts"} <= tables


_MIGRATE_AT = """
import sys, time
from callhook.store import upgrade
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
upgrade(sys.argv[2])
"""


async def test_processes_migrating_an_empty_database_at_once_all_succeed(db_url: str) -> None:
    # Several receivers started together on a fresh database: one migrates, the others wait
    # and find the schema at head. Processes, as in production (Alembic is not thread-safe),
    # each sleeping until the same instant before it migrates.
    import asyncio
    import sys
    import time

    at = time.time() + 3.0
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE_AT,
            str(at),
            db_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    failures = []
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        if process.returncode != 0:
            failures.append(stderr.decode(errors="replace")[-2000:])
    assert failures == []
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    finally:
        engine.dispose()


async def test_a_closed_store_refuses_events(db_url: str) -> None:
    async with Store(db_url) as store:
        pass
    with pytest.raises(StorageError, match="closed"):
        await store.ingest(parse_event(make_call("C6", 1)[0].body, received_at=1))


async def test_concurrent_events_share_commits(store: Store) -> None:
    import asyncio

    bodies = [make_call(f"G{n}", 1, hang=False, error=False)[0].body for n in range(64)]
    before = store.commits
    outcomes = await asyncio.gather(*(store.ingest(parse_event(b, received_at=1)) for b in bodies))
    assert [o.outcome for o in outcomes] == ["stored"] * 64
    assert store.commits - before < 64 / 4
    assert await count(store, "calls") == 64


@pytest.mark.parametrize("hang_first", [True, False])
async def test_a_hang_is_paired_with_its_late_response_in_either_order(
    store: Store, hang_first: bool
) -> None:
    events = make_call("H1", 4, error=False)
    hang = next(e for e in events if e.kind == "hang")
    others = [e for e in events if e.kind != "hang"]
    for event in [hang, *others] if hang_first else [*others, hang]:
        await ingest(store, event.body)
    page = await store.read(lambda c: list_hangs(c, CallFilter(call_id="H1"), None, 10))
    (found,) = page.items
    assert found["pendingMessageId"] == "user-1"
    assert found["recovered"]["waitedMs"] == 6200
    assert found["recovered"]["messageId"].startswith("user-1-")
