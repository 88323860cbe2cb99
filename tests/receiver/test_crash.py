"""Crash test: a real ``callhook serve`` killed with SIGKILL under load loses no acked event."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.calls import make_call

pytestmark = pytest.mark.asyncio

JSON = {"content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(db_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start ``callhook serve`` and wait (bounded) until it answers /healthz."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CALLHOOK_WEBHOOK_SECRET", "CALLHOOK_SIGNING_SECRET", "CALLHOOK_DATABASE_URL")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"callhook serve exited with {process.returncode}: {stderr}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("callhook serve did not become ready within 60 s")
            time.sleep(0.05)  # polling readiness of a subprocess, bounded by the deadline
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


async def test_every_acknowledged_event_survives_sigkill(db_url: str) -> None:
    calls = [make_call(f"K{n}", 12) for n in range(12)]
    acked: list[bytes] = []
    with serving(db_url) as (process, base):
        killed = asyncio.Event()

        async def sender(events: list[bytes], client: httpx.AsyncClient) -> None:
            for body in events:
                if killed.is_set():
                    return
                try:
                    response = await client.post(f"{base}/webhook", content=body, headers=JSON)
                except httpx.TransportError:
                    return
                if response.is_success:
                    acked.append(body)
                    if len(acked) >= 120 and not killed.is_set():
                        process.send_signal(signal.SIGKILL)
                        killed.set()

        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(sender([e.body for e in c], client) for c in calls))
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
    assert len(acked) >= 120
    with serving(db_url) as (_, base):
        stored: set[str] = set()
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for n in range(len(calls)):
                response = await client.get(f"/api/calls/K{n}/events", params={"limit": 500})
                if response.status_code == 200:
                    stored |= {e["digest"] for e in response.json()["events"]}
    missing = [b for b in acked if hashlib.sha256(b).hexdigest()[:16] not in stored]
    assert missing == []
