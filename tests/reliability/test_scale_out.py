"""Scale-out on PostgreSQL: two ``callhook serve`` processes on one database.

A call's events, shuffled and duplicated, sent alternately to both, end as exactly the call
one process stores from the events in order; a dashboard stream opened on one sees events
ingested by the other within 1 s."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store
from tests.calls import make_call
from tests.databases import database_url
from tests.reliability.serving import serving

JSON = {"content-type": "application/json"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    """A private schema on the PostgreSQL test server (skips without one)."""
    yield from database_url("postgresql", tmp_path)


async def _call(client: httpx.AsyncClient, call_id: str) -> dict[str, Any]:
    detail = (await client.get(f"/api/calls/{call_id}")).json()
    messages = (await client.get(f"/api/calls/{call_id}/messages", params={"limit": 500})).json()
    detail.pop("duplicateCount")  # the duplicates sent on purpose
    return {"detail": detail, "messages": messages["messages"]}


@pytest.mark.asyncio
async def test_two_processes_store_one_call_exactly(tmp_path: Path, db: str) -> None:
    events = [e.body for e in make_call("SCALE-1", 12)]
    rng = random.Random(4)
    sent = events + rng.sample(events, 6)
    rng.shuffle(sent)
    async with Store(f"sqlite:///{tmp_path / 'reference.sqlite3'}") as reference_store:
        app = create_app(ReceiverConfig(database_url=reference_store.url), store=reference_store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as reference:
            for body in events:
                assert (await reference.post("/webhook", content=body, headers=JSON)).is_success
            want = await _call(reference, "SCALE-1")
    with serving(db, tmp_path) as first, serving(db, tmp_path) as second:
        async with (
            httpx.AsyncClient(base_url=first.base, timeout=30) as a,
            httpx.AsyncClient(base_url=second.base, timeout=30) as b,
        ):
            answers = await asyncio.gather(
                *(
                    (a if n % 2 == 0 else b).post("/webhook", content=body, headers=JSON)
                    for n, body in enumerate(sent)
                )
            )
            assert {r.status_code for r in answers} == {200}
            for client in (a, b):
                got = await _call(client, "SCALE-1")
                for key in ("detail", "messages"):
                    assert json.dumps(got[key], sort_keys=True) == json.dumps(
                        want[key], sort_keys=True
                    ), key


@pytest.mark.asyncio
async def test_a_stream_on_one_process_sees_events_ingested_by_the_other(
    tmp_path: Path, db: str
) -> None:
    with serving(db, tmp_path) as first, serving(db, tmp_path) as second:
        async with (
            httpx.AsyncClient(base_url=first.base, timeout=30) as a,
            httpx.AsyncClient(base_url=second.base, timeout=30) as b,
        ):
            for attempt in range(3):
                call_id = f"SCALE-LIVE-{attempt}"
                async with b.stream("GET", "/api/stream") as stream:
                    assert stream.status_code == 200
                    lines = stream.aiter_lines()
                    await asyncio.sleep(0.3)  # the subscription is registered
                    body = make_call(call_id, 2)[0].body
                    assert (await a.post("/webhook", content=body, headers=JSON)).is_success
                    acked = time.monotonic()
                    async with asyncio.timeout(1.0):
                        async for line in lines:
                            if call_id in line:
                                break
                    assert time.monotonic() - acked < 1.0
