"""``POST /webhook/vapi`` and ``POST /webhook/retell`` on SQLite and PostgreSQL: each
platform's authentication, every sample read back through the query API, re-sends as
duplicates, the platform filter, and the monitor firing on their hangs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from callhook.monitor import load_config as load_monitor_config
from callhook.platforms import sign_retell, sign_vapi_hmac
from callhook.receiver import PlatformEndpoint, ReceiverConfig, create_app
from callhook.redaction import RedactionConfig
from callhook.store import Store
from tests.governance import scan
from tests.platforms.samples import sample, sample_names

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}
NOW = 1_764_666_100_000
VAPI_CALL = "3f1c2a7e-5b8d-4e21-9c4a-7d2e9b1f0a55"
RETELL_CALL = "call_6b1f0c2e9d8a47b3a5c4e2f1d0b9a8c7"


def _config(url: str, **changes: Any) -> ReceiverConfig:
    settings: dict[str, Any] = {  # Any: ReceiverConfig fields
        "vapi": PlatformEndpoint("/webhook/vapi", tokens=("vapi-token",), hmac_secrets=("vapi-h",)),
        "retell": PlatformEndpoint("/webhook/retell", tokens=("key_live",)),
        **changes,
    }
    return ReceiverConfig(database_url=url, **settings)


@contextlib.asynccontextmanager
async def _client(store: Store, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_config(store.url, **changes), store=store, clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        yield client


def _retell_headers(body: bytes, key: str = "key_live", at: int = NOW) -> dict[str, str]:
    return {**JSON, "x-retell-signature": sign_retell(body, key, at)}


def _vapi_headers(body: bytes, secret: str = "vapi-h", at: int = NOW // 1000) -> dict[str, str]:
    stamp = str(at)
    return {**JSON, "x-timestamp": stamp, "x-signature": sign_vapi_hmac(body, secret, stamp)}


# -- authentication --------------------------------------------------------------------------


async def test_retell_accepts_a_correct_signature_and_refuses_the_rest(store: Store) -> None:
    body = sample("retell", "call_started")
    async with _client(store) as client:
        ok = await client.post("/webhook/retell", content=body, headers=_retell_headers(body))
        assert ok.status_code == 200, ok.text
        for headers, reason in (
            (_retell_headers(body, key="key_other"), "does not match"),
            (_retell_headers(body, at=NOW - 301_000), "more than 5 minutes"),
            (JSON, "Missing the x-retell-signature header"),
        ):
            refused = await client.post("/webhook/retell", content=body, headers=headers)
            assert refused.status_code == 401
            assert reason in refused.json()["error"]["message"]
            assert refused.json()["error"]["code"] == "unauthorized"


async def test_vapi_accepts_its_hmac_or_token_and_refuses_the_rest(store: Store) -> None:
    body = sample("vapi", "status-update.queued")
    async with _client(store) as client:
        for headers in (
            _vapi_headers(body),
            {**JSON, "x-vapi-secret": "vapi-token"},
            {**JSON, "authorization": "Bearer vapi-token"},
        ):
            ok = await client.post("/webhook/vapi", content=body, headers=headers)
            assert ok.status_code == 200, ok.text
        for headers, reason in (
            (_vapi_headers(body, secret="guess"), "does not match"),
            (_vapi_headers(body, at=NOW // 1000 - 301), "more than 5 minutes"),
            ({**JSON, "x-vapi-secret": "guess"}, "does not match"),
            (JSON, "Missing the x-vapi-secret header"),
        ):
            refused = await client.post("/webhook/vapi", content=body, headers=headers)
            assert refused.status_code == 401
            assert reason in refused.json()["error"]["message"]


async def test_failed_signatures_are_rate_limited_per_address(store: Store) -> None:
    body = sample("retell", "call_started")
    async with _client(store, auth_failure_limit="2/minute") as client:
        statuses = []
        for _ in range(3):
            wrong = _retell_headers(body, key="guess")
            statuses.append(await client.post("/webhook/retell", content=body, headers=wrong))
        assert [r.status_code for r in statuses] == [401, 401, 429]
        assert int(statuses[-1].headers["retry-after"]) >= 1
        # Now refused before any check, even with the right key, and on Vapi's endpoint too.
        right = await client.post("/webhook/retell", content=body, headers=_retell_headers(body))
        assert right.status_code == 429
        vapi = sample("vapi", "status-update.queued")
        assert (
            await client.post("/webhook/vapi", content=vapi, headers=_vapi_headers(vapi))
        ).status_code == 429


async def test_the_same_limits_and_error_bodies_as_the_webhook(store: Store) -> None:
    async with _client(store, max_body_bytes=2048) as client:
        text = await client.post(
            "/webhook/vapi", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert text.status_code == 415
        big = b'{"message": {"type": "hang", "pad": "' + b"x" * 4096 + b'"}}'
        assert (await client.post("/webhook/vapi", content=big, headers=JSON)).status_code == 413
        bad = b'{"message": {"type": "hang", "call": {"id": 7}}}'
        refused = await client.post(
            "/webhook/vapi", content=bad, headers={**JSON, "x-vapi-secret": "vapi-token"}
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["path"] == "$.message.call.id"
        broken = b"{not json"
        refused = await client.post(
            "/webhook/retell", content=broken, headers=_retell_headers(broken)
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_json")
        wrong = await client.get("/webhook/retell")
        assert wrong.status_code == 405


# -- what is stored ----------------------------------------------------------------------------


async def _post_all(client: httpx.AsyncClient, platform: str) -> list[dict[str, Any]]:
    answers = []
    for name in sample_names(platform):
        body = sample(platform, name)
        headers = _retell_headers(body) if platform == "retell" else _vapi_headers(body)
        response = await client.post(f"/webhook/{platform}", content=body, headers=headers)
        assert response.status_code == 200, (name, response.text)
        answers.append(response.json())
    return answers


async def test_every_vapi_sample_reads_back_with_the_mapped_fields(store: Store) -> None:
    async with _client(store) as client:
        answers = await _post_all(client, "vapi")
        assert {a["outcome"] for a in answers} == {"stored", "ignored"}
        call = (await client.get(f"/api/calls/{VAPI_CALL}")).json()
        assert call["status"] == "finished"
        assert call["call"]["platform"] == "vapi"
        assert call["call"]["callEndTriggerBy"] == "user"
        assert call["call"]["teamId"] == "0b8e7c2d-1f4a-4c3b-8e9d-6a5b4c3d2e1f"
        assert call["hangCount"] == 1
        assert call["analysis"]["summary"].startswith("Dana booked")
        assert call["cost"]["totalCost"] == pytest.approx(0.1135)
        assert call["report"]["metrics"]["callStats"]["turnsStats"]["botResponseTime"] == [
            1250,
            7100,
            900,
        ]
        messages = (await client.get(f"/api/calls/{VAPI_CALL}/messages")).json()["messages"]
        assert [m["role"] for m in messages] == ["assistant", "user"] * 3 + ["assistant"]
        assert messages[1]["text"] == "Hi, I'd like to book a cleaning next week."
        events = (await client.get(f"/api/calls/{VAPI_CALL}/events")).json()["events"]
        report = next(e for e in events if e["type"] == "end-of-call-report")
        assert report["body"]["platform"]["event"]["artifact"]["logUrl"].endswith(".log")
        listed = (await client.get("/api/calls", params={"platform": "vapi"})).json()["calls"]
        assert [(c["callId"], c["platform"]) for c in listed] == [(VAPI_CALL, "vapi")]
        assert listed[0]["provider"] == "openai"


async def test_every_retell_sample_reads_back_with_the_mapped_fields(store: Store) -> None:
    async with _client(store) as client:
        await _post_all(client, "retell")
        call = (await client.get(f"/api/calls/{RETELL_CALL}")).json()
        assert (call["status"], call["call"]["platform"]) == ("finished", "retell")
        assert call["call"]["platformStatus"] == "ended"
        assert call["analysis"]["successEvaluation"] == "true"  # call_analyzed supersedes
        assert call["cost"]["totalCost"] == pytest.approx(0.1119)
        assert call["hangCount"] == 1
        messages = (await client.get(f"/api/calls/{RETELL_CALL}/messages")).json()["messages"]
        assert len(messages) == 7
        assert messages[-1]["text"] == "Take care, goodbye!"
        hangs = (await client.get("/api/hangs", params={"callId": RETELL_CALL})).json()["hangs"]
        assert [(h["pendingMessageId"], h["waitedMs"]) for h in hangs] == [
            ("retell-user-12300", 6180)
        ]


async def test_a_resent_end_is_a_duplicate(store: Store) -> None:
    async with _client(store) as client:
        for platform, name in (("retell", "call_ended"), ("vapi", "end-of-call-report")):
            body = sample(platform, name)
            for expected in ("stored", "duplicate"):
                headers = _retell_headers(body) if platform == "retell" else _vapi_headers(body)
                answer = await client.post(f"/webhook/{platform}", content=body, headers=headers)
                assert answer.json()["outcome"] == expected
        # Vapi presigns URLs per delivery: a re-send differing only there is still a duplicate.
        again = json.loads(sample("vapi", "end-of-call-report"))
        again["message"]["artifact"]["presignedMonoUrl"] += "-retry"
        body = json.dumps(again).encode()
        answer = await client.post("/webhook/vapi", content=body, headers=_vapi_headers(body))
        assert answer.json()["outcome"] == "duplicate"
        call = (await client.get(f"/api/calls/{RETELL_CALL}")).json()
        assert call["duplicateCount"] == 4  # the four events of call_ended, once more


async def test_a_vapi_call_ended_by_an_llm_failure_counts_an_error(store: Store) -> None:
    body = json.loads(sample("vapi", "end-of-call-report"))
    body["message"]["endedReason"] = "pipeline-error-openai-429-exceeded-quota"
    data = json.dumps(body).encode()
    async with _client(store) as client:
        for expected in ("stored", "duplicate"):
            answer = await client.post("/webhook/vapi", content=data, headers=_vapi_headers(data))
            assert answer.json()["outcome"] == expected
        errors = (await client.get("/api/errors", params={"callId": VAPI_CALL})).json()["errors"]
        assert [(e["type"], e["code"], e["provider"]) for e in errors] == [
            ("llm_error", "pipeline-error-openai-429-exceeded-quota", "openai")
        ]
        assert (await client.get(f"/api/calls/{VAPI_CALL}")).json()["errorCount"] == 1


async def test_the_calls_list_filters_by_platform(store: Store) -> None:
    async with _client(store) as client:
        interactly = json.dumps(
            {"message": {"timestamp": NOW, "type": "status-update", "call": {"id": "I-1"}}}
        ).encode()
        assert (await client.post("/webhook", content=interactly, headers=JSON)).status_code == 200
        await _post_all(client, "vapi")
        await _post_all(client, "retell")
        for platform, expected in (
            ("vapi", [VAPI_CALL]),
            ("retell", [RETELL_CALL]),
            ("interactly", ["I-1"]),
            ("other", []),
        ):
            found = (await client.get("/api/calls", params={"platform": platform})).json()
            assert [c["callId"] for c in found["calls"]] == expected, platform
        every = (await client.get("/api/calls")).json()["calls"]
        assert {c["callId"]: c["platform"] for c in every} == {
            "I-1": "interactly",
            VAPI_CALL: "vapi",
            RETELL_CALL: "retell",
        }


async def test_the_openapi_document_lists_the_served_endpoints(store: Store) -> None:
    async with _client(store) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "post" in paths["/webhook/vapi"] and "post" in paths["/webhook/retell"]
        assert "Retell" in paths["/webhook/retell"]["post"]["summary"]
    off = _config(store.url, retell=PlatformEndpoint("/webhook/retell", enabled=False))
    app = create_app(off, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "/webhook/vapi" in paths and "/webhook/retell" not in paths


# -- endpoints that are not served -----------------------------------------------------------


async def test_on_loopback_the_endpoints_serve_without_credentials(store: Store) -> None:
    app = create_app(ReceiverConfig(database_url=store.url), store=store, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://r"
    ) as client:
        body = sample("retell", "call_started")
        assert (await client.post("/webhook/retell", content=body, headers=JSON)).status_code == 200
    disabled = _config(store.url, retell=PlatformEndpoint("/webhook/retell", enabled=False))
    app = create_app(disabled, store=store, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://r"
    ) as client:
        body = sample("retell", "call_started")
        missing = await client.post("/webhook/retell", content=body, headers=JSON)
        assert missing.status_code == 404


# -- the monitor -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "name", "call_id"),
    [("vapi", "hang", VAPI_CALL), ("retell", "call_ended", RETELL_CALL)],
)
async def test_the_monitor_fires_on_their_hangs(
    db_url: str, platform: str, name: str, call_id: str
) -> None:
    monitor = load_monitor_config({"monitor": {"isolation": "inline"}})
    app = create_app(_config(db_url, monitor=monitor), clock=lambda: NOW)
    async with app.other.router.lifespan_context(app.other):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            body = sample(platform, name)
            headers = _retell_headers(body) if platform == "retell" else _vapi_headers(body)
            response = await client.post(f"/webhook/{platform}", content=body, headers=headers)
            assert response.status_code == 200, response.text
            await app.drain_monitor()
            alerts = (await client.get("/api/alerts")).json()["alerts"]
            assert [(a["rule"], a["callId"]) for a in alerts] == [("hang", call_id)]


async def test_with_redaction_on_no_caller_number_is_stored(store: Store) -> None:
    redaction = RedactionConfig(enabled=True, key="k3y-for-the-tests-0123456789")
    async with _client(store, redaction=redaction) as client:
        await _post_all(client, "vapi")
        await _post_all(client, "retell")
        call = (await client.get(f"/api/calls/{RETELL_CALL}")).json()
        assert call["call"]["userNumber"].startswith("hmac:")
    numbers = ["+14155550123", "4155550123", "+12125550147", "2125550147"]
    assert scan(store.url, numbers) == []
