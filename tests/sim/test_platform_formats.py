"""``simulate --format vapi|retell``: simulated calls as the platforms' signed webhooks, to the
real endpoints (a ``callhook serve`` process, or the app in-process with credentials)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from callhook.cli import app
from callhook.platforms import check_retell, check_vapi_hmac
from callhook.receiver import PlatformEndpoint, ReceiverConfig, create_app
from callhook.sim import demo_profile, run_demo, simulate
from callhook.store import Store
from tests.delivery.conftest import FakeTransport


@pytest.mark.parametrize("platform", ["vapi", "retell"])
def test_the_simulate_command_feeds_each_platform_endpoint(receiver: str, platform: str) -> None:
    args = ["simulate", "--to", f"{receiver}/webhook/{platform}", "--format", platform]
    result = CliRunner().invoke(app, [*args, "--calls", "4", "--speed", "200", "--seed", "8"])
    assert result.exit_code == 0, result.output
    assert "dead letters / still pending" in result.stdout and "0 / 0" in result.stdout
    listed = httpx.get(f"{receiver}/api/calls", params={"platform": platform}).json()["calls"]
    assert len(listed) == 4
    assert {c["platform"] for c in listed} == {platform}
    assert all(c["hasReport"] for c in listed)
    assert sum(c["messageCount"] for c in listed) > 10


@pytest.mark.asyncio
@pytest.mark.parametrize("platform", ["vapi", "retell"])
async def test_signed_simulations_pass_the_endpoint_and_a_wrong_key_does_not(
    tmp_path: Path, platform: str
) -> None:
    config = ReceiverConfig(
        database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}",
        vapi=PlatformEndpoint("/webhook/vapi", hmac_secrets=("vapi-hmac",)),
        retell=PlatformEndpoint("/webhook/retell", tokens=("key_live",)),
    )
    secret = "vapi-hmac" if platform == "vapi" else "key_live"
    async with Store(config.database_url) as store:
        transport = FakeTransport.asgi(create_app(config, store=store))
        for key, delivered in ((secret, True), ("wrong", False)):
            result = await simulate(
                f"http://r/webhook/{platform}",
                demo_profile(),
                calls=3,
                outbox_url="",
                seed=4,
                speed=500,
                secret=key,
                format=platform,
                transport=transport,
                wait_s=60,
            )
            stats = result.delivery
            assert stats.pending == 0 and stats.attempts > 0
            if delivered:
                assert (stats.dead, stats.failed_attempts) == (0, 0)
            else:
                # Every body given up: at once on 401, after retries once the receiver's
                # failure limiter answers 429.
                assert stats.delivered == 0 and stats.dead == stats.attempts - stats.retries


def test_each_body_carries_the_platform_signature() -> None:
    """The headers ``PlatformSender`` adds verify with the platform's own check."""
    import asyncio

    bodies: list[tuple[str, bytes, httpx.Headers]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append((request.url.path, request.content, request.headers))
        return httpx.Response(200)

    for platform in ("vapi", "retell"):
        result = asyncio.run(
            simulate(
                f"http://r/webhook/{platform}",
                demo_profile(),
                calls=2,
                outbox_url="",
                seed=1,
                speed=500,
                secret="s3cret",
                format=platform,
                transport=FakeTransport(answer),
            )
        )
        assert result.delivery.delivered > 0
    assert {path for path, _, _ in bodies} == {"/webhook/vapi", "/webhook/retell"}
    for path, body, headers in bodies:
        if path.endswith("/retell"):
            stamp = int(headers["x-retell-signature"].split(",")[0][2:])
            check_retell(body, headers["x-retell-signature"], ["s3cret"], stamp)
            assert json.loads(body)["event"] in {
                "call_started",
                "transcript_updated",
                "call_ended",
                "call_analyzed",
            }
        else:
            stamp_s = int(headers["x-timestamp"])
            check_vapi_hmac(
                body, headers["x-signature"], headers["x-timestamp"], ["s3cret"], stamp_s * 1000
            )
            assert json.loads(body)["message"]["type"] != "error"


@pytest.mark.asyncio
async def test_the_demo_rotates_batches_through_the_three_formats(receiver: str) -> None:
    batches: list[int] = []
    await run_demo(
        receiver,
        demo_profile(),
        calls=9,
        concurrency=1,  # batches of 3 calls
        speed=200,
        seed=2,
        on_batch=lambda result: batches.append(result.delivery.delivered),
        formats=("interactly", "vapi", "retell"),
    )
    assert len(batches) == 3 and all(batches)
    async with httpx.AsyncClient(base_url=receiver) as client:
        for platform in ("interactly", "vapi", "retell"):
            found = (await client.get("/api/calls", params={"platform": platform})).json()
            assert len(found["calls"]) == 3, platform
