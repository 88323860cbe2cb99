"""Every dashboard and API response carries the security headers (CSP, nosniff, ...)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import httpx
import pytest

from callhook.receiver import ReceiverConfig, create_app
from callhook.receiver._asgi import Message
from callhook.receiver._security import CONTENT_SECURITY_POLICY
from callhook.store import Store

TOKEN = "t" * 24
EXTRA = ["/", "/docs", "/static/js/app.js", "/static/style.css", "/openapi.json", "/nowhere"]


def _assert_secured(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert response.headers.get("x-frame-options") == "DENY", where


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'none'"
    assert "unsafe" not in directives["script-src"] + directives["style-src-elem"]


@pytest.mark.asyncio
async def test_every_route_answers_with_the_security_headers(store: Store) -> None:
    app = create_app(ReceiverConfig(database_url=store.url), store=store, clock=lambda: 1_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        document = (await client.get("/openapi.json")).json()
        paths = [p for p, ops in document["paths"].items() if "get" in ops]
        assert len(paths) >= 10
        for path in [*paths, *EXTRA]:
            if path == "/api/stream":
                continue  # an endless stream: checked below
            concrete = re.sub(r"\{[^}]+\}", "no-such-call", path)
            _assert_secured(await client.get(concrete))
            _assert_secured(await client.get(concrete, params={"limit": "zero"}))
        _assert_secured(await client.post("/api/calls"))  # 405
        answer = await client.post(
            "/webhook", content=b"{", headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400
        assert answer.headers["x-content-type-options"] == "nosniff"
        answer = await client.post("/webhook", content=json.dumps({}).encode())
        assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.asyncio
async def test_refusals_behind_a_token_and_the_stream_carry_them(store: Store) -> None:
    config = ReceiverConfig(database_url=store.url, api_tokens=(TOKEN,))
    app = create_app(config, store=store, clock=lambda: 1_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        refused = await client.get("/api/calls")
        assert refused.status_code == 401
        _assert_secured(refused)
    started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never sends anything more
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/stream",
        "raw_path": b"/api/stream",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("receiver", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "app": app,
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        message = await asyncio.wait_for(started, 10)
    finally:
        app.live.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    headers = httpx.Headers([(k.decode(), v.decode()) for k, v in message["headers"]])
    assert message["status"] == 200
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
