"""The relay end to end: a real ``callhook serve`` relays what it stores to two real apps.

One app is flaky (503s and dropped connections, before and after it read the request) and
signs are checked (``signing_secret``); it takes every event as received. The other is not
listening for its first 10 s, takes three event types, and ``messages = "new"``. Into serve go
the repository's samples and simulated calls, each call's events one after the other; every
event serve acknowledged as stored reaches each app that wants it, once per ``webhook-id``,
in the acknowledged order per call, and the cut conversation-updates rebuild each call's
conversation. A re-posted event queues nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import database_url
from tests.relay.apps import Arrival, TargetApp
from tests.relay.checks import check_exactly_once, check_order, missing, summary
from tests.relay.serving import (
    Ack,
    Poster,
    failed_connects,
    outbox_rows,
    outbox_states,
    sample_bodies,
    serving,
    simulated_calls,
    wait_until,
)

pytestmark = pytest.mark.asyncio

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: What the late app subscribes to (no hang, no error: their messages reach it through the
#: conversation-updates only).
LATE_EVENTS = ("status-update", "conversation-update", "end-of-call-report")
CONVERSATION = "conversation-update"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def write_config(path: Path, db_url: str, flaky: TargetApp, late: TargetApp) -> Path:
    path.write_text(
        f"[database]\nurl = {json.dumps(db_url)}\n\n"
        f'[[forward]]\nname = "flaky"\nurl = "{flaky.url}"\nsigning_secret = "{SECRET}"\n'
        "timeout_seconds = 5.0\n\n"
        f'[[forward]]\nname = "late"\nurl = "{late.url}"\nmessages = "new"\n'
        f"events = {json.dumps(list(LATE_EVENTS))}\ntimeout_seconds = 5.0\n"
    )
    return path


def stripped(body: bytes) -> tuple[str, list[Any]]:  # Any: JSON values
    """A body without its messages (canonical JSON), and the messages."""
    document = json.loads(body)
    messages = document["message"].pop("messages", None) or []
    return json.dumps(document, sort_keys=True), messages


class CutMatcher:
    """Finds the posted event a ``messages = "new"`` arrival was cut from."""

    def __init__(self, expected: list[Ack]) -> None:
        self.bodies = {a.body for a in expected}
        self.cut: dict[str, list[tuple[bytes, list[Any]]]] = {}  # Any: JSON values
        for ack in expected:
            if ack.type == CONVERSATION:
                key, messages = stripped(ack.body)
                self.cut.setdefault(key, []).append((ack.body, messages))

    def __call__(self, arrival: Arrival) -> bytes | None:
        assert arrival.body is not None
        if arrival.headers.get("x-callhook-messages") != "new":
            return arrival.body if arrival.body in self.bodies else None
        key, messages = stripped(arrival.body)
        for body, posted in self.cut.get(key, []):
            if all(m in posted for m in messages):
                return body
        return None


def check_rebuilt(
    late: TargetApp,
    expected: list[Ack],
    ids: dict[bytes, str],
    call_ids: Collection[str],
    *,
    as_last_posted: bool = True,
) -> None:
    """Each of ``call_ids``' cut conversation-updates, in delivery order, hold the messages of
    the last full conversation-update serve stored, each once and in order; with
    ``as_last_posted``, each message as that update holds it (a message is sent once, as it
    first arrived: a call whose messages change afterwards is checked by id only)."""
    first = late.first_arrivals()
    calls: dict[str, list[Ack]] = {call_id: [] for call_id in call_ids}
    for ack in expected:
        if ack.type == CONVERSATION and ack.call_id is not None and ack.call_id in calls:
            calls[ack.call_id].append(ack)
    for call_id, acks in calls.items():
        assert acks, f"call {call_id}: no conversation-update was stored"
        arrivals = sorted((first[ids[a.body]] for a in acks), key=lambda a: a.order)
        assert all(a.headers.get("x-callhook-messages") == "new" for a in arrivals), call_id
        rebuilt = [m for a in arrivals for m in stripped(late_body(a))[1]]
        full = stripped(acks[-1].body)[1]
        assert [m["messageId"] for m in rebuilt] == [m["messageId"] for m in full], (
            f"call {call_id}: the cut conversation-updates do not rebuild the conversation"
        )
        if as_last_posted:
            assert rebuilt == full, f"call {call_id}: a message differs from the one posted"


def late_body(arrival: Arrival) -> bytes:
    assert arrival.body is not None
    return arrival.body


async def post_everything(poster: Poster, calls: dict[str, list[bytes]]) -> None:
    """The samples, then the simulated calls (concurrently, each call in order)."""
    async with httpx.AsyncClient(timeout=60) as client:
        await poster.post_in_order(client, sample_bodies())
        await asyncio.gather(*(poster.post_in_order(client, b) for b in calls.values()))


async def test_stored_events_reach_a_flaky_and_a_late_app_once_in_order(
    db_url: str, tmp_path: Path
) -> None:
    calls = await simulated_calls(10, seed=18)
    async with (
        TargetApp(signing_secret=SECRET, flaky_seed=18) as flaky,
        TargetApp(late_seconds=10.0) as late,
    ):
        config = write_config(tmp_path / "callhook.toml", db_url, flaky, late)
        with serving(config, tmp_path / "serve.log") as (_, base):
            poster = Poster(base)
            await post_everything(poster, calls)
            stored = poster.stored()
            for_late = [a for a in stored if a.type in LATE_EVENTS]
            assert len(stored) >= 100 and len(for_late) >= 80  # samples and simulated calls
            # Every stored event has its outbox rows, one per target that wants it.
            rows = outbox_rows(db_url)
            assert rows == {flaky.url: len(stored), late.url: len(for_late)}
            # A re-posted event is a duplicate: it queues nothing.
            async with httpx.AsyncClient(timeout=60) as client:
                again = [await poster.post(client, a.body) for a in stored[::25]]
            assert {a.outcome for a in again} == {"duplicate"}
            assert outbox_rows(db_url) == rows
            cut = CutMatcher(for_late)
            await wait_until(
                lambda: not missing(flaky, stored) and not missing(late, for_late, cut),
                lambda: f"{summary(flaky, stored)}; {summary(late, for_late, cut)}",
            )
            # serve records each answer: every row ends delivered, none dead.
            await wait_until(
                lambda: (
                    set(outbox_states(db_url))
                    == {(flaky.url, "delivered"), (late.url, "delivered")}
                ),
                lambda: f"outbox rows by target and status: {outbox_states(db_url)}",
            )
            # The late app's outage was felt: serve's first attempts to it were refused.
            assert failed_connects(db_url, late.url) > 0
    # The flaky app: every event once per webhook-id, as posted, in order; duplicates came.
    ids = check_exactly_once(flaky, stored)
    check_order(flaky, stored, ids)
    assert any(a.status is None and a.body is not None for a in flaky.arrivals)
    assert any(a.status == 503 for a in flaky.arrivals)
    assert len({a.webhook_id for a in flaky.arrivals}) < len(flaky.arrivals)
    # The late app: once it listened, its events once each, in order.
    late_ids = check_exactly_once(late, for_late, match=CutMatcher(for_late))
    check_order(late, for_late, late_ids)
    for arrival in late.arrivals:
        if arrival.body is not None:  # cut to the new messages: conversation-updates only
            kind = json.loads(arrival.body)["message"]["type"]
            assert (arrival.headers.get("x-callhook-messages") == "new") == (kind == CONVERSATION)
    # The simulated calls; and the samples' call, whose user-1 first comes in a hang (which
    # the late app does not take): the next conversation-update carries it. The samples'
    # later updates add metrics to messages already sent, so that call is checked by id.
    check_rebuilt(late, for_late, late_ids, calls)
    sample_calls = {
        message["call"]["id"]
        for message in (json.loads(b)["message"] for b in sample_bodies())
        if message["type"] == CONVERSATION and message.get("call")
    }
    assert sample_calls
    check_rebuilt(late, for_late, late_ids, sample_calls, as_last_posted=False)
