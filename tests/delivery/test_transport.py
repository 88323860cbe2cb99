"""``Http11Transport`` against an in-process loopback server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa

from callhook.delivery import Dispatcher, list_deliveries
from callhook.delivery._transport import Http11Transport

from .conftest import envelope, server

pytestmark = pytest.mark.asyncio

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Loopback:
    """Counts connections and requests; ``reply(n)`` gives the n-th response's bytes."""

    def __init__(self, reply: Callable[[int], bytes | None], close_after: bool = False) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.reply(len(self.requests))
                if answer is None:  # never answer
                    await reader.read()
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@asynccontextmanager
async def serve(loopback: Loopback) -> AsyncIterator[str]:
    server = await asyncio.start_server(loopback.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook?x=1"
    finally:
        server.close()
        await server.wait_closed()


async def test_keeps_connections_alive_and_passes_status_headers_and_body() -> None:
    loopback = Loopback(lambda n: OK)
    async with serve(loopback) as url, httpx.AsyncClient(transport=Http11Transport()) as client:
        for _ in range(5):
            response = await client.post(url, content=b'{"a":1}', headers={"x-h": "v"})
            assert (response.status_code, response.content) == (200, b"ok")
    assert loopback.connections == 1
    first = loopback.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"x-h: v" in first and first.endswith(b'{"a":1}')


async def test_redirects_are_returned_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nlocation: http://elsewhere/\r\ncontent-length: 0\r\n\r\n"
    loopback = Loopback(lambda n: moved)
    async with serve(loopback) as url, httpx.AsyncClient(transport=Http11Transport()) as client:
        response = await client.post(url, content=b"{}")
    assert response.status_code == 302
    assert response.headers["location"] == "http://elsewhere/"
    assert len(loopback.requests) == 1


async def test_reads_chunked_responses() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
    )
    loopback = Loopback(lambda n: chunked)
    async with serve(loopback) as url, httpx.AsyncClient(transport=Http11Transport()) as client:
        assert (await client.post(url, content=b"{}")).content == b"hello"
        assert (await client.post(url, content=b"{}")).content == b"hello"
    assert loopback.connections == 1


async def test_a_connection_closed_while_idle_is_replaced() -> None:
    loopback = Loopback(lambda n: OK, close_after=True)
    async with serve(loopback) as url, httpx.AsyncClient(transport=Http11Transport()) as client:
        for _ in range(3):
            assert (await client.post(url, content=b"{}")).status_code == 200
    assert loopback.connections == 3
    assert len(loopback.requests) == 3


async def test_refused_connections_raise_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(transport=Http11Transport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/", content=b"{}")


async def test_an_expired_read_deadline_raises_read_timeout() -> None:
    loopback = Loopback(lambda n: None)
    async with serve(loopback) as url, httpx.AsyncClient(transport=Http11Transport()) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(url, content=b"{}", timeout=httpx.Timeout(5.0, read=0.0))


async def test_other_schemes_are_unsupported() -> None:
    transport = Http11Transport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example/x"))
    await transport.aclose()


async def test_the_dispatcher_delivers_through_it(db: sa.Engine) -> None:
    loopback = Loopback(lambda n: OK)
    async with serve(loopback) as url:
        config = server(url=url)
        async with Dispatcher(db, transport=Http11Transport(), poll_interval=None) as d:
            for n in range(4):
                await d.deliver(envelope(n=n, assistant_server=config))
            await d.wait_idle()
    assert loopback.connections == 1
    assert [r.status for r in list_deliveries(db)] == ["delivered"] * 4
    assert all(b"x-callhook-call-sequence" in request for request in loopback.requests)
