"""POST /webhook: every sample payload is accepted, stored once, and queryable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from callhook.store import parse_event
from tests.calls import make_call
from tests.conftest import sample_files, sample_params

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("path", sample_params())
async def test_every_sample_ingests_and_is_queryable(client: httpx.AsyncClient, path: Path) -> None:
    body = path.read_bytes()  # noqa: ASYNC240  (a small local sample file)
    response = await client.post("/webhook", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    call_id = parse_event(body, received_at=0).call_id
    if call_id is None:
        assert answer["outcome"] == "unattributed"
        listed = (await client.get("/api/unattributed")).json()["events"]
        assert [e["type"] for e in listed] == ["conversation-update"]
        assert listed[0]["body"]["message"]["type"] == "conversation-update"
        return
    assert answer == {
        "outcome": "stored",
        "callId": call_id,
        "newMessages": answer["newMessages"],
        "late": False,
    }
    call = (await client.get(f"/api/calls/{call_id}")).json()
    assert call["callId"] == call_id
    messages = (await client.get(f"/api/calls/{call_id}/messages")).json()["messages"]
    assert len(messages) == answer["newMessages"]
    events = (await client.get(f"/api/calls/{call_id}/events")).json()["events"]
    assert len(events) == 1
    again = await client.post("/webhook", content=body, headers=JSON)
    assert again.json()["outcome"] == "duplicate"


async def test_all_samples_together_make_one_call(client: httpx.AsyncClient) -> None:
    for path in sample_files():
        response = await client.post("/webhook", content=path.read_bytes(), headers=JSON)
        assert response.status_code == 200
    calls = (await client.get("/api/calls")).json()["calls"]
    assert len(calls) == 1
    call = (await client.get(f"/api/calls/{calls[0]['callId']}")).json()
    assert call["status"] == "finished"
    assert call["hangCount"] == 1 and call["errorCount"] >= 2
    assert call["analysis"]["successEvaluation"]
    assert call["cost"]["totalCost"] > 0
    assert call["assistant"]["_id"] == call["assistantId"]


async def test_a_generated_call_is_stored_with_metrics(client: httpx.AsyncClient) -> None:
    for event in make_call("G1", 6):
        response = await client.post("/webhook", content=event.body, headers=JSON)
        assert response.status_code == 200
    page = (await client.get("/api/calls/G1/messages", params={"limit": 4})).json()
    assert [m["messageId"] for m in page["messages"]][:2] == ["welcome-1", "user-1"]
    assert page["messages"][1]["metrics"]["stt"]["confidence"] == 0.9
    assert page["messages"][1]["skippedAssistantMessages"] == []
    rest = (
        await client.get("/api/calls/G1/messages", params={"cursor": page["nextCursor"]})
    ).json()
    assert len(page["messages"]) + len(rest["messages"]) == 6
    assert rest["nextCursor"] is None
    hangs = (await client.get("/api/hangs", params={"callId": "G1"})).json()["hangs"]
    assert hangs[0]["waitedMs"] == 5100
    errors = (await client.get("/api/errors", params={"provider": "openai"})).json()["errors"]
    assert errors[0]["code"] == "rate_limit_exceeded"
    finished = (await client.get("/api/calls", params={"status": "finished"})).json()["calls"]
    assert [c["callId"] for c in finished] == ["G1"]
    metrics = (await client.get("/metrics")).text
    assert 'callhook_events_total{outcome="stored",type="conversation-update"} 6.0' in metrics
    assert "callhook_ingest_seconds_bucket" in metrics
