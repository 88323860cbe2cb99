"""The live bus: notices after the commit, per-call filtering, bounded queues, close; and the
SSE endpoint over a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path

import httpx
import pytest

from callhook.receiver import LiveBus
from callhook.receiver._live import MAX_NOTICE_MESSAGES, LiveStream
from callhook.store import Outcome, parse_event
from tests.dashboard.conftest import LiveServer


def _event(call_id: str, n_messages: int) -> bytes:
    messages = [
        {"messageId": f"user-{i}", "role": "user", "text": f"m{i}", "timestamp": i}
        for i in range(1, n_messages + 1)
    ]
    body = {
        "message": {
            "type": "conversation-update",
            "timestamp": 5,
            "messages": messages,
            "call": {"id": call_id, "status": "ongoing"},
        }
    }
    return json.dumps(body).encode()


def _publish(bus: LiveBus, call_id: str, n: int, new: int, outcome: str = "stored") -> None:
    bus.ingested(parse_event(_event(call_id, n), received_at=9), Outcome(outcome, call_id, new))


@pytest.mark.asyncio
async def test_notice_carries_the_newest_messages_and_call_state() -> None:
    bus = LiveBus()
    sub = bus.subscribe()
    _publish(bus, "c-1", 3, 2)
    notice = json.loads(sub.queue.get_nowait())
    assert notice["callId"] == "c-1" and notice["status"] == "ongoing"
    assert notice["type"] == "conversation-update" and notice["messageCount"] == 3
    assert [m["messageId"] for m in notice["messages"]] == ["user-2", "user-3"]


@pytest.mark.asyncio
async def test_notice_messages_are_capped_and_duplicates_are_not_published() -> None:
    bus = LiveBus()
    sub = bus.subscribe()
    _publish(bus, "c-1", 50, 50)
    _publish(bus, "c-1", 50, 0, outcome="duplicate")
    notice = json.loads(sub.queue.get_nowait())
    assert len(notice["messages"]) == MAX_NOTICE_MESSAGES and notice["newMessages"] == 50
    assert sub.queue.empty()


@pytest.mark.asyncio
async def test_subscribers_filtered_by_call_hear_only_that_call() -> None:
    bus = LiveBus()
    mine, everything = bus.subscribe("c-1"), bus.subscribe()
    _publish(bus, "c-2", 1, 1)
    _publish(bus, "c-1", 1, 1)
    assert json.loads(mine.queue.get_nowait())["callId"] == "c-1"
    assert mine.queue.empty()
    assert everything.queue.qsize() == 2


@pytest.mark.asyncio
async def test_a_slow_subscriber_is_reset_instead_of_growing() -> None:
    bus = LiveBus(queue_size=4)
    sub = bus.subscribe()
    for _ in range(10):
        _publish(bus, "c-1", 1, 1)
    assert sub.queue.qsize() == 1
    assert json.loads(sub.queue.get_nowait()) == {"type": "reset"}
    assert sub.dropped == 10
    sub.take_reset()
    _publish(bus, "c-1", 1, 1)
    assert json.loads(sub.queue.get_nowait())["callId"] == "c-1"


@pytest.mark.asyncio
async def test_close_ends_every_stream_and_refuses_new_ones() -> None:
    bus = LiveBus()
    sub = bus.subscribe()
    _publish(bus, "c-1", 1, 1)
    bus.close()
    assert sub.queue.get_nowait() == b""  # the end marker, pending notices dropped
    assert bus.subscribers == 0
    with pytest.raises(RuntimeError, match="closed"):
        bus.subscribe()
    _publish(bus, "c-1", 1, 1)  # ingest after close is a no-op, never an error


def test_stream_endpoint_sends_notices_over_sse(tmp_path: Path) -> None:
    """A real server: the SSE client receives the notice of an event posted after it
    connected, and the stream ends when the server closes the bus."""
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    server.start()
    try:
        with (
            httpx.Client(base_url=server.url, timeout=10) as client,
            client.stream("GET", "/api/stream", params={"callId": "c-9"}) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            server.post(client, _event("c-8", 1))
            server.post(client, _event("c-9", 2))
            data = next(line for line in lines if line.startswith("data: "))
            notice = json.loads(data.removeprefix("data: "))
            assert notice["callId"] == "c-9" and notice["newMessages"] == 2
            server.app.live.close()
            assert list(lines) == [""]  # the blank line after the notice, then the end
    finally:
        server.stop()


class _Client:
    """A fake ASGI connection: records what is sent; ``leave()`` disconnects."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []
        self.gone = asyncio.Event()
        self.got_body = asyncio.Event()

    async def receive(self) -> dict[str, object]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, object]) -> None:
        self.sent.append(dict(message))
        if message["type"] == "http.response.body" and b"heartbeat" in message.get("body", b""):
            self.got_body.set()

    def bodies(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent)


def _scope(query: bytes = b"") -> dict[str, object]:
    return {"type": "http", "method": "GET", "path": "/api/stream", "query_string": query}


@pytest.mark.asyncio
async def test_stream_sends_heartbeats_while_idle_and_ends_on_disconnect() -> None:
    bus = LiveBus(heartbeat_s=0)  # no wait: every idle turn is a heartbeat
    client = _Client()
    task = asyncio.create_task(LiveStream(bus)(_scope(), client.receive, client.send))
    await asyncio.wait_for(client.got_body.wait(), 10)
    assert bus.subscribers == 1
    client.gone.set()
    await asyncio.wait_for(task, 10)
    assert bus.subscribers == 0
    assert client.sent[0]["status"] == 200
    assert b": heartbeat\n\n" in client.bodies()


@pytest.mark.asyncio
async def test_stream_refuses_after_close() -> None:
    bus = LiveBus()
    bus.close()
    client = _Client()
    await LiveStream(bus)(_scope(b"callId=c-1"), client.receive, client.send)
    assert client.sent[0]["status"] == 503


def test_event_rate_counts_per_second_and_forgets_after_its_span() -> None:
    from callhook.receiver._live import EventRate

    now = [100.0]
    rate = EventRate(span_s=60, clock=lambda: now[0])
    rate.add(3)
    now[0] = 101.5
    rate.add(2)
    assert rate.last(60) == 5 and rate.last(1) == 2
    assert rate.last(5, current=False) == 3
    now[0] = 150.0
    assert rate.last(60) == 5
    now[0] = 160.0  # seconds 101..160: the first second (100) is out of the last minute
    assert rate.last(60) == 2
    now[0] = 500.0  # a long idle gap clears everything
    assert rate.last(60) == 0
    rate.add()
    assert rate.last(60) == 1
