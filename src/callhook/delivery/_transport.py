"""``Http11Transport``: a lean HTTP/1.1 keep-alive transport for httpx (opt-in).

httpx's default transport (httpcore) checks every pooled connection with system calls on each
request; with delivery's bursty per-call traffic that costs milliseconds of CPU per request on
some machines (see BENCHMARKS.md). This transport keeps idle connections per host in a stack,
speaks HTTP/1.1 through ``h11`` and asyncio streams, and does nothing else: no proxies, no
HTTP/2, responses read whole (bodies past ``max_response_bytes`` are read and dropped).

A request that fails on a reused connection before any response byte arrives (the server
closed it while idle) is sent once more on a new connection; receivers deduplicate deliveries
by ``webhook-id`` anyway.
"""

from __future__ import annotations

import asyncio
import ssl
from types import TracebackType

import h11
import httpx

__all__ = ["Http11Transport"]

_Key = tuple[str, str, int]


class _Stale(Exception):
    """A reused connection turned out to be closed before the response started."""


class _Connection:
    __slots__ = ("protocol", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive, for ``Dispatcher(transport=Http11Transport())``.

    ``ssl_context`` verifies ``https://`` servers (default: the system's trust store);
    ``keepalive_per_host`` bounds the idle connections kept per host.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_per_host: int = 64,
        max_response_bytes: int = 1 << 20,
    ) -> None:
        self._ssl = ssl_context
        self._keepalive = keepalive_per_host
        self._max_body = max_response_bytes
        self._idle: dict[_Key, list[_Connection]] = {}
        self._closed = False

    async def __aenter__(self) -> Http11Transport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        for stack in self._idle.values():
            for connection in stack:
                connection.close()
        self._idle.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.TransportError("The transport is closed; create a new one.")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{url.scheme}://'."
            )
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        stack = self._idle.get(key)
        while stack:
            connection = stack.pop()
            if not connection.usable():
                connection.close()
                continue
            try:
                return await self._exchange(connection, key, request, body, timeouts)
            except _Stale:
                break  # the server closed it while idle: use a new connection
        connection = await self._connect(key, timeouts.get("connect"))
        try:
            return await self._exchange(connection, key, request, body, timeouts)
        except _Stale:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    async def _connect(self, key: _Key, connect_timeout: float | None) -> _Connection:
        scheme, host, port = key
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        key: _Key,
        request: httpx.Request,
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        protocol = connection.protocol
        finished = False
        started = False
        try:
            head = h11.Request(
                method=request.method,
                target=request.url.raw_path,
                headers=list(request.headers.raw),
            )
            data = protocol.send(head) or b""
            if body:
                data += protocol.send(h11.Data(data=body)) or b""
            data += protocol.send(h11.EndOfMessage()) or b""
            try:
                async with asyncio.timeout(timeouts.get("write")):
                    connection.writer.write(data)
                    await connection.writer.drain()
            except TimeoutError:
                raise httpx.WriteTimeout("writing the request timed out") from None
            except OSError:
                raise _Stale() from None  # nothing was answered: safe to send again
            status, reason, content = 0, b"", bytearray()
            headers: list[tuple[bytes, bytes]] = []
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    while True:
                        event = protocol.next_event()
                        if event is h11.NEED_DATA:
                            chunk = await connection.reader.read(65536)
                            if not chunk and not started:
                                raise _Stale()
                            started = True
                            protocol.receive_data(chunk)
                        elif isinstance(event, h11.Response):
                            status, reason = event.status_code, event.reason
                            headers = list(event.headers)
                        elif isinstance(event, h11.Data):
                            if len(content) < self._max_body:
                                content += event.data[: self._max_body - len(content)]
                        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                            break
            except TimeoutError:
                raise httpx.ReadTimeout("reading the response timed out") from None
            except OSError as exc:  # resets, TLS errors
                if not started:
                    raise _Stale() from None
                raise httpx.ReadError(str(exc) or type(exc).__name__) from None
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            finished = True
        finally:
            if finished and protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
                protocol.start_next_cycle()
                stack = self._idle.setdefault(key, [])
                if len(stack) < self._keepalive and not self._closed:
                    stack.append(connection)
                else:
                    connection.close()
            else:
                connection.close()
        return httpx.Response(
            status,
            headers=[(bytes(k), bytes(v)) for k, v in headers],
            content=bytes(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(reason)},
        )
