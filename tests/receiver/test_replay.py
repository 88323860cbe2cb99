"""Standard Webhooks: timestamps outside the tolerance are refused; a webhook-id replayed
inside it is a duplicate and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from callhook.receiver import AuthMode
from callhook.store import Store
from tests.calls import make_call
from tests.receiver.test_rejections import SIGNING, client_for, error, stored_rows

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


def signed(body: bytes, webhook_id: str, at: datetime) -> dict[str, str]:
    return {
        **JSON,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(SIGNING).sign(webhook_id, at, body.decode()),
    }


@pytest_asyncio.fixture
async def signed_client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(store, auth=AuthMode.STANDARD_WEBHOOKS, secrets=(SIGNING,)) as c:
        yield c


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_a_timestamp_outside_the_tolerance_is_refused(
    store: Store, signed_client: httpx.AsyncClient, offset: timedelta
) -> None:
    body = make_call("RP-0", 2)[0].body
    headers = signed(body, "msg_stale", datetime.now(UTC) + offset)
    response = await signed_client.post("/webhook", content=body, headers=headers)
    assert "too" in str(error(response, 401, "unauthorized")["message"])  # too old / too new
    assert await stored_rows(store) == 0


async def test_a_replayed_webhook_id_is_a_duplicate_and_changes_nothing(
    signed_client: httpx.AsyncClient,
) -> None:
    events = make_call("RP-1", 4)
    ongoing, finished = events[2], next(e for e in events if b'"finished"' in e.body)
    assert b'"ongoing"' in ongoing.body
    now = datetime.now(UTC)
    first = signed(ongoing.body, "msg_ongoing", now - timedelta(minutes=2))
    answer = await signed_client.post("/webhook", content=ongoing.body, headers=first)
    assert answer.json()["outcome"] != "duplicate"
    later = signed(finished.body, "msg_finished", now - timedelta(minutes=1))
    assert (await signed_client.post("/webhook", content=finished.body, headers=later)).is_success
    before = (await signed_client.get("/api/calls/RP-1")).json()
    # The same signed request again (an attacker's or a network's replay), inside the window,
    # and the sender's own retry of it (same webhook-id, signed again with a new timestamp).
    retry = signed(ongoing.body, "msg_ongoing", now)
    for headers in (first, retry):
        again = await signed_client.post("/webhook", content=ongoing.body, headers=headers)
        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
    after = (await signed_client.get("/api/calls/RP-1")).json()
    assert after["status"] == "finished"
    assert after["statusHistory"] == before["statusHistory"]
    assert after == {**before, "duplicateCount": before["duplicateCount"] + 2}
    page = (await signed_client.get("/api/calls/RP-1/events")).json()["events"]
    assert len(page) == 2
    assert sorted(e.get("duplicates", 0) for e in page) == [0, 2]
