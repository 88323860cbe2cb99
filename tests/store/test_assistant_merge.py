"""A cut-down assistant (the end-of-call report carries only ``{_id, name}``) never replaces
a fuller one the call already has, in any arrival order, and after a restart.

The call shows the most complete assistant its events carried (most top-level keys), the
newest among equally complete ones: a total order, so the result never depends on arrival.
"""

from __future__ import annotations

import itertools

import msgspec
import pytest
from sqlalchemy import Connection

from callhook.store import Store, get_call, list_calls, parse_event
from callhook.store._queries import CallFilter

FULL = {
    "_id": "asst-1",
    "name": "Support",
    "assistantProvider": "openai",
    "assistantModel": "gpt-4o",
    "firstMessage": "Hello!",
    "config": {"speech": {"stt": {"vendor": "deepgram"}}},
}
CUT = {"_id": "asst-1", "name": "Support"}


def event(kind: str, ts: int, assistant: dict[str, object], **extra: object) -> bytes:
    message = {
        "type": kind,
        "timestamp": ts,
        "call": {"id": "C", "assistantId": "asst-1", "status": "ongoing"},
        "assistant": assistant,
        **extra,
    }
    return msgspec.json.encode({"message": message})


EVENTS = [
    event("status-update", 1_000, FULL),
    event("conversation-update", 2_000, FULL, messages=[{"messageId": "welcome-1"}]),
    event("hang", 3_000, FULL, hang={"waitedMs": 5100}),
    event("end-of-call-report", 4_000, CUT, analysis={"summary": "ok"}),
]


async def shown(store: Store) -> tuple[dict[str, object], object, object]:
    def read(connection: Connection) -> tuple[dict[str, object], object, object]:
        call = get_call(connection, "C")
        assert call is not None and call["assistant"] is not None
        listed = list_calls(connection, CallFilter(), None, 10).items[0]
        return msgspec.json.decode(call["assistant"]), listed["provider"], listed["model"]

    return await store.read(read)


@pytest.mark.asyncio
@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
async def test_the_report_s_cut_down_assistant_does_not_replace_the_full_one(
    store: Store, order: tuple[int, ...]
) -> None:
    for n in order:
        await store.ingest(parse_event(EVENTS[n], received_at=n))
    assert await shown(store) == (FULL, "openai", "gpt-4o")


@pytest.mark.asyncio
async def test_after_a_restart_the_fuller_assistant_is_still_known(db_url: str) -> None:
    async with Store(db_url) as store:
        await store.ingest(parse_event(EVENTS[0], received_at=1))
    async with Store(db_url) as store:  # a cold cache: the state comes from the database
        await store.ingest(parse_event(EVENTS[3], received_at=2))
        assert await shown(store) == (FULL, "openai", "gpt-4o")


@pytest.mark.asyncio
async def test_a_newer_equally_complete_assistant_wins(store: Store) -> None:
    changed = {**FULL, "assistantModel": "gpt-4.1"}
    await store.ingest(parse_event(event("status-update", 2_000, changed), received_at=1))
    await store.ingest(parse_event(EVENTS[0], received_at=2))
    assert await shown(store) == (changed, "openai", "gpt-4.1")
