"""Helpers of the relay's end-to-end tests: ``callhook serve`` / ``callhook deliver`` processes,
a poster that records what serve acknowledged, the events to post, bounded waits."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from callhook import events
from callhook.engine import ListSink
from callhook.sim import load_profile, run_simulation
from callhook.store import make_engine
from tests.conftest import sample_files

JSON = {"content-type": "application/json"}
#: The longest a test waits for anything (a loaded 2-core CI machine is slow, never stuck).
DEADLINE_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without callhook settings (the tests pass every setting explicitly)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}


@contextmanager
def process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m callhook <command>``, its output in ``log``; terminated on exit."""
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "callhook", *command],
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)


@contextmanager
def serving(config: Path, log: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``callhook serve --config config`` on a free port, once it answers /healthz."""
    port = free_port()
    with process(["serve", "--config", str(config), "--port", str(port), *extra], log) as child:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                pytest.fail(f"callhook serve exited with {child.returncode}: {tail(log)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"callhook serve did not become ready within 60 s: {tail(log)}")
            time.sleep(0.05)  # polling readiness of a subprocess, bounded by the deadline
        yield child, base


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def wait_until(
    done: Callable[[], bool], describe: Callable[[], str], seconds: float = DEADLINE_S
) -> None:
    """Poll ``done`` until true; fail with ``describe()`` (what is missing) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"not done within {seconds:.0f} s: {describe()}")
        await asyncio.sleep(0.1)  # polling, bounded by the deadline


@dataclass(frozen=True, slots=True)
class Ack:
    """One event serve answered 2xx: its body and serve's verdict."""

    body: bytes
    outcome: str
    call_id: str | None
    type: str


@dataclass
class Poster:
    """Posts events to serve and records each 2xx answer, in the order serve gave them."""

    base: str
    acks: list[Ack] = field(default_factory=list)

    async def post(self, client: httpx.AsyncClient, body: bytes) -> Ack:
        response = await client.post(f"{self.base}/webhook", content=body, headers=JSON)
        assert response.status_code == 200, (response.status_code, response.text)
        answer = response.json()
        kind = json.loads(body)["message"]["type"]
        ack = Ack(body, answer["outcome"], answer["callId"], kind)
        self.acks.append(ack)
        return ack

    async def post_in_order(self, client: httpx.AsyncClient, bodies: Sequence[bytes]) -> None:
        """One call's events one after the other: each acknowledged before the next is sent."""
        for body in bodies:
            await self.post(client, body)

    def stored(self) -> list[Ack]:
        """Acknowledged as stored (not a duplicate), with a call: what the relay forwards."""
        return [a for a in self.acks if a.outcome == "stored" and a.call_id is not None]


def sample_bodies() -> list[bytes]:
    """The repository's sample payloads (one call), in the order of their timestamps."""
    bodies = [path.read_bytes() for path in sample_files()]
    return sorted(bodies, key=lambda b: int(json.loads(b)["message"].get("timestamp") or 0))


async def simulated_calls(count: int, seed: int) -> dict[str, list[bytes]]:
    """``count`` simulated calls (real call sessions, time compressed): each call's bodies."""
    sink = ListSink()
    await run_simulation(load_profile(None), calls=count, sink=sink, seed=seed, speed=1000.0)
    calls: dict[str, list[bytes]] = {}
    for envelope in sink.envelopes:
        call_id = envelope.message.call_id
        assert call_id is not None
        calls.setdefault(call_id, []).append(events.encode(envelope))
    assert len(calls) == count
    return calls


def outbox_rows(db_url: str) -> dict[str, int]:
    """Outbox rows per target URL."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT url, count(*) FROM callhook_delivery_outbox GROUP BY url")
            ).all()
    finally:
        engine.dispose()
    return {str(url): int(count) for url, count in rows}


def outbox_states(db_url: str) -> dict[tuple[str, str], int]:
    """Outbox rows per (target URL, status)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT url, status, count(*) FROM callhook_delivery_outbox GROUP BY 1, 2")
            ).all()
    finally:
        engine.dispose()
    return {(str(url), str(status)): int(count) for url, status, count in rows}


def failed_connects(db_url: str, url: str) -> int:
    """Attempts to ``url`` that got no HTTP answer (refused, reset) and are to be retried."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT count(*) FROM callhook_delivery_attempts WHERE url = :url "
                    "AND outcome = 'retry' AND status_code IS NULL"
                ),
                {"url": url},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(found)
