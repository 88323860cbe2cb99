"""Erasure and retention leave no value of a removed call in any table (every table of the
migrated database is scanned, so one added later is covered), keep the other calls whole,
and write an audit record that names who asked but not what was erased."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from callhook.store import (
    DAY_MS,
    Cutoffs,
    Purger,
    Store,
    erase_calls,
    erase_user_number,
    get_call,
    list_erasures,
    list_messages,
    parse_event,
    save_alerts,
    write_transaction,
)
from tests.calls import START
from tests.governance import ingest_all, marked_events, scan, side_rows, table_names

A, B, C = "call-erase-aaaa", "call-erase-bbbb", "call-erase-cccc"
NUMBER_A, NUMBER_B = "+14155550101", "+14155550199"
#: Every table that holds a text value of a call in these tests (``hangs`` and
#: ``status_history`` hold only numbers and ids of the call's own: see ``rows_of_pk``).
CALL_TABLES = {
    "calls",
    "messages",
    "arrivals",
    "errors",
    "monitor_alerts",
    "monitor_sentiment",
    "monitor_hang_impacts",
    "callhook_delivery_outbox",
    "callhook_delivery_attempts",
}


async def seed(store: Store, call_id: str, number: str, marker: str, at: int) -> None:
    await ingest_all(store, marked_events(call_id, number=number, marker=marker), at)
    await store.write(lambda c: side_rows(c, call_id, marker, at))


def call_pk(store: Store, call_id: str) -> int:
    with store.engine.connect() as conn:
        pk = conn.execute(sa.text("SELECT pk FROM calls WHERE call_id = :id"), {"id": call_id})
        return int(pk.scalar_one())


def rows_of_pk(url: str, pk: int) -> list[str]:
    """Tables (reflected) with a ``call_pk`` column holding ``pk``."""
    from callhook.store import make_engine

    engine = make_engine(url)
    try:
        reflected = sa.MetaData()
        reflected.reflect(engine)
        with engine.connect() as conn:
            return [
                t.name
                for t in reflected.sorted_tables
                if "call_pk" in t.c
                and conn.execute(sa.select(sa.func.count()).where(t.c.call_pk == pk)).scalar()
            ]
    finally:
        engine.dispose()


@pytest.mark.asyncio
async def test_the_scan_sees_every_table_that_holds_a_call(store: Store) -> None:
    """The premise of the tests below: before removal, the scan finds the call's values in
    every table that holds call data."""
    await seed(store, A, NUMBER_A, "MARK-A", START)
    tables = {hit.split(".")[0] for hit in scan(store.url, [A, "MARK-A", NUMBER_A])}
    assert tables >= CALL_TABLES
    assert "erasures" in table_names(store.url)


@pytest.mark.asyncio
async def test_erasing_a_call_leaves_no_value_of_it_in_any_table(store: Store) -> None:
    await seed(store, A, NUMBER_A, "MARK-A", START)
    await seed(store, B, NUMBER_B, "MARK-B", START)
    pk = call_pk(store, A)
    erased = await store.remove(
        lambda c: erase_calls(c, [A], actor="ops", reference="ticket-7", now_ms=START + 5)
    )
    assert erased.calls == 1
    assert erased.rows["messages"] == 6 and erased.rows["callhook_delivery_attempts"] == 1
    assert scan(store.url, [A, "MARK-A", NUMBER_A]) == []
    assert rows_of_pk(store.url, pk) == []
    # The other call is whole.
    b_tables = {hit.split(".")[0] for hit in scan(store.url, [B, "MARK-B", NUMBER_B])}
    assert b_tables >= CALL_TABLES
    page = await store.read(lambda c: list_messages(c, B, None, 50))
    assert page is not None and len(page.items) == 6
    found = await store.read(lambda c: get_call(c, B))
    assert found is not None and found["assistant"] is not None
    # The audit record: who, what kind, how much; not the call id.
    [record] = await store.read(list_erasures)
    assert record["actor"] == "ops" and record["subject"] == "call"
    assert record["reference"] == "ticket-7" and record["calls"] == 1
    assert record["rows"]["messages"] == 6 and record["at"] == START + 5


@pytest.mark.asyncio
async def test_erasing_the_last_call_of_an_assistant_removes_the_assistant(store: Store) -> None:
    await seed(store, A, NUMBER_A, "MARK-A", START)
    await store.remove(lambda c: erase_calls(c, [A], actor="cli"))
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM assistants")).scalar() == 0
    # The writer stores the assistant again for a new call (it forgot what it had stored).
    await seed(store, B, NUMBER_B, "MARK-B", START)
    found = await store.read(lambda c: get_call(c, B))
    assert found is not None and found["assistant"] is not None


@pytest.mark.asyncio
async def test_erasing_an_unknown_call_still_writes_the_audit_record(store: Store) -> None:
    erased = await store.remove(lambda c: erase_calls(c, ["nope"], actor="cli"))
    assert erased.calls == 0 and erased.rows == {} and erased.audit_id is not None
    [record] = await store.read(list_erasures)
    assert record["calls"] == 0


@pytest.mark.asyncio
async def test_erasing_a_user_number_removes_every_call_of_that_caller(store: Store) -> None:
    await seed(store, A, NUMBER_A, "MARK-A", START)
    await seed(store, C, NUMBER_A, "MARK-C", START)
    await seed(store, B, NUMBER_B, "MARK-B", START)
    loose = {"message": {"type": "status-update", "customer": {"number": NUMBER_A}}}
    await store.ingest(parse_event(json.dumps(loose).encode(), received_at=START))
    erased = await store.remove(lambda c: erase_user_number(c, [NUMBER_A], actor="cli"))
    assert erased.calls == 2 and erased.rows["unattributed"] == 1
    assert scan(store.url, [A, C, "MARK-A", "MARK-C", NUMBER_A]) == []
    assert scan(store.url, [B, "MARK-B", NUMBER_B]) != []
    [record] = await store.read(list_erasures)
    assert record["subject"] == "user-number" and record["calls"] == 2


@pytest.mark.asyncio
async def test_a_number_that_only_appears_elsewhere_in_the_call_does_not_match(
    store: Store,
) -> None:
    """The LIKE that narrows the search is confirmed on the decoded ``userNumber``."""
    await seed(store, A, NUMBER_A, "MARK-A", START)
    erased = await store.remove(lambda c: erase_user_number(c, ["+1415555010"], actor="cli"))
    assert erased.calls == 0
    assert scan(store.url, [A]) != []


# -- retention ---------------------------------------------------------------------------------

OLD, NEW = START + 3_600_000, START + 10 * DAY_MS
CUTOFF = START + 5 * DAY_MS


def alert(alert_id: str, state: str, updated_at: int) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "rule": "hang-rate",
        "scope": "assistant=asst-1",
        "severity": "critical",
        "state": state,
        "summary": alert_id,
        "value": 0.1,
        "threshold": 0.05,
        "fired_at": updated_at - 1,
        "updated_at": updated_at,
        "resolved_at": updated_at if state == "resolved" else None,
        "call_id": None,
        "assistant_id": "asst-1",
        "provider": None,
        "suppressed": 0,
        "notified": True,
    }


async def purge(store: Store, cutoffs: Cutoffs, batch: int) -> int:
    purger = Purger(cutoffs, batch=batch)
    steps = 0
    while not (await store.remove(purger.step)).done:
        steps += 1
        assert steps < 1000
    return steps


@pytest.mark.asyncio
async def test_a_purge_removes_old_calls_whole_and_keeps_the_rest(store: Store) -> None:
    for n in range(3):
        await seed(store, f"old-call-{n}", f"+1415555020{n}", f"OLD-MARK-{n}", OLD)
    await seed(store, B, NUMBER_B, "MARK-B", NEW)
    # A call that started before the cutoff but was still receiving events after it stays.
    events = marked_events(C, number=NUMBER_A, marker="MARK-C")
    await ingest_all(store, events[:4], OLD)
    await ingest_all(store, events[4:], NEW)
    steps = await purge(store, Cutoffs(calls=CUTOFF), batch=1)
    assert steps >= 3  # one call per transaction
    old_values = [f"old-call-{n}" for n in range(3)] + [f"OLD-MARK-{n}" for n in range(3)]
    assert scan(store.url, old_values) == []
    assert scan(store.url, [B, "MARK-B"]) != [] and scan(store.url, [C, "MARK-C"]) != []
    assert await store.read(list_erasures) == []  # retention is not an erasure request


@pytest.mark.asyncio
async def test_event_bodies_alerts_and_unattributed_events_have_their_own_horizons(
    store: Store,
) -> None:
    events = marked_events(C, number=NUMBER_A, marker="MARK-C")
    await ingest_all(store, events[:3], OLD)  # three status-updates: bodies kept
    await ingest_all(store, events[3:], NEW)
    for at, name in ((OLD, "OLD-LOOSE"), (NEW, "NEW-LOOSE")):
        loose = {"message": {"type": "status-update", "timestamp": at, "note": name}}
        await store.ingest(parse_event(json.dumps(loose).encode(), received_at=at))
    await store.write(
        lambda c: save_alerts(
            c,
            [
                alert("old-resolved", "resolved", OLD),
                alert("old-firing", "firing", OLD),
                alert("new-resolved", "resolved", NEW),
            ],
        )
    )
    query = sa.text("SELECT pk, received_at, body IS NULL FROM arrivals ORDER BY pk")
    with store.engine.connect() as conn:
        before = conn.execute(query).all()
    await purge(store, Cutoffs(event_bodies=CUTOFF, alerts=CUTOFF), batch=2)
    with store.engine.connect() as conn:
        after = conn.execute(query).all()
        left = {r[0] for r in conn.execute(sa.text("SELECT alert_id FROM monitor_alerts"))}
    assert [bool(r[2]) for r in before if r[1] == OLD] == [False, False, False]
    assert [bool(r[2]) for r in after if r[1] == OLD] == [True, True, True]
    assert [r for r in after if r[1] == NEW] == [r for r in before if r[1] == NEW]
    assert left == {"old-firing", "new-resolved"}
    assert scan(store.url, ["OLD-LOOSE"]) == [] and scan(store.url, ["NEW-LOOSE"]) != []
    # The call itself is untouched.
    page = await store.read(lambda c: list_messages(c, C, None, 50))
    assert page is not None and len(page.items) == 6


@pytest.mark.asyncio
async def test_the_event_body_walk_resumes_where_it_stopped(store: Store) -> None:
    events = marked_events(C, number=NUMBER_A, marker="MARK-C")
    await ingest_all(store, events[:3], OLD)
    first = Purger(Cutoffs(event_bodies=CUTOFF), batch=1)
    while not (await store.remove(first.step)).done:
        pass
    assert first.body_position == 3
    await ingest_all(store, events[3:], NEW)
    later = Purger(Cutoffs(event_bodies=NEW + 1), batch=100, body_after=first.body_position)
    step = await store.remove(later.step)
    assert step.bodies_trimmed == 4  # the hang, error, finished status and report bodies
    with store.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM arrivals WHERE body IS NOT NULL"))
        assert kept.scalar() == 0


@pytest.mark.asyncio
async def test_a_purge_with_nothing_to_do_is_done_at_once(store: Store) -> None:
    assert await purge(store, Cutoffs.before(CUTOFF), batch=10) == 5  # one step per kind
    assert (await store.remove(Purger(Cutoffs()).step)).done


def test_cutoffs_from_days() -> None:
    cut = Cutoffs.from_days(10 * DAY_MS, calls_days=7, alerts_days=0.5)
    assert cut == Cutoffs(calls=3 * DAY_MS, event_bodies=None, alerts=10 * DAY_MS - DAY_MS // 2)


def test_a_batch_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Purger(Cutoffs(), batch=0)


@pytest.mark.asyncio
async def test_writes_go_through_one_transaction(db_url: str) -> None:
    """``erase_calls`` runs in the caller's transaction: rolled back, nothing is erased."""
    async with Store(db_url) as store:
        await seed(store, A, NUMBER_A, "MARK-A", START)
        with pytest.raises(RuntimeError), write_transaction(store.engine) as conn:
            erase_calls(conn, [A], actor="cli")
            raise RuntimeError("abort")
        assert scan(store.url, [A]) != []
