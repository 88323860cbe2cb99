"""``callhook serve --workers N``: several processes on one port and one PostgreSQL database.

One call's events, shuffled and re-delivered, each on a connection of its own so that the
kernel spreads them over both workers, give exactly the call that in-order delivery to one
writer gives (the order-independence property, across processes). The monitor runs once, in
the supervisor, and hears every worker. On SQLite, ``--workers 2`` is refused with the reason.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import Engine

from callhook._exceptions import ConfigError
from callhook.receiver import ReceiverConfig, load_config
from callhook.store import Writer, get_call, list_messages, make_engine, parse_event, upgrade
from tests.calls import make_call
from tests.databases import database_url
from tests.receiver.test_crash import free_port

JSON = {"content-type": "application/json"}


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("postgresql", tmp_path)


@contextmanager
def serving(db_url: str, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"callhook serve exited with {process.returncode}: {stderr}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("callhook serve did not become ready within 60 s")
            time.sleep(0.05)  # polling readiness of a subprocess, bounded by the deadline
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        if process.stderr:
            process.stderr.close()


def snapshot(engine: Engine, call_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        call = get_call(connection, call_id)
        page = list_messages(connection, call_id, None, 500)
    assert call is not None and page is not None
    return {
        "messages": [bytes(raw) for raw in page.items],
        "status": call["status"],
        "fields": msgspec.json.decode(call["call"]),
        "report": msgspec.json.decode(call["report"]) if call["report"] else None,
        "assistant": msgspec.json.decode(call["assistant"]) if call["assistant"] else None,
        "counts": [call[k] for k in ("messageCount", "hangCount", "errorCount", "eventCount")],
    }


def expected(tmp_path: Path, bodies: list[bytes], call_id: str) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'in-order.sqlite3'}")
    upgrade(engine)
    writer = Writer(engine)
    for n, body in enumerate(bodies):
        assert not isinstance(writer.apply([parse_event(body, received_at=n)])[0], Exception)
    writer.close()
    try:
        return snapshot(engine, call_id)
    finally:
        engine.dispose()


def events_counted(metrics: str) -> int:
    return sum(
        int(float(m)) for m in re.findall(r"^callhook_events_total\{[^}]*\} (\S+)$", metrics, re.M)
    )


@pytest.mark.asyncio
async def test_two_workers_store_a_shuffled_duplicated_call_exactly(
    pg_url: str, tmp_path: Path
) -> None:
    bodies = [e.body for e in make_call("W1", 16)]
    shuffled = bodies + random.Random(7).sample(bodies, len(bodies) // 2)
    random.Random(11).shuffle(shuffled)
    with serving(pg_url, 2) as (_, base):

        async def post(body: bytes) -> int:
            async with httpx.AsyncClient(timeout=30) as client:  # a connection of its own
                return (
                    await client.post(f"{base}/webhook", content=body, headers=JSON)
                ).status_code

        statuses = await asyncio.gather(*(post(b) for b in shuffled))
        assert set(statuses) == {200}
        answered: set[int] = set()
        for _ in range(10):  # /metrics answers for the worker that took the request
            async with httpx.AsyncClient(timeout=30) as client:
                answered.add(events_counted((await client.get(f"{base}/metrics")).text))
        # Each worker answered some of the events and none all of them: both took part.
        assert all(0 < n < len(shuffled) for n in answered), answered
        # The monitor (in the supervisor) heard the hang, whichever worker stored it.
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while True:
                impacts = (await client.get("/api/hangs/impact?callId=W1")).json()["impacts"]
                if impacts or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        assert [i["pendingMessageId"] for i in impacts] == ["user-1"]
    engine = make_engine(pg_url)
    try:
        assert snapshot(engine, "W1") == expected(tmp_path, bodies, "W1")
    finally:
        engine.dispose()


def test_several_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    result = subprocess.run(
        [sys.executable, "-m", "callhook", "serve", "--db", db, "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr and "write lock" in result.stderr
    with pytest.raises(Exception, match="workers must be 1 or more"):
        ReceiverConfig(workers=0).check()


def test_workers_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text('[server]\nworkers = 3\n[database]\nurl = "postgresql://u@h/db"\n')
    assert load_config(path, environ={}).workers == 3
    path.write_text("[server]\nworkers = 2\n")
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        load_config(path, environ={}).check()
