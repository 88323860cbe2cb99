"""Several dispatcher processes on one outbox: each event arrives once, in per-call order.

Two real processes share one database; each accepts the events of its own 100 calls and
delivers whatever the outbox holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). A third one
is the receiver, which counts every ``webhook-id``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhook.delivery import create_outbox_tables, list_deliveries
from callhook.store import make_engine
from tests.databases import database_url

from .test_crash import HERE, Process

CALLS, EVENTS = 200, 5


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in database_url(request.param, tmp_path):
        engine = make_engine(url)
        create_outbox_tables(engine)
        engine.dispose()
        yield url


def test_two_dispatcher_processes_deliver_200_calls_once_each_in_order(db_url: str) -> None:
    receiver = Process(str(HERE / "crash_receiver.py"))
    try:
        ready = receiver.next_line()
        assert ready is not None and ready.startswith("port ")
        url = f"http://127.0.0.1:{ready.split()[1]}/hook"
        half = CALLS // 2
        workers = [
            Process(str(HERE / "outbox_worker.py"), db_url, url, str(a), str(b), str(EVENTS))
            for a, b in ((0, half), (half, CALLS))
        ]
        for worker in workers:
            assert worker.next_line() == "done"
            assert worker.proc.wait(timeout=60) == 0
    finally:
        receiver.stop()
    received = [line.split() for line in receiver.rest()]

    engine = make_engine(db_url)
    records = list_deliveries(engine, limit=10_000)
    engine.dispose()
    assert len(records) == CALLS * EVENTS
    assert {r.status for r in records} == {"delivered"}, "nothing is left pending"
    counts = Counter(webhook_id for webhook_id, _, _, _ in received)
    assert set(counts) == {r.webhook_id for r in records}
    assert set(counts.values()) == {1}, "a webhook-id arrived twice"
    by_call: dict[str, list[int]] = defaultdict(list)
    for _, call_id, sequence, _ in received:
        by_call[call_id].append(int(sequence))
    assert len(by_call) == CALLS
    for call_id, sequences in by_call.items():
        assert sequences == list(range(1, EVENTS + 1)), f"{call_id} out of order"
