"""The query API: documents, health, 404s, parameter errors, filters."""

from __future__ import annotations

import httpx
import pytest

from tests.calls import make_call

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


async def test_openapi_lists_every_endpoint(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/webhook",
        "/api/calls",
        "/api/calls/{callId}",
        "/api/calls/{callId}/messages",
        "/api/calls/{callId}/events",
        "/api/hangs",
        "/api/errors",
        "/healthz",
        "/metrics",
    }


async def test_the_docs_page_needs_no_network(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert "http://" not in page.text and "https://" not in page.text


async def test_healthz_checks_the_database(client: httpx.AsyncClient) -> None:
    answer = (await client.get("/healthz")).json()
    assert answer["status"] == "ok"
    assert answer["database"] in ("sqlite", "postgresql")


@pytest.mark.parametrize(
    "path", ["/api/calls/nope", "/api/calls/nope/messages", "/api/calls/nope/events"]
)
async def test_an_unknown_call_is_404_with_the_error_body(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_an_unknown_route_is_404_with_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"hasHang": "maybe"}, "hasHang"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),  # [1, 2, 3]: a cursor of another list
    ],
)
async def test_bad_query_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str], name: str
) -> None:
    response = await client.get("/api/calls", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["path"] == f"query.{name}"


async def test_filters_select_calls(client: httpx.AsyncClient) -> None:
    for call_id, hang, error, assistant in (
        ("F1", True, False, "a1"),
        ("F2", False, True, "a2"),
        ("F3", False, False, "a1"),
    ):
        for event in make_call(call_id, 4, hang=hang, error=error, assistant=assistant):
            assert (await client.post("/webhook", content=event.body, headers=JSON)).is_success

    async def ids(**params: str) -> list[str]:
        calls = (await client.get("/api/calls", params=params)).json()["calls"]
        return sorted(c["callId"] for c in calls)

    assert await ids() == ["F1", "F2", "F3"]
    assert await ids(hasHang="true") == ["F1"]
    assert await ids(hasError="true") == ["F2"]
    assert await ids(hasError="false", hasHang="false") == ["F3"]
    assert await ids(assistantId="a1") == ["F1", "F3"]
    assert await ids(since="2026-03-05T09:21:20Z") == ["F1", "F2", "F3"]
    assert await ids(until="1000") == []
    assert await ids(status="ongoing") == []
    call = (await client.get("/api/calls/F1")).json()
    assert call["assistant"]["name"] == "Test assistant"
    events = (await client.get("/api/calls/F1/events")).json()["events"]
    assert {e["type"] for e in events} == {
        "status-update",
        "conversation-update",
        "hang",
        "end-of-call-report",
    }
