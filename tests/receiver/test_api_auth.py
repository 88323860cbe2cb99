"""API tokens: the query API, live stream, dashboard and /metrics need one when configured;
the webhook keeps its own auth; /healthz, the API docs and static files stay open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store
from tests.calls import make_call

pytestmark = pytest.mark.asyncio

TOKEN = "tok-0123456789abcdef"
OLD = "old-0123456789abcdef"
JSON = {"content-type": "application/json"}


@pytest_asyncio.fixture
async def guarded(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    config = ReceiverConfig(database_url=store.url, api_tokens=(TOKEN, OLD))
    app = create_app(config, store=store, clock=lambda: 1_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield client


@pytest.mark.parametrize("path", ["/api/calls", "/api/hangs", "/metrics", "/", "/api/alerts"])
async def test_without_a_token_every_data_route_is_401(
    guarded: httpx.AsyncClient, path: str
) -> None:
    response = await guarded.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="callhook"'
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and "Authorization: Bearer" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer nope-0123456789abcdef"}, {"cookie": "callhook_api_token=nope"}],
)
async def test_a_wrong_token_is_401_and_says_so(
    guarded: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await guarded.get("/api/calls", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid API token"


@pytest.mark.parametrize("token", [TOKEN, OLD])  # rotation: every configured token works
async def test_a_bearer_token_opens_the_api(guarded: httpx.AsyncClient, token: str) -> None:
    response = await guarded.get("/api/calls", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"calls": [], "nextCursor": None}


async def test_the_token_in_the_address_sets_a_cookie_the_browser_then_sends(
    guarded: httpx.AsyncClient,
) -> None:
    first = await guarded.get("/", params={"token": TOKEN})
    assert first.status_code == 200 and "text/html" in first.headers["content-type"]
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"callhook_api_token={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # httpx keeps the cookie, as a browser does: later requests need no token of their own.
    again = await guarded.get("/api/calls")
    assert again.status_code == 200


async def test_health_docs_and_static_files_stay_open(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/healthz")).status_code == 200
    assert (await guarded.get("/openapi.json")).status_code == 200
    assert (await guarded.get("/docs")).status_code == 200
    assert (await guarded.get("/static/style.css")).status_code == 200


async def test_the_webhook_keeps_its_own_auth_and_needs_no_api_token(
    guarded: httpx.AsyncClient,
) -> None:
    body = make_call("T1", 1)[0].body
    response = await guarded.post("/webhook", content=body, headers=JSON)
    assert response.status_code == 200 and response.json()["outcome"] == "stored"
    listed = await guarded.get("/api/calls", headers={"authorization": f"Bearer {TOKEN}"})
    assert [c["callId"] for c in listed.json()["calls"]] == ["T1"]


async def test_without_tokens_the_api_is_open_on_loopback(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/calls")).status_code == 200
