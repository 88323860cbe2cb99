"""NUL characters (valid JSON, refused by PostgreSQL text columns) never cause a 5xx."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.asyncio


async def test_nul_characters_in_identifiers_are_stored(client: httpx.AsyncClient) -> None:
    body = (
        b'{"message": {"type": "error", "timestamp": 1, "call": {"id": "C\\u0000", '
        b'"status": "ongo\\u0000ing", "assistantId": "a\\u0000"}, "messages": [{"messageId": '
        b'"u\\u0000", "role": "us\\u0000er", "text": "\\u0000"}], "error": {"code": "x\\u0000", '
        b'"provider": "p\\u0000", "message": "\\u0000"}, "assistant": {"_id": "a\\u0000", '
        b'"name": "n\\u0000"}}}'
    )
    response = await client.post(
        "/webhook", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    messages = (await client.get("/api/calls/C/messages")).json()["messages"]
    assert messages == [{"messageId": "u\x00", "role": "us\x00er", "text": "\x00"}]
