"""Order independence for Vapi and Retell deliveries, on SQLite and PostgreSQL: a simulated
call rendered in each format, posted shuffled and with duplicates, is stored exactly as the
same bodies posted in order store it (issue 19, acceptance)."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from callhook.engine import FakeScheduler
from callhook.events import Envelope, Event
from callhook.sim import (
    CallDriver,
    RetellRenderer,
    VapiRenderer,
    build_assistant,
    load_profile,
    plan_calls,
)

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


class _Rendering:
    """An event sink keeping each call's bodies in the platform's format, in order."""

    def __init__(self, renderer: VapiRenderer | RetellRenderer) -> None:
        self.renderer = renderer
        self.bodies: list[bytes] = []

    def emit(self, envelope: Envelope[Event]) -> None:
        self.bodies += self.renderer.render(envelope)


def _rendered(platform: str, seed: int, calls: int) -> tuple[list[bytes], list[str]]:
    profile = load_profile()
    scheduler = FakeScheduler()
    sink = _Rendering(VapiRenderer() if platform == "vapi" else RetellRenderer())
    assistants = {a.name: build_assistant(a, None) for a in profile.assistants}
    plans = plan_calls(profile, calls, seed)
    for index, plan in enumerate(plans):
        CallDriver(
            plan,
            assistants[plan.assistant.name],
            scheduler=scheduler,
            sink=sink,
            rng=random.Random(f"{seed}/{index}"),
        ).start()
    scheduler.advance(24 * 3600 * 1000)
    return sink.bodies, [p.call_id for p in plans]


async def _stored(client: httpx.AsyncClient, call_id: str, suffix: str) -> dict[str, Any]:
    """What the query API says of one call, with what depends on arrival order left out."""

    async def get(path: str, **params: Any) -> Any:
        response = await client.get(path, params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return response.json()

    detail = await get(f"/api/calls/{call_id}{suffix}")
    for key in ("duplicateCount", "firstTimestamp", "lastTimestamp"):
        detail.pop(key)
    events = (await get(f"/api/calls/{call_id}{suffix}/events"))["events"]
    for event in events:
        # digest: of the bytes, which hold the call id (renamed for the second delivery)
        for key in ("duplicates", "late", "newMessages", "receivedAt", "lastReceivedAt", "digest"):
            event.pop(key)
    stored = {
        "detail": detail,
        "messages": (await get(f"/api/calls/{call_id}{suffix}/messages"))["messages"],
        "events": sorted(events, key=lambda e: (e["timestamp"] or 0, json.dumps(e))),
        "hangs": (await get("/api/hangs", callId=f"{call_id}{suffix}"))["hangs"],
    }
    return json.loads(json.dumps(stored).replace(f"{call_id}{suffix}", call_id))


@pytest.mark.parametrize("platform", ["vapi", "retell"])
@pytest.mark.parametrize("seed", [5, 23])
async def test_shuffled_and_repeated_deliveries_store_what_in_order_ones_do(
    client: httpx.AsyncClient, platform: str, seed: int
) -> None:
    bodies, call_ids = _rendered(platform, seed, calls=3)
    assert len(bodies) > 20
    rng = random.Random(seed)
    again = [b for b in bodies if rng.random() < 0.3]
    shuffled = bodies + again
    rng.shuffle(shuffled)
    for body in bodies:
        response = await client.post(f"/webhook/{platform}", content=body, headers=JSON)
        assert response.status_code == 200, response.text
    for body in shuffled:
        renamed = body
        for call_id in call_ids:
            renamed = renamed.replace(f'"{call_id}"'.encode(), f'"{call_id}-b"'.encode())
        response = await client.post(f"/webhook/{platform}", content=renamed, headers=JSON)
        assert response.status_code == 200, response.text
    duplicates = 0
    for call_id in call_ids:
        in_order = await _stored(client, call_id, "")
        assert in_order["detail"]["call"]["platform"] == platform
        assert await _stored(client, call_id, "-b") == in_order, call_id
        duplicates += (await client.get(f"/api/calls/{call_id}-b")).json()["duplicateCount"]
    assert duplicates >= len(again)  # each repeated body was recognised
