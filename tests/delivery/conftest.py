"""Fixtures of the delivery tests: a fake clock, outbox databases, envelopes, dispatchers."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from callhook import events
from callhook.delivery import Dispatcher, RetryPolicy, create_outbox_tables
from callhook.delivery._transport import Reply, SendFailure
from callhook.store import make_engine
from tests.databases import database_url

URL = "http://hooks.example/callhook"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeTransport:
    """The dispatcher's HTTP boundary, answered in-process by ``handler``.

    httpx's ``Request`` and ``Response`` serve as plain records here (the handler sees the
    URL, headers and body of each request, and picks an answer); a handler that raises
    ``httpx.TimeoutException`` or another ``httpx.TransportError`` stands for no response.
    ``AiohttpTransport`` itself is tested against a real server in ``test_transport.py``.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.timeouts: list[float] = []

    @classmethod
    def asgi(cls, app: Any) -> FakeTransport:  # Any: an ASGI application
        """Requests answered by ``app`` in-process (httpx's ASGI transport)."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")

        async def forward(request: httpx.Request) -> httpx.Response:
            response = await client.send(request)
            await response.aread()
            return response

        return cls(forward)

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> Reply:
        self.timeouts.append(seconds)
        request = httpx.Request("POST", url, content=body, headers=dict(headers))
        try:
            answer = self.handler(request)
            response = await answer if inspect.isawaitable(answer) else answer
        except httpx.TimeoutException as exc:
            raise SendFailure(f"timeout after {seconds:g} s ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise SendFailure(f"{type(exc).__name__}: {exc}") from None
        return Reply(
            response.status_code,
            response.reason_phrase,
            response.headers.get("retry-after"),
            response.headers.get("location"),
        )

    async def aclose(self) -> None:
        pass


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
        transport=FakeTransport(handler),
        clock=clock or FakeClock(),
        rng=random.Random(7),
        policy=policy,
        **{"poll_interval": None, **options},
    ) as d:
        yield d
