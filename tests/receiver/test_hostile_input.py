"""Property: whatever JSON arrives, the webhook answers 200, 400 or 422, never a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
TYPES = st.sampled_from(
    ["status-update", "conversation-update", "end-of-call-report", "hang", "error", "other"]
)
MESSAGE = st.fixed_dictionaries(
    {"messageId": TEXT | JSON},
    optional={"role": TEXT | JSON, "timestamp": JSON, "metrics": JSON, "text": TEXT},
)
CALL = st.fixed_dictionaries(
    {"id": TEXT | JSON},
    optional={"status": TEXT | JSON, "assistantId": TEXT | JSON, "cost": JSON, "endAt": JSON},
)
EVENT = st.fixed_dictionaries(
    {"type": TYPES},
    optional={
        "timestamp": JSON,
        "call": CALL | JSON,
        "messages": st.lists(MESSAGE, max_size=4) | JSON,
        "assistant": JSON,
        "analysis": JSON,
        "hang": JSON,
        "error": JSON,
    },
)


@pytest.fixture
def post(db_url: str) -> Iterator[Any]:  # Any: a synchronous poster used by hypothesis
    loop = asyncio.new_event_loop()
    store = Store(db_url)
    loop.run_until_complete(store.__aenter__())
    app = create_app(ReceiverConfig(database_url=db_url), store=store)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")

    def send(body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return loop.run_until_complete(client.post("/webhook", content=body, headers=headers))

    try:
        yield send
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(store.aclose())
        loop.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=EVENT)
def test_no_body_makes_a_server_error(post: Any, event: dict[str, Any]) -> None:
    response = post(msgspec.json.encode({"message": event}))
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message", "path"}
