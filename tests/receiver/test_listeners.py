"""Ingest listeners hear of each stored event after its commit, and of nothing rejected."""

from __future__ import annotations

import httpx
import pytest

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Incoming, Outcome, Store


class Recorder:
    def __init__(self) -> None:
        self.heard: list[tuple[str | None, str, int]] = []

    def ingested(self, incoming: Incoming, outcome: Outcome) -> None:
        self.heard.append((incoming.call_id, outcome.outcome, outcome.new_messages))


@pytest.mark.asyncio
async def test_listeners_hear_stored_events_in_order(store: Store) -> None:
    recorder = Recorder()
    app = create_app(
        ReceiverConfig(database_url=store.url),
        store=store,
        clock=lambda: 1_000,
        listeners=[recorder],
    )
    messages = [{"messageId": "welcome-1", "role": "assistant", "text": "Hi", "timestamp": 1}]
    body = {"message": {"type": "conversation-update", "call": {"id": "c-1"}, "messages": messages}}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        assert (await client.post("/webhook", json=body)).status_code == 200
        assert (await client.post("/webhook", json=body)).status_code == 200  # re-delivery
        bad = await client.post(
            "/webhook", content=b"{", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
        page = (await client.get("/api/calls/c-1/messages")).json()
    assert recorder.heard == [("c-1", "stored", 1), ("c-1", "duplicate", 0)]
    assert [m["messageId"] for m in page["messages"]] == ["welcome-1"]
