"""Bad query parameters and cursors are 400 with the parameter's path, never a 5xx.

Values that pass a naive ``isdigit()`` but are not ASCII digits (``²``), signs in odd places,
and numbers outside the 64-bit range the database columns hold are all refused.
"""

from __future__ import annotations

import base64

import httpx
import msgspec
import pytest

pytestmark = pytest.mark.asyncio


def cursor(values: list[int]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/calls?since=--5", "since"),
        ("/api/calls?since=%C2%B2", "since"),
        ("/api/calls?until=%C2%B2", "until"),
        ("/api/calls?limit=%C2%B2", "limit"),
        ("/api/calls?limit=%EF%BC%95", "limit"),  # fullwidth 5
        ("/api/calls?since=" + "1" * 24, "since"),
        ("/api/calls?since=-" + "9" * 20, "since"),
        ("/api/calls?until=" + "9" * 5000, "until"),
        ("/api/hangs?since=100000000000000000000000", "since"),
        ("/api/errors?until=100000000000000000000000", "until"),
        ("/api/alerts?since=100000000000000000000000", "since"),
        ("/api/hangs/impact?since=%C2%B2", "since"),
        ("/api/patterns?dimension=model&since=100000000000000000000000", "since"),
        ("/api/metrics/rates?since=%C2%B2", "since"),
        ("/api/metrics/rates?bucket=%C2%B2", "bucket"),
        ("/api/calls?cursor=" + cursor([10**19, 1]), "cursor"),
        ("/api/calls?cursor=" + cursor([1, -(10**19)]), "cursor"),
        ("/api/hangs?cursor=" + cursor([10**19, 1]), "cursor"),
        ("/api/errors?cursor=" + cursor([10**19, 1]), "cursor"),
        ("/api/unattributed?cursor=" + cursor([10**19]), "cursor"),
        ("/api/alerts?cursor=" + cursor([10**19, 1]), "cursor"),
        ("/api/hangs/impact?cursor=" + cursor([10**19, 1]), "cursor"),
    ],
)
async def test_bad_parameters_are_400_with_the_path(
    client: httpx.AsyncClient, url: str, parameter: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["path"] == f"query.{parameter}"


async def test_bad_cursors_of_per_call_lists_are_400(client: httpx.AsyncClient) -> None:
    body = (
        b'{"message": {"type": "conversation-update", "timestamp": 1, "call": {"id": "C"},'
        b' "messages": [{"messageId": "m", "role": "user", "timestamp": 1}]}}'
    )
    headers = {"content-type": "application/json"}
    assert (await client.post("/webhook", content=body, headers=headers)).status_code == 200
    for url, values in (
        ("/api/calls/C/messages", [10**19, 0, 0]),
        ("/api/calls/C/events", [10**19]),
    ):
        response = await client.get(f"{url}?cursor={cursor(values)}")
        assert response.status_code == 400, response.text
        assert response.json()["error"]["path"] == "query.cursor"


async def test_valid_extremes_are_accepted(client: httpx.AsyncClient) -> None:
    for url in (
        "/api/calls?since=-5&until=9223372036854775807&limit=500",
        "/api/calls?since=2026-03-05T09:21:20Z",
        "/api/hangs?since=0",
    ):
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)
