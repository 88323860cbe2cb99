"""Bytes that are not UTF-8, and strings that cannot be stored (NUL, lone surrogates).

A request with such a body is refused alone (400 for bytes that are not UTF-8, 422 for an id
that cannot be kept exactly), never with a 5xx, and never changes the answer of another
request committed with it. Text kept as JSON keeps every character exactly.
"""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest

from callhook.store import Store

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


def valid(call_id: str) -> bytes:
    return (
        b'{"message": {"type": "conversation-update", "timestamp": 5, "call": {"id": "'
        + call_id.encode()
        + b'", "status": "ongoing"}, "messages": [{"messageId": "welcome-1", "role": '
        b'"assistant", "text": "hi", "timestamp": 5}]}}'
    )


STORED = {"outcome": "stored", "newMessages": 1, "late": False}

# Each has a byte that is not UTF-8 where msgspec does not look (skipped or kept raw).
NOT_UTF8 = {
    "hang": b'{"message": {"type": "hang", "timestamp": 1, "call": {"id": "H"}, '
    b'"hang": {"x\xff": 1, "waitedMs": 5100}}}',
    "error": b'{"message": {"type": "error", "timestamp": 1, "call": {"id": "E"}, '
    b'"error": {"code": "c", "extra": "\xff"}}}',
    "assistant": b'{"message": {"type": "status-update", "timestamp": 1, "call": {"id": "A"}, '
    b'"assistant": {"_id": "a", "other": "\xfe\xff"}}}',
    "call": b'{"message": {"type": "status-update", "timestamp": 1, '
    b'"call": {"id": "K", "region": "\xc3\x28"}}}',
    "analysis": b'{"message": {"type": "end-of-call-report", "timestamp": 1, '
    b'"call": {"id": "R"}, "analysis": {"summary": "\xff"}}}',
    "no call": b'{"message": {"type": "status-update", "timestamp": 1, "note": "\xff"}}',
    "message": b'{"message": {"type": "conversation-update", "timestamp": 1, "call": '
    b'{"id": "M"}, "messages": [{"messageId": "m", "role": "user", "text": "\xed\xa0\x80"}]}}',
    "top level": b'{"message": {"type": "status-update", "timestamp": 1, "call": {"id": "T"}},'
    b' "x": "\x80"}',
}


async def together(client: httpx.AsyncClient, *bodies: bytes) -> list[httpx.Response]:
    """Post ``bodies`` at the same moment, so that those the store accepts share a commit."""
    return list(
        await asyncio.gather(*(client.post("/webhook", content=b, headers=JSON) for b in bodies))
    )


@pytest.mark.parametrize("where", list(NOT_UTF8))
async def test_bytes_that_are_not_utf8_are_refused_alone(
    client: httpx.AsyncClient, store: Store, where: str
) -> None:
    bad, good = await together(client, NOT_UTF8[where], valid("good"))
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["code"] == "invalid_json"
    assert "UTF-8" in bad.json()["error"]["message"]
    assert good.status_code == 200, good.text
    assert good.json() == {**STORED, "callId": "good"}
    again = await client.post("/webhook", content=NOT_UTF8[where], headers=JSON)
    assert again.status_code == 400
    assert (await client.get("/api/calls")).json()["calls"][0]["callId"] == "good"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            b'{"message": {"type": "status-update", "call": {"id": "x\\u0000y"}}}',
            "$.message.call.id",
        ),
        (
            b'{"message": {"type": "conversation-update", "call": {"id": "C"}, '
            b'"messages": [{"messageId": "w"}, {"messageId": "a\\u0000b"}]}}',
            "$.message.messages[1].messageId",
        ),
        (
            b'{"message": {"type": "status-update", "call": {"id": "C", '
            b'"assistantId": "a\\u0000"}}}',
            "$.message.call.assistantId",
        ),
        (
            b'{"message": {"type": "status-update", "call": {"id": "C"}, '
            b'"assistant": {"_id": "\\u0000"}}}',
            "$.message.assistant._id",
        ),
    ],
)
async def test_ids_that_cannot_be_kept_exactly_are_422(
    client: httpx.AsyncClient, body: bytes, path: str
) -> None:
    bad, good = await together(client, body, valid("good"))
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["path"] == path
    assert good.json() == {**STORED, "callId": "good"}
    # Nothing of the refused event was stored, and its call still takes valid events.
    assert [c["callId"] for c in (await client.get("/api/calls")).json()["calls"]] == ["good"]
    later = await client.post("/webhook", content=valid("C"), headers=JSON)
    assert later.json() == {**STORED, "callId": "C"}


async def test_a_refused_message_id_does_not_block_the_call(client: httpx.AsyncClient) -> None:
    """A NUL used to be removed from the stored id but not from the known ids, so every
    later event of the call hit the unique constraint (503)."""
    nul = (
        b'{"message": {"type": "conversation-update", "timestamp": 1, "call": {"id": "N"}, '
        b'"messages": [{"messageId": "u\\u0000"}]}}'
    )
    assert (await client.post("/webhook", content=nul, headers=JSON)).status_code == 422
    for _ in range(2):
        response = await client.post("/webhook", content=valid("N"), headers=JSON)
        assert response.status_code == 200, response.text
    messages = (await client.get("/api/calls/N/messages")).json()["messages"]
    assert [m["messageId"] for m in messages] == ["welcome-1"]


@pytest.mark.parametrize(
    "where",
    [
        b'"call": {"id": "S", "note": "\\ud800"}',
        b'"call": {"id": "S"}, "messages": [{"messageId": "u", "text": "a\\udfff"}]',
        b'"call": {"id": "S"}, "hang": {"x": "\\ud800x"}',
        b'"call": {"id": "S"}, "assistant": {"x": ["\\udc00"]}',
        b'"extra": "\\ud83d\\u0041"',
    ],
)
async def test_unpaired_surrogate_escapes_are_invalid_json_anywhere(
    client: httpx.AsyncClient, where: bytes
) -> None:
    """``\\ud800`` alone is no character: it cannot become text, so it is refused with 400
    wherever it is (msgspec refuses it only where it decodes a string)."""
    body = b'{"message": {"type": "error", "timestamp": 1, ' + where + b"}}"
    bad, good = await together(client, body, valid("good"))
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["code"] == "invalid_json"
    assert good.json() == {**STORED, "callId": "good"}


async def test_nul_outside_ids_is_kept_exactly_in_the_json(client: httpx.AsyncClient) -> None:
    """200, and the JSON the API serves has every NUL as sent; the columns derived for
    filters (status, role, error code...) drop it."""
    body = (
        b'{"message": {"type": "error", "timestamp": 1, "call": {"id": "S", "status": '
        b'"ongo\\u0000ing", "note": "\\u0000"}, "messages": [{"messageId": "u", "role": '
        b'"us\\u0000er", "text": "\\u0000\\ud83d\\ude00"}], "error": {"code": "x\\u0000", '
        b'"provider": "p\\u0000", "message": "\\u0000"}, "assistant": {"_id": "a", '
        b'"name": "n\\u0000"}}}'
    )
    bad, good = await together(client, body, valid("good"))
    assert bad.status_code == 200, bad.text
    assert good.json() == {**STORED, "callId": "good"}
    messages = (await client.get("/api/calls/S/messages")).json()["messages"]
    assert messages == [{"messageId": "u", "role": "us\x00er", "text": "\x00\U0001f600"}]
    call = (await client.get("/api/calls/S")).json()
    assert call["call"]["note"] == "\x00"
    assert call["status"] == "ongoing"
    errors = (await client.get("/api/errors")).json()["errors"]
    assert errors[0]["error"] == {"code": "x\x00", "provider": "p\x00", "message": "\x00"}
    assert (errors[0]["code"], errors[0]["provider"]) == ("x", "p")


async def test_the_answers_carry_ids_exactly(client: httpx.AsyncClient) -> None:
    call_id = 'é\U0001f600\\"x'
    body = msgspec.json.encode(
        {"message": {"type": "status-update", "timestamp": 1, "call": {"id": call_id}}}
    )
    response = await client.post("/webhook", content=body, headers=JSON)
    assert response.json()["callId"] == call_id
    assert (await client.get("/api/calls")).json()["calls"][0]["callId"] == call_id


@pytest.mark.parametrize("where", ["call.id", "messageId"])
async def test_an_id_too_long_to_look_up_is_422(client: httpx.AsyncClient, where: str) -> None:
    """A 300,000-character call id used to be stored, and no query address could reach it
    (found by bench/fuzz_webhook.py)."""
    long_id = "é" * 1025
    call_id, message_id = (long_id, "u") if where == "call.id" else ("L", long_id)
    body = msgspec.json.encode(
        {
            "message": {
                "type": "conversation-update",
                "timestamp": 1,
                "call": {"id": call_id},
                "messages": [{"messageId": message_id, "role": "user", "text": "hi"}],
            }
        }
    )
    bad, good = await together(client, body, valid("good"))
    assert bad.status_code == 422, bad.text
    assert "at most 1024 characters" in bad.json()["error"]["message"]
    assert good.json() == {**STORED, "callId": "good"}
    longest = "é" * 1024
    ok = msgspec.json.encode({"message": {"type": "status-update", "call": {"id": longest}}})
    assert (await client.post("/webhook", content=ok, headers=JSON)).status_code == 200
    assert (await client.get(f"/api/calls/{longest}")).json()["callId"] == longest
