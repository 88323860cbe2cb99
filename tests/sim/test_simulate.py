"""``simulate``: what its deliveries carry, checked at the transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from callhook.delivery import RetryPolicy
from callhook.sim import DELIVERY_TIMEOUT_S, load_profile, simulate
from tests.delivery.conftest import FakeTransport


@pytest.mark.asyncio
async def test_the_echoed_server_states_the_secret_and_timeout_delivery_used(
    tmp_path: Path,
) -> None:
    """Issue 21 item 16: the header carries the secret, the body says ``[REDACTED]``, and
    ``timeoutSeconds`` is the timeout each request was sent with."""
    seen: list[tuple[httpx.Headers, dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers, json.loads(request.content)))
        return httpx.Response(200)

    transport = FakeTransport(answer)

    result = await simulate(
        "http://127.0.0.1:9/webhook",
        load_profile(),
        calls=3,
        outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        seed=3,
        speed=500,
        secret="s3cret",
        policy=RetryPolicy().testing(),
        transport=transport,
        wait_s=30,
    )
    assert result.delivery.delivered == len(seen) > 0
    servers = [
        body["message"]["assistant"]["assistantServer"]
        for _, body in seen
        if "assistantServer" in body["message"]["assistant"]
    ]
    assert servers, "status-updates carry the full assistant"
    for server in servers:
        assert server["secret"] == "[REDACTED]"
        assert server["timeoutSeconds"] == DELIVERY_TIMEOUT_S
        assert server["url"] == "http://127.0.0.1:9/webhook"
    for headers, _ in seen:
        assert headers["x-interactly-secret"] == "s3cret"
    assert set(transport.timeouts) == {DELIVERY_TIMEOUT_S}
