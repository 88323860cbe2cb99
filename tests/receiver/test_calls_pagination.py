"""Paging through ``/api/calls`` shows each call once, whatever arrives between pages.

The list used to page on the calls' first event timestamp, which a late, older event (a
retried ``initiated``) lowers: the call then showed up again on a later page. It now pages on
the order in which the receiver first heard of each call, which never changes.
"""

from __future__ import annotations

import httpx
import msgspec
import pytest

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


async def post(client: httpx.AsyncClient, call_id: str, ts: int, status: str) -> None:
    body = msgspec.json.encode(
        {
            "message": {
                "type": "status-update",
                "timestamp": ts,
                "call": {"id": call_id, "status": status},
            }
        }
    )
    response = await client.post("/webhook", content=body, headers=JSON)
    assert response.status_code == 200, response.text


async def pages(client: httpx.AsyncClient, limit: int, between: object = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        url = f"/api/calls?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url)).json()
        seen += [c["callId"] for c in page["calls"]]
        if between is not None:
            await between()  # type: ignore[operator]
            between = None
        cursor = page["nextCursor"]
        if cursor is None:
            return seen


async def test_a_late_older_event_does_not_repeat_a_call(client: httpx.AsyncClient) -> None:
    for n, ts in enumerate((3_000, 2_000, 1_000)):
        await post(client, f"call-{n}", ts, "ongoing")

    async def late_initiated() -> None:
        for n in range(3):  # every call's first timestamp becomes the oldest
            await post(client, f"call-{n}", 10 - n, "initiated")

    seen = await pages(client, 1, late_initiated)
    assert sorted(seen) == ["call-0", "call-1", "call-2"]
    assert seen == ["call-2", "call-1", "call-0"]  # newest first heard of first


async def test_calls_created_between_pages_are_not_repeated(client: httpx.AsyncClient) -> None:
    for n in range(5):
        await post(client, f"old-{n}", 1_000 + n, "ongoing")

    async def newer() -> None:
        await post(client, "new", 5, "ongoing")

    seen = await pages(client, 2, newer)
    assert seen == ["old-4", "old-3", "old-2", "old-1", "old-0"]
