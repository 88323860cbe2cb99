"""The dashboard's HTTP surface on SQLite and PostgreSQL: the page and its assets, the
metrics series, the filters, list search and listing facts, and the OpenAPI document."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.calls import START, make_call
from tests.dashboard.scenario import ASSISTANTS, scripted_call

HOUR = 3_600_000
_REMOTE = re.compile(
    r"""(src|href)=["']?https?:|from ["']https?:|import\(["']https?:|url\(["']?https?:"""
)


async def _ingest(client: httpx.AsyncClient, bodies: list[bytes]) -> None:
    for body in bodies:
        response = await client.post(
            "/webhook", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_the_page_and_its_assets_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and 'src="/static/js/app.js"' in page.text
    assert not _REMOTE.search(page.text)
    for asset in ("js/app.js", "js/call.js", "js/charts.js", "style.css"):
        response = await client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert not _REMOTE.search(response.text), asset  # nothing loaded from the network


@pytest.mark.asyncio
async def test_latency_series_gives_percentiles_per_bucket(client: httpx.AsyncClient) -> None:
    await _ingest(client, [e.body for e in make_call("c-1", 9, hang=False, error=False)])
    params = {"since": START, "until": START + HOUR, "bucket": 3600}
    llm = (await client.get("/api/metrics/latency", params={**params, "stage": "llm"})).json()
    assert llm["stage"] == "llm" and llm["bucketMs"] == HOUR
    [point] = llm["points"]
    # Four answers with responseLatencyMs 801..804 (nearest rank).
    assert point == {"start": START, "count": 4, "p50": 802.0, "p95": 804.0, "p99": 804.0}
    tts = (await client.get("/api/metrics/latency", params={**params, "stage": "tts"})).json()
    assert tts["points"][0]["count"] == 4 and tts["points"][0]["p99"] == 7.0
    response = (
        await client.get("/api/metrics/latency", params={**params, "stage": "response"})
    ).json()
    # Each answer follows its question by one second in tests/calls.py.
    assert response["points"][0]["p50"] == 1000.0


@pytest.mark.asyncio
async def test_latency_filters_by_provider_and_model(client: httpx.AsyncClient) -> None:
    await _ingest(client, scripted_call("PC-1", START))
    params = {"since": START, "until": START + HOUR, "bucket": 3600, "stage": "llm"}
    dental_provider = ASSISTANTS[0][2]
    hit = await client.get("/api/metrics/latency", params={**params, "provider": dental_provider})
    miss = await client.get("/api/metrics/latency", params={**params, "model": "no-such-model"})
    assert hit.json()["points"][0]["count"] == 4  # four answers; the welcome has no LLM
    assert miss.json()["points"][0]["count"] == 0
    stt = await client.get("/api/metrics/latency", params={**params, "stage": "stt"})
    assert stt.json()["points"][0]["count"] == 5


@pytest.mark.asyncio
async def test_rate_series_counts_calls_with_hangs_and_errors(client: httpx.AsyncClient) -> None:
    await _ingest(client, [e.body for e in make_call("c-1", 5)])
    await _ingest(client, [e.body for e in make_call("c-2", 5, hang=False, error=False)])
    params = {"since": START - HOUR, "until": START + HOUR, "bucket": 3600}
    points = (await client.get("/api/metrics/rates", params=params)).json()["points"]
    assert [p["calls"] for p in points] == [0, 2]
    assert points[0]["hangRate"] is None
    assert points[1] | {"start": 0} == {
        "start": 0,
        "calls": 2,
        "callsWithHang": 1,
        "callsWithError": 1,
        "hangs": 1,
        "errors": 1,
        "hangRate": 0.5,
        "errorRate": 0.5,
    }
    scoped = await client.get("/api/metrics/rates", params={**params, "assistantId": "other"})
    assert scoped.json()["points"][1]["calls"] == 0


@pytest.mark.asyncio
async def test_series_parameters_are_checked(client: httpx.AsyncClient) -> None:
    bad_stage = await client.get("/api/metrics/latency", params={"stage": "gpu"})
    assert bad_stage.status_code == 400
    assert bad_stage.json()["error"]["path"] == "query.stage"
    too_many = await client.get(
        "/api/metrics/rates", params={"since": 0, "until": 10_000_000, "bucket": 1}
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["path"] == "query.bucket"
    backwards = await client.get("/api/metrics/rates", params={"since": 10, "until": 5})
    assert backwards.status_code == 400


@pytest.mark.asyncio
async def test_filters_list_assistants_providers_and_models(client: httpx.AsyncClient) -> None:
    await _ingest(client, scripted_call("PC-1", START))
    filters = (await client.get("/api/metrics/filters")).json()
    assert filters["assistants"] == [{"id": "asst-dental", "name": "Dental front desk"}]
    assert filters["providers"] == ["openai"] and filters["models"] == ["gpt-4o-mini"]


@pytest.mark.asyncio
async def test_calls_list_search_and_listing_facts(client: httpx.AsyncClient) -> None:
    await _ingest(client, scripted_call("PC-1", START))
    await _ingest(client, [e.body for e in make_call("WC_other", 3)])
    found = (await client.get("/api/calls", params={"q": "dr. PATEL"})).json()["calls"]
    assert [c["callId"] for c in found] == ["PC-1"]
    row = found[0]
    assert row["provider"] == "openai" and row["model"] == "gpt-4o-mini"
    assert row["assistantName"] == "Dental front desk" and row["userNumber"] == "+14155550142"
    assert row["durationMs"] > 0 and row["startAt"].endswith("Z")
    by_id = (await client.get("/api/calls", params={"q": "wc_oth"})).json()["calls"]
    assert [c["callId"] for c in by_id] == ["WC_other"]
    wildcard = (await client.get("/api/calls", params={"q": "%"})).json()["calls"]
    assert wildcard == []


@pytest.mark.asyncio
async def test_calls_list_search_finds_transcript_text(client: httpx.AsyncClient) -> None:
    """Words said in the call (and in responses the user interrupted) find it."""
    await _ingest(client, scripted_call("PC-1", START))
    await _ingest(client, [e.body for e in make_call("WC-2", 3)])
    for text in ("WEDNESDAY afternoon", "openings on tuesday"):
        found = (await client.get("/api/calls", params={"q": text})).json()["calls"]
        assert [c["callId"] for c in found] == ["PC-1"], text
    both = (await client.get("/api/calls", params={"q": "question 1"})).json()["calls"]
    assert [c["callId"] for c in both] == ["WC-2"]


@pytest.mark.asyncio
async def test_openapi_documents_the_dashboard_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/metrics/latency",
        "/api/metrics/rates",
        "/api/metrics/filters",
        "/api/stream/stats",
        "/api/overview",
        "/api/live",
    ):
        assert "get" in paths[path]
    assert "text/event-stream" in paths["/api/stream"]["get"]["responses"]["200"]["content"]
    assert any(p["name"] == "q" for p in paths["/api/calls"]["get"]["parameters"])


@pytest.mark.asyncio
async def test_echoed_delivery_secrets_never_reach_the_api(client: httpx.AsyncClient) -> None:
    """assistant.assistantServer's secret and header values are redacted in a call's detail
    (what the dashboard fetches); everything else of the assistant is as sent."""
    server = {
        "enabled": True,
        "url": "https://example.test/events",
        "secret": "s3cret",
        "headers": {"Authorization": "Bearer 69a0087e"},
        "signingSecret": ["whsec_old0ldold", "whsec_new1newnew"],
        "messages": ["hang"],
    }
    assistant = {
        "_id": "a-1",
        "name": "Ava",
        "assistantServer": server,
        "assistantTemperature": 0.2,
    }
    body = {
        "message": {
            "type": "status-update",
            "timestamp": START,
            "assistant": assistant,
            "call": {"id": "c-s", "status": "ongoing", "assistantId": "a-1"},
        }
    }
    await _ingest(client, [json.dumps(body).encode()])
    detail = (await client.get("/api/calls/c-s")).text
    assert "s3cret" not in detail and "69a0087e" not in detail and "whsec_" not in detail
    shown = json.loads(detail)["assistant"]
    assert shown["assistantServer"]["headers"] == {"Authorization": "[REDACTED]"}
    assert shown["assistantServer"]["secret"] == "[REDACTED]"
    assert shown["assistantServer"]["signingSecret"] == ["[REDACTED]", "[REDACTED]"]
    assert shown["assistantServer"]["url"] == server["url"]
    assert shown["assistantTemperature"] == 0.2 and shown["name"] == "Ava"


def _turn(call_id: str, assistant: dict[str, object], llm: dict[str, object]) -> bytes:
    messages = [
        {"messageId": "welcome-1", "role": "assistant", "text": "Hi", "timestamp": START},
        {"messageId": "user-1", "role": "user", "text": "Hello", "timestamp": START + 1000},
        {
            "messageId": "user-1-a",
            "role": "assistant",
            "text": "How can I help?",
            "timestamp": START + 2000,
            "metrics": {"llm": {"responseLatencyMs": 700, **llm}},
        },
    ]
    body = {
        "message": {
            "type": "conversation-update",
            "timestamp": START + 2000,
            "call": {"id": call_id, "assistantId": "asst-x", "status": "ongoing"},
            "assistant": assistant,
            "messages": messages,
        }
    }
    return json.dumps(body).encode()


@pytest.mark.asyncio
async def test_provider_and_model_come_from_the_model_config_or_the_llm_metrics(
    client: httpx.AsyncClient,
) -> None:
    """An assistant without assistantProvider / assistantModel: its model configuration
    object, else the messages' metrics.llm name them (list and call view alike)."""
    bare = {"_id": "asst-x", "name": "Front desk"}
    configured = {**bare, "model": {"provider": "openai", "model": "gpt-4o"}}
    llm = {"provider": "anthropic", "model": "claude-3-5-haiku"}
    await _ingest(
        client,
        [
            _turn("LLM-1", bare, llm),
            _turn("CFG-1", configured, {}),
            _turn("NONE-1", {**bare, "name": "Other"}, {}),
        ],
    )
    listed = {c["callId"]: c for c in (await client.get("/api/calls")).json()["calls"]}
    assert (listed["LLM-1"]["provider"], listed["LLM-1"]["model"]) == (
        "anthropic",
        "claude-3-5-haiku",
    )
    assert (listed["CFG-1"]["provider"], listed["CFG-1"]["model"]) == ("openai", "gpt-4o")
    assert (listed["NONE-1"]["provider"], listed["NONE-1"]["model"]) == (None, None)
    one = (await client.get("/api/calls/LLM-1")).json()
    assert (one["provider"], one["model"]) == ("anthropic", "claude-3-5-haiku")
    filters = (await client.get("/api/metrics/filters")).json()
    assert "openai" in filters["providers"] and "gpt-4o" in filters["models"]
