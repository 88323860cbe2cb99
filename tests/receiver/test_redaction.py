"""Redaction at the door: with ``[redaction]`` on, seeded personal data never reaches a table,
a log line, an API response or a live (SSE) notice; the caller's calls still group by the
hashed number; re-deliveries are still recognised; signatures still verify."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from callhook.receiver import AuthMode, ReceiverApp, ReceiverConfig, create_app
from callhook.redaction import NumberMode, RedactionConfig, Redactor
from callhook.store import Store
from tests.conftest import sample_params
from tests.governance import marked_events, scan

NUMBER, OTHER = "+14155550172", "+16175550143"
SAID = (
    "My card is 4111 1111 1111 1111 and my SSN is 536-22-8726; write to "
    "jane.roe@example.com or call me on 415-555-0199."
)
#: Every form of the seeded values that must not be stored or shown.
PII = [
    "4111 1111 1111 1111",
    "4111111111111111",
    "536-22-8726",
    "jane.roe@example.com",
    "415-555-0199",
    "4155550199",
    NUMBER,
    "4155550172",
    OTHER,
]
KEY = "k3y-for-the-tests-0123456789"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def redacting(store: Store, **config: object) -> ReceiverApp:
    redaction = RedactionConfig(enabled=True, key=KEY, **config)  # type: ignore[arg-type]
    return create_app(
        ReceiverConfig(database_url=store.url, redaction=redaction), store=store, clock=lambda: 1
    )


@pytest_asyncio.fixture
async def app(store: Store) -> ReceiverApp:
    return redacting(store)


def http(app: ReceiverApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://receiver",
        headers={"content-type": "application/json"},
    )


@pytest_asyncio.fixture
async def client(app: ReceiverApp) -> AsyncIterator[httpx.AsyncClient]:
    async with http(app) as opened:
        yield opened


async def post_call(client: httpx.AsyncClient, call_id: str, number: str) -> None:
    for body in marked_events(call_id, number=number, marker=f"M-{call_id}", text=SAID):
        response = await client.post("/webhook", content=body)
        assert response.status_code == 200, response.text


async def everything_shown(client: httpx.AsyncClient, call_ids: list[str]) -> str:
    """The text of every API response about the calls."""
    pages = ["/api/calls", "/api/hangs", "/api/errors", "/api/unattributed"]
    for call_id in call_ids:
        pages += [f"/api/calls/{call_id}{tail}" for tail in ("", "/messages", "/events")]
    texts = []
    for page in pages:
        response = await client.get(page)
        assert response.status_code == 200, page
        texts.append(response.text)
    return "\n".join(texts)


@pytest.mark.asyncio
async def test_seeded_pii_is_nowhere_when_redaction_is_on(
    app: ReceiverApp, client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    live = app.live.subscribe()
    await post_call(client, "call-r-1", NUMBER)
    notices = []
    while not live.queue.empty():
        notices.append(live.queue.get_nowait())
    assert len(notices) > 5
    shown = await everything_shown(client, ["call-r-1"])
    streamed = "\n".join(n.decode() if isinstance(n, bytes) else n for n in notices)
    for place, text in (("API", shown), ("SSE", streamed), ("log", caplog.text)):
        assert [p for p in PII if p in text] == [], place
    assert scan(store.url, PII) == []
    # Scrubbed, not dropped: the transcript says what was there.
    assert "<CREDIT_CARD>" in shown and "<US_SSN>" in shown
    assert "<EMAIL_ADDRESS>" in shown and "<PHONE_NUMBER>" in shown
    assert "M-call-r-1" in shown


@pytest.mark.asyncio
async def test_the_scan_finds_the_same_pii_when_redaction_is_off(store: Store) -> None:
    """The control for the test above: without redaction every seeded value is stored."""
    plain = create_app(ReceiverConfig(database_url=store.url), store=store, clock=lambda: 1)
    async with http(plain) as client:
        await post_call(client, "call-plain", NUMBER)
    found = {hit.split(": ", 1)[1] for hit in scan(store.url, PII)}
    assert {"4111 1111 1111 1111", "536-22-8726", "jane.roe@example.com", NUMBER} <= found


@pytest.mark.asyncio
async def test_a_callers_calls_group_by_the_hashed_number(client: httpx.AsyncClient) -> None:
    await post_call(client, "call-g-1", NUMBER)
    await post_call(client, "call-g-2", NUMBER)
    await post_call(client, "call-g-3", OTHER)
    stored = {}
    for call_id in ("call-g-1", "call-g-2", "call-g-3"):
        call = (await client.get(f"/api/calls/{call_id}")).json()
        stored[call_id] = call["call"]["userNumber"]
    assert stored["call-g-1"] == stored["call-g-2"] != stored["call-g-3"]
    assert stored["call-g-1"].startswith("hmac:")
    assert stored["call-g-1"] == Redactor(RedactionConfig(enabled=True, key=KEY)).number(
        "+1 (415) 555-0172"
    )
    found = (await client.get("/api/calls", params={"q": stored["call-g-1"]})).json()
    assert sorted(c["callId"] for c in found["calls"]) == ["call-g-1", "call-g-2"]


@pytest.mark.asyncio
async def test_a_redelivered_event_is_still_a_duplicate(client: httpx.AsyncClient) -> None:
    body = marked_events("call-d-1", number=NUMBER, marker="m", text=SAID)[4]
    first = (await client.post("/webhook", content=body)).json()
    again = (await client.post("/webhook", content=body)).json()
    assert first["outcome"] == "stored" and again["outcome"] == "duplicate"


@pytest.mark.asyncio
async def test_masked_numbers_keep_only_the_last_four_digits(store: Store) -> None:
    app = redacting(store, numbers=NumberMode.MASK)
    async with http(app) as client:
        await post_call(client, "call-m-1", NUMBER)
        call = (await client.get("/api/calls/call-m-1")).json()
    assert call["call"]["userNumber"] == "+*******0172"
    assert scan(store.url, [NUMBER, "4155550172"]) == []


@pytest.mark.asyncio
async def test_signatures_are_checked_on_the_body_as_sent(store: Store) -> None:
    """Authentication runs before redaction: the signature covers the received bytes."""
    config = ReceiverConfig(
        database_url=store.url,
        auth=AuthMode.STANDARD_WEBHOOKS,
        secrets=(SIGNING,),
        redaction=RedactionConfig(enabled=True, key=KEY),
    )
    app = create_app(config, store=store)
    body = marked_events("call-s-1", number=NUMBER, marker="m", text=SAID)[4]
    import datetime

    now = datetime.datetime.now(tz=datetime.UTC)
    signature = Webhook(SIGNING).sign("msg_1", now, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    async with http(app) as client:
        response = await client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert scan(store.url, ["536-22-8726"]) == []


@pytest.mark.asyncio
async def test_bad_input_gets_the_same_answer_as_without_redaction(
    client: httpx.AsyncClient, store: Store
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    bad_bodies = [
        b"{not json",
        b'{"message": {"type": "conversation-update", "call": {"id": 5}}}',
        b'{"message": {"type": "status-update", "call": {"id": "x", "metadata": ' + deep + b"}}}",
        b'{"message": [1, 2]}',
        b"[1, 2]",
    ]
    plain = create_app(ReceiverConfig(database_url=store.url), store=store, clock=lambda: 1)
    async with http(plain) as without:
        for body in bad_bodies:
            answer = await client.post("/webhook", content=body)
            expected = await without.post("/webhook", content=body)
            assert 400 <= answer.status_code < 500
            assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())


def seeded(sample: Path) -> bytes:
    """A sample payload with the seeded values in its call, customer, transcript (a user
    message added when it has none), analysis and dynamic variables."""
    envelope = json.loads(sample.read_text())
    message = envelope["message"]
    call = message.get("call")
    if isinstance(call, dict):
        call["userNumber"] = NUMBER
        call.setdefault("assistantOverrides", {})["dynamicVariables"] = {"phone": OTHER}
    message["customer"] = {"number": NUMBER}
    if "messages" in message:
        message["messages"] = [
            *message["messages"],
            {"messageId": "user-99", "role": "user", "text": SAID, "timestamp": 1},
        ]
    if message["type"] == "end-of-call-report":
        message["analysis"] = {"summary": SAID, "structuredData": {"contact": SAID}}
    return json.dumps(envelope).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("sample", sample_params())
async def test_no_sample_payload_leaks_its_seeded_pii(
    sample: Path, client: httpx.AsyncClient, app: ReceiverApp, store: Store
) -> None:
    """Data-driven over the repository's samples: whatever the event type and shape."""
    live = app.live.subscribe()
    response = await client.post("/webhook", content=seeded(sample))
    assert response.status_code == 200, response.text
    call_id = response.json()["callId"]
    shown = await everything_shown(client, [call_id] if call_id else [])
    streamed = [live.queue.get_nowait() for _ in range(live.queue.qsize())]
    text = shown + "\n".join(n.decode() if isinstance(n, bytes) else n for n in streamed)
    assert [p for p in PII if p in text] == []
    assert scan(store.url, PII) == []


def test_the_redactor_keeps_what_is_not_personal() -> None:
    redactor = Redactor(RedactionConfig(enabled=True, key=KEY))
    said = "Book me for 10:30 on the 5th, room 12. Fake SSN 123-45-6789."
    assert redactor.text(said) == said
    assert redactor.number(redactor.number(NUMBER)) == redactor.number(NUMBER)
    assert redactor.body(b"[1, 2]") == b"[1, 2]"
