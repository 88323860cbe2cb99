"""A no-op HTTP/1.1 receiver for benchmarks: reads each request, answers 200, keeps alive.

Prints ``port <n>`` once listening on 127.0.0.1. A bare asyncio protocol, so that the
receiver is not what limits a delivery benchmark.
"""

from __future__ import annotations

import asyncio

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class NoOp(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            self.transport.write(_OK)


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NoOp, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
