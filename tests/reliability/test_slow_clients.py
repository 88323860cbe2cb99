"""Slow clients: ``callhook serve`` closes connections that stall while sending a request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from callhook._exceptions import ConfigError
from callhook.receiver import load_config
from tests.calls import make_call
from tests.reliability.serving import serving

TIMEOUTS = "[server]\nheader_timeout = 1\nbody_timeout = 2\n"


async def _open(port: int, first: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection (fails if it did not)."""
    received = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def _stalled_body(port: int) -> bytes:
    head = (
        f"POST /webhook HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        "content-length: 102400\r\n\r\n"
    )
    return head.encode() + b"{"


@pytest.mark.asyncio
async def test_stalled_connections_are_closed_and_ingest_goes_on(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'slow.sqlite3'}"
    with serving(db, tmp_path, toml=TIMEOUTS) as served:
        port = served.port
        silent = [await _open(port, b"") for _ in range(20)]
        partial_headers = [
            await _open(port, b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-") for _ in range(20)
        ]
        partial_body = [await _open(port, _stalled_body(port)) for _ in range(20)]
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=served.base, timeout=10) as client:
            for event in make_call("SLOW-1", 4):
                answer = await client.post(
                    "/webhook", content=event.body, headers={"content-type": "application/json"}
                )
                assert answer.status_code == 200
        for reader, _ in silent + partial_headers:
            assert (await _closed_within(reader, 8)).startswith(b"HTTP/1.1 408 ")
        for reader, _ in partial_body:
            assert await _closed_within(reader, 8) == b""
        assert time.monotonic() - started < 10
        for _, writer in silent + partial_headers + partial_body:
            writer.close()


@pytest.mark.asyncio
async def test_a_slow_body_that_keeps_coming_is_read(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'slow.sqlite3'}"
    body = make_call("SLOW-2", 2)[0].body
    step = len(body) // 5 + 1
    parts = [body[i : i + step] for i in range(0, len(body), step)]
    with serving(db, tmp_path, toml=TIMEOUTS) as served:
        head = (
            f"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        reader, writer = await _open(served.port, head.encode())
        for part in parts:  # 3 s in all (more than body_timeout), never 2 s without a byte
            await asyncio.sleep(0.6)
            writer.write(part)
            await writer.drain()
        answer = await _closed_within(reader, 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.asyncio
async def test_keep_alive_requests_each_get_the_header_timeout(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'slow.sqlite3'}"
    with serving(db, tmp_path, toml=TIMEOUTS) as served:
        reader, writer = await _open(served.port, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        first = await reader.readuntil(b"ok")
        assert first.startswith(b"HTTP/1.1 200 ")
        writer.write(b"GET /healthz HTTP/1.1\r\nho")  # the second request stalls
        await writer.drain()
        assert b"HTTP/1.1 408 " in await _closed_within(reader, 5)
        writer.close()


def test_timeouts_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "serve.toml"
    path.write_text("[server]\nheader_timeout = 2.5\nbody_timeout = 7\n", encoding="utf-8")
    config = load_config(path, environ={})
    assert (config.header_timeout, config.body_timeout) == (2.5, 7)
    assert (load_config(environ={}).header_timeout, load_config(environ={}).body_timeout) == (
        10.0,
        30.0,
    )


@pytest.mark.parametrize("value", ["0", "-1", '"soon"', "true"])
def test_a_bad_timeout_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(f"[server]\nbody_timeout = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="body_timeout must be a positive number"):
        load_config(path, environ={}).check()
