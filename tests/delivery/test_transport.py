"""``AiohttpTransport`` against a real HTTP server on loopback: what the dispatcher relies on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from callhook.delivery._transport import AiohttpTransport, SendFailure

pytestmark = pytest.mark.asyncio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback HTTP server answering POST /hook with ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/hook"
    finally:
        await runner.cleanup()


async def test_posts_the_body_and_headers_and_reads_the_answer() -> None:
    seen: list[tuple[bytes, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((await request.read(), dict(request.headers)))
        return web.Response(status=429, reason="Slow Down", headers={"Retry-After": "7"})

    transport = AiohttpTransport()
    async with serving(handler) as url:
        reply = await transport.post(url, b'{"a":1}', {"x-callhook-attempt": "1"}, 5.0)
    await transport.aclose()
    assert (reply.status, reply.reason, reply.retry_after) == (429, "Slow Down", "7")
    [(body, headers)] = seen
    assert body == b'{"a":1}'
    assert headers["x-callhook-attempt"] == "1"
    assert headers["User-Agent"].startswith("callhook/")


async def test_redirects_are_not_followed() -> None:
    followed: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/elsewhere"})

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.Response()

    transport = AiohttpTransport()
    async with serving(handler) as url:
        reply = await transport.post(url, b"{}", {}, 5.0)
    await transport.aclose()
    assert (reply.status, reply.location) == (307, "/elsewhere")
    assert followed == []


async def test_the_timeout_applies_to_the_whole_request() -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    transport = AiohttpTransport()
    async with serving(handler) as url:
        with pytest.raises(SendFailure, match=r"timeout after 0.2 s") as info:
            await transport.post(url, b"{}", {}, 0.2)
        release.set()
    await transport.aclose()
    assert info.value.retryable


async def test_a_refused_connection_is_retryable_and_a_bad_url_is_not() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = AiohttpTransport()
    with pytest.raises(SendFailure) as refused:
        await transport.post(f"http://127.0.0.1:{port}/hook", b"{}", {}, 5.0)
    with pytest.raises(SendFailure, match="unusable URL") as bad:
        await transport.post("http://[::1/hook", b"{}", {}, 5.0)
    await transport.aclose()
    assert refused.value.retryable
    assert "Connect" in str(refused.value)
    assert not bad.value.retryable


async def test_connections_are_pooled_and_bounded_per_endpoint() -> None:
    peers: set[object] = set()
    active = 0
    peak = 0
    full = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        nonlocal active, peak
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        active += 1
        peak = max(peak, active)
        if active == 3:
            full.set()
        await full.wait()  # the first requests wait until the limit is reached
        active -= 1
        return web.Response()

    transport = AiohttpTransport(limit=16, per_host=3)
    async with serving(handler) as url:
        replies = await asyncio.gather(*(transport.post(url, b"{}", {}, 5.0) for _ in range(30)))
    await transport.aclose()
    assert {r.status for r in replies} == {200}
    assert peak == 3
    assert len(peers) == 3, "each request reused one of three pooled connections"


async def test_a_large_answer_body_is_not_kept() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (1024 * 1024))

    transport = AiohttpTransport()
    async with serving(handler) as url:
        reply = await transport.post(url, b"{}", {}, 5.0)
        again = await transport.post(url, b"{}", {}, 5.0)
    await transport.aclose()
    assert (reply.status, again.status) == (200, 200)
