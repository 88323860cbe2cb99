"""Property: any byte string posted to ``/webhook`` is answered 2xx or 4xx, never 5xx, and
never changes the answer of another request committed with it (the same group commit).

The bodies are random bytes, valid events with bytes inserted or replaced anywhere (bytes
that are not UTF-8, NUL and surrogate escapes, quotes, backslashes), and events whose
strings hold such escapes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store

JSON = {"content-type": "application/json"}
_ids = itertools.count()

TEMPLATES = [
    b'{"message": {"type": "conversation-update", "timestamp": 2, "call": {"id": "h", '
    b'"status": "ongoing", "assistantId": "a", "extra": {"k": "v"}}, "messages": '
    b'[{"messageId": "m-1", "role": "user", "text": "hi", "timestamp": 2}], '
    b'"assistant": {"_id": "a", "name": "n", "assistantModel": "m"}}}',
    b'{"message": {"type": "hang", "timestamp": 3, "call": {"id": "h"}, '
    b'"hang": {"pendingMessageId": "m-1", "waitedMs": 5100, "stage": "llm"}}}',
    b'{"message": {"type": "error", "timestamp": 4, "call": {"id": "h"}, '
    b'"error": {"type": "t", "code": "c", "provider": "p", "details": {"x": 1}}}}',
    b'{"message": {"type": "end-of-call-report", "timestamp": 5, "call": {"id": "h", '
    b'"cost": {"total": 1}}, "analysis": {"summary": "s"}}}',
    b'{"message": {"type": "status-update", "timestamp": 1, "note": "no call"}}',
]
NASTY = st.sampled_from(
    [
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
        b"\x00",
        b"\\u0000",
        b"\\ud800",
        b"\\udfff",
        b"\\ud83d\\ude00",
        b"\\",
        b'"',
        b"{",
        b"]",
        b"1e999",
        b"99999999999999999999999",
        b"-",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from(TEMPLATES))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 6)))
        insert = draw(NASTY | st.binary(min_size=1, max_size=4))
        body = body[:start] + insert + body[end:]
    return body


BODIES = st.binary(max_size=300) | mutated()


def good(call_id: str) -> bytes:
    message = {
        "type": "conversation-update",
        "timestamp": 7,
        "call": {"id": call_id, "status": "ongoing"},
        "messages": [{"messageId": "welcome-1", "role": "assistant", "text": "hi"}],
    }
    return msgspec.json.encode({"message": message})


@pytest.fixture
def run(db_url: str) -> Iterator[Any]:  # Any: a synchronous runner used by hypothesis
    loop = asyncio.new_event_loop()
    store = Store(db_url)
    loop.run_until_complete(store.__aenter__())
    app = create_app(ReceiverConfig(database_url=db_url), store=store)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")

    async def together(hostile: bytes, valid: bytes) -> tuple[httpx.Response, ...]:
        commits = store.commits
        answers = await asyncio.gather(
            client.post("/webhook", content=hostile, headers=JSON),
            client.post("/webhook", content=valid, headers=JSON),
        )
        assert store.commits == commits + 1  # one group commit for whatever reached the store
        return tuple(answers)

    try:
        yield lambda hostile, valid: loop.run_until_complete(together(hostile, valid))
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(store.aclose())
        loop.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
def test_any_bytes_get_2xx_or_4xx_and_leave_other_answers_alone(run: Any, body: bytes) -> None:
    call_id = f"good-{next(_ids)}"
    hostile, valid = run(body, good(call_id))
    assert 200 <= hostile.status_code < 300 or 400 <= hostile.status_code < 500, hostile.text
    if hostile.status_code >= 400:
        assert set(hostile.json()["error"]) == {"code", "message", "path"}
    assert valid.status_code == 200, valid.text
    assert valid.json() == {"outcome": "stored", "callId": call_id, "newMessages": 1, "late": False}
