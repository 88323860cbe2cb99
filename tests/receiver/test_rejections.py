"""Auth, limits and malformed input: exact status codes and error bodies; nothing stored."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from callhook.receiver import AuthMode, ReceiverConfig, create_app
from callhook.store import Store, metadata
from tests.calls import make_call

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}
BODY = make_call("R1", 2)[3].body
SIGNING = "whsec_" + base64.b64encode(b"k" * 24).decode()
OLD_SIGNING = "whsec_" + base64.b64encode(b"o" * 24).decode()


async def stored_rows(store: Store) -> int:
    total = 0
    for name in ("calls", "messages", "arrivals", "unattributed"):
        table = metadata.tables[name]
        query = select(func.count()).select_from(table)
        total += await store.read(lambda c, q=query: c.execute(q).scalar_one())
    return total


def client_for(store: Store, **settings: object) -> httpx.AsyncClient:
    config = ReceiverConfig(database_url=store.url, **settings)  # type: ignore[arg-type]
    app = create_app(config, store=store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")


@pytest_asyncio.fixture
async def secret_client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(store, auth=AuthMode.SECRET, secrets=("s3cret", "next")) as c:
        yield c


@pytest_asyncio.fixture
async def signed_client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(
        store, auth=AuthMode.STANDARD_WEBHOOKS, secrets=(SIGNING, OLD_SIGNING)
    ) as c:
        yield c


def error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "path"}
    assert body["error"]["code"] == code
    detail: dict[str, object] = body["error"]
    return detail


@pytest.mark.parametrize(
    "name", ["x-interactly-secret", "X-INTERACTLY.AI-SECRET", "X-Interactly-Secret"]
)
async def test_the_shared_secret_is_accepted_in_either_header_any_case(
    secret_client: httpx.AsyncClient, name: str
) -> None:
    response = await secret_client.post("/webhook", content=BODY, headers={**JSON, name: "next"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "Missing the x-interactly-secret"), ({"x-interactly-secret": "nope"}, "does not match")],
)
async def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(
    store: Store, secret_client: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    response = await secret_client.post("/webhook", content=BODY, headers={**JSON, **headers})
    assert reason in str(error(response, 401, "unauthorized")["message"])
    assert await stored_rows(store) == 0


def signed(secret: str, body: bytes, at: datetime, extra: str = "") -> dict[str, str]:
    signature = Webhook(secret).sign("msg_1", at, body.decode())
    return {
        **JSON,
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": f"{extra} {signature}".strip(),
    }


async def test_standard_webhooks_signatures_verify_with_rotation(
    signed_client: httpx.AsyncClient,
) -> None:
    now = datetime.now(tz=UTC)
    for secret in (SIGNING, OLD_SIGNING):
        headers = signed(secret, BODY, now, extra="v1,AAAA")
        response = await signed_client.post("/webhook", content=BODY, headers=headers)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("stale", "too old"),
        ("wrong-secret", "No matching signature"),
        ("tampered", "No matching signature"),
        ("missing", "Missing the webhook-signature"),
        ("garbage", "Malformed"),
    ],
)
async def test_bad_signatures_are_401_and_store_nothing(
    store: Store, signed_client: httpx.AsyncClient, case: str, reason: str
) -> None:
    now = datetime.now(tz=UTC)
    headers = signed(SIGNING, BODY, now)
    body = BODY
    if case == "stale":
        headers = signed(SIGNING, BODY, now - timedelta(minutes=6))
    elif case == "wrong-secret":
        headers = signed("whsec_" + base64.b64encode(b"x" * 24).decode(), BODY, now)
    elif case == "tampered":
        body = BODY.replace(b"R1", b"R2")
    elif case == "missing":
        del headers["webhook-signature"]
    elif case == "garbage":
        headers["webhook-signature"] = "garbage"
    response = await signed_client.post("/webhook", content=body, headers=headers)
    assert reason in str(error(response, 401, "unauthorized")["message"])
    assert await stored_rows(store) == 0


async def test_a_body_over_the_limit_is_413(store: Store) -> None:
    async with client_for(store, max_body_bytes=2048) as client:
        big = b'{"message": {"type": "hang", "pad": "' + b"x" * 4096 + b'"}}'
        response = await client.post("/webhook", content=big, headers=JSON)
        error(response, 413, "payload_too_large")

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * 1024

        chunked = await client.post("/webhook", content=stream(), headers=JSON)
        error(chunked, 413, "payload_too_large")
    assert await stored_rows(store) == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_non_json_content_type_is_415(
    store: Store, client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/webhook", content=BODY, headers=headers)
    error(response, 415, "unsupported_media_type")
    assert await stored_rows(store) == 0


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        (b"{not json", 400, "invalid_json", "$"),
        (b"", 400, "invalid_json", "$"),
        (b'{"message": {"type": "nope"}}', 422, "invalid_event", "$.message.type"),
        (
            b'{"message": {"type": "hang", "call": {"id": 5}}}',
            422,
            "invalid_event",
            "$.message.call.id",
        ),
        (
            b'{"message": {"type": "hang", "call": {"id": "C"}, "messages": [{"role": "user"}]}}',
            422,
            "invalid_event",
            "$.message.messages[0]",
        ),
        (
            b'{"message": {"type": "error", "call": {"id": "C"}, "error": {"retryable": "no"}}}',
            422,
            "invalid_event",
            "$.message.error.retryable",
        ),
        (
            b'{"message": {"type": "conversation-update", "call": {"id": "C"}, "messages": '
            b'[{"messageId": "user-1", "timestamp": "soon"}]}}',
            422,
            "invalid_event",
            "$.message.messages[0].timestamp",
        ),
        (
            b'{"message": {"type": "hang", "call": {"id": "C", "metadata": '
            + b'{"a":' * 80
            + b"1"
            + b"}" * 80
            + b"}}}",
            400,
            "too_deep",
            "$.message.call",
        ),
        (
            b'{"message": {"type": "hang", "call": {"id": "C"}, "messages": [{"messageId": "u",'
            b' "x": ' + b"[" * 70 + b"]" * 70 + b"}]}}",
            400,
            "too_deep",
            "$.message.messages[0]",
        ),
        (
            b'{"message": {"type": "hang", "call": {"id": "C", "metadata": {"a": '
            + b"[" * 5000
            + b"]" * 5000
            + b"}}}}",
            400,
            "too_deep",
            "$",
        ),
    ],
)
async def test_malformed_input_is_4xx_with_the_json_path(
    store: Store, client: httpx.AsyncClient, body: bytes, status: int, code: str, path: str
) -> None:
    response = await client.post("/webhook", content=body, headers=JSON)
    assert error(response, status, code)["path"] == path
    assert await stored_rows(store) == 0


async def test_other_methods_on_the_webhook_are_405(client: httpx.AsyncClient) -> None:
    error(await client.get("/webhook"), 405, "method_not_allowed")
