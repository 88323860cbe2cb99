"""Fixtures of the delivery tests: a fake clock, outbox databases, envelopes, dispatchers."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from callhook import events
from callhook.delivery import Dispatcher, RetryPolicy, create_outbox_tables
from callhook.store import make_engine
from tests.databases import database_url

URL = "http://hooks.example/callhook"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeClock:
    """Time moves only when the dispatcher sleeps: a sleep advances it at once."""

    def __init__(self, start: float | None = None) -> None:
        # Near the real time, so that standardwebhooks' 5-minute tolerance accepts signatures.
        self.now = float(int(time.time())) if start is None else start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An outbox database migrated to the head revision: a SQLite file, or a private
    PostgreSQL schema when CALLHOOK_TEST_POSTGRES_URL is set (skipped with the reason else)."""
    for url in database_url(request.param, tmp_path):
        engine = make_engine(url)
        create_outbox_tables(engine)
        yield engine
        engine.dispose()


def server(**overrides: Any) -> dict[str, Any]:
    """An enabled ``assistantServer`` subscribed to every event type."""
    config: dict[str, Any] = {
        "enabled": True,
        "url": URL,
        "timeoutSeconds": 5,
        "secret": "s3cret",
        "headers": {"Authorization": "Bearer token-1"},
        "messages": [t.value for t in events.EventType],
    }
    config.update(overrides)
    return config


def envelope(
    call_id: str = "WC-1",
    event_type: str = "status-update",
    *,
    assistant_server: dict[str, Any] | None = None,
    assistant: dict[str, Any] | None = None,
    n: int = 0,
) -> events.Envelope[events.Event]:
    """A small valid event of ``event_type`` for ``call_id``."""
    if assistant is None:
        assistant = {"_id": "asst-1", "name": "Ava"}
        assistant["assistantServer"] = server() if assistant_server is None else assistant_server
    message: dict[str, Any] = {
        "timestamp": 1772702479627 + n,
        "type": event_type,
        "call": {"id": call_id, "status": "ongoing"},
        "assistant": assistant,
    }
    if event_type != "status-update":
        message["messages"] = [{"messageId": f"user-{n + 1}", "role": "user", "text": "hi"}]
    return events.decode(json.dumps({"message": message}))


@asynccontextmanager
async def dispatcher(
    engine: sa.Engine,
    handler: Handler,
    *,
    clock: FakeClock | None = None,
    policy: RetryPolicy | None = None,
    **options: Any,
) -> AsyncIterator[Dispatcher]:
    """A started Dispatcher on ``engine`` whose requests go to ``handler``."""
    async with Dispatcher(
        engine,
        transport=httpx.MockTransport(handler),
        clock=clock or FakeClock(),
        rng=random.Random(7),
        policy=policy,
        **{"poll_interval": None, **options},
    ) as d:
        yield d
