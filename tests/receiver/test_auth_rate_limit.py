"""Failed authentication is rate-limited per client address: 429 with Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from callhook._exceptions import ConfigError
from callhook.receiver import AuthMode, ReceiverConfig, create_app, load_config
from callhook.store import Store
from tests.calls import make_call

TOKEN = "api-token-0123456789abcdef"
SECRET = "shared-secret-for-tests"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {"content-type": "application/json"}


def _client(app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://receiver")


@pytest_asyncio.fixture
async def app_with_secret(store: Store) -> AsyncIterator[object]:
    config = ReceiverConfig(
        database_url=store.url,
        auth=AuthMode.SECRET,
        secrets=(SECRET,),
        api_tokens=(TOKEN,),
        auth_failure_limit="5/minute",
    )
    yield create_app(config, store=store, clock=lambda: 1_000)


@pytest.mark.asyncio
async def test_wrong_secrets_past_the_limit_get_429_even_with_the_right_one(
    app_with_secret: object,
) -> None:
    body = make_call("RL-1", 2)[0].body
    async with _client(app_with_secret, "203.0.113.7") as attacker:
        for n in range(5):
            wrong = await attacker.post(
                "/webhook", content=body, headers={**JSON, "x-interactly-secret": f"guess-{n}"}
            )
            assert wrong.status_code == 401
        refused = await attacker.post(
            "/webhook", content=body, headers={**JSON, "x-interactly-secret": "guess-5"}
        )
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["code"] == "too_many_failures"
        # Over the limit, even the right secret is not checked (a guess cannot be confirmed).
        right = await attacker.post(
            "/webhook", content=body, headers={**JSON, "x-interactly-secret": SECRET}
        )
        assert right.status_code == 429
        # ...and the API tokens are refused from that address too.
        api = await attacker.get("/api/calls", headers={"authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 429
    async with _client(app_with_secret, "198.51.100.2") as sender:  # another address
        ok = await sender.post(
            "/webhook", content=body, headers={**JSON, "x-interactly-secret": SECRET}
        )
        assert ok.status_code == 200


@pytest.mark.asyncio
async def test_wrong_api_tokens_are_limited_and_missing_ones_are_not(
    app_with_secret: object,
) -> None:
    async with _client(app_with_secret, "203.0.113.8") as client:
        for _ in range(10):  # no token at all: a first visit, not a guess
            assert (await client.get("/api/calls")).status_code == 401
        for n in range(5):
            bad = await client.get("/api/calls", headers={"authorization": f"Bearer wrong-{n}"})
            assert bad.status_code == 401
        over = await client.get("/api/calls", params={"token": "wrong-again"})
        assert over.status_code == 429
        assert int(over.headers["retry-after"]) >= 1
        # The open paths stay open.
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.asyncio
async def test_the_address_is_let_in_again_after_the_window(store: Store) -> None:
    config = ReceiverConfig(
        database_url=store.url, api_tokens=(TOKEN,), auth_failure_limit="2/second"
    )
    app = create_app(config, store=store, clock=lambda: 1_000)
    async with _client(app, "203.0.113.9") as client:
        wrong = {"authorization": "Bearer wrong-token"}
        statuses = [(await client.get("/api/calls", headers=wrong)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        right = {"authorization": f"Bearer {TOKEN}"}
        assert (await client.get("/api/calls", headers=right)).status_code == 429
        deadline = time.monotonic() + 5
        status = 429
        while status == 429 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # waiting out a one-second window of wall-clock time
            status = (await client.get("/api/calls", headers=right)).status_code
        assert status == 200


@pytest.mark.asyncio
async def test_bad_signatures_count_and_missing_headers_do_not(store: Store) -> None:
    config = ReceiverConfig(
        database_url=store.url,
        auth=AuthMode.STANDARD_WEBHOOKS,
        secrets=(SIGNING,),
        auth_failure_limit="3/minute",
    )
    app = create_app(config, store=store, clock=lambda: 1_000)
    body = make_call("RL-2", 2)[0].body
    now = int(time.time())
    signed = Webhook(SIGNING).sign("msg_1", datetime.now(UTC), body.decode())
    async with _client(app, "203.0.113.10") as client:
        for _ in range(5):  # no signature headers at all
            assert (await client.post("/webhook", content=body, headers=JSON)).status_code == 401
        forged = {
            **JSON,
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now),
            "webhook-signature": "v1,AAAA",
        }
        codes = [(await client.post("/webhook", content=body, headers=forged)).status_code]
        for _ in range(3):
            codes += [(await client.post("/webhook", content=body, headers=forged)).status_code]
        good = {**forged, "webhook-signature": signed}
        codes += [(await client.post("/webhook", content=body, headers=good)).status_code]
        assert codes == [401, 401, 401, 429, 429]


def test_the_limit_comes_from_the_config_file_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "serve.toml"
    path.write_text('[auth]\nfailure_limit = "10 per hour"\n', encoding="utf-8")
    assert load_config(path, environ={}).auth_failure_limit == "10 per hour"
    assert load_config(environ={}).auth_failure_limit == "30/minute"
    for bad in ("often", "0/minute"):
        path.write_text(f'[auth]\nfailure_limit = "{bad}"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="failure_limit must be a rate"):
            load_config(path, environ={}).check()
