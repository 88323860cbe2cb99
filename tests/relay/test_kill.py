"""SIGKILL: ``callhook serve`` killed while it receives and relays loses no acknowledged event.

Simulated calls stream into serve, each call's events one after the other; serve is killed
with SIGKILL mid-stream and restarted on the same database, and each call goes on from its
first event without a 2xx. Every event serve acknowledged before the kill (and after) reaches
the target exactly once per ``webhook-id``, in each call's order, its sequence numbers going
on across the restart.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import database_url
from tests.relay.apps import TargetApp
from tests.relay.checks import check_exactly_once, check_order, missing, summary
from tests.relay.serving import Ack, Poster, serving, simulated_calls, wait_until

pytestmark = pytest.mark.asyncio

KILL_AFTER = 100


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


async def test_every_acknowledged_event_is_relayed_after_sigkill(
    db_url: str, tmp_path: Path
) -> None:
    calls = await simulated_calls(12, seed=7)
    acked: dict[bytes, Ack] = {}
    async with TargetApp() as app:
        config = tmp_path / "callhook.toml"
        config.write_text(
            f"[database]\nurl = {json.dumps(db_url)}\n\n[[forward]]\nurl = {json.dumps(app.url)}\n"
            "timeout_seconds = 5.0\n"  # a delivery in flight at the kill is leased that + 30 s
        )
        log = tmp_path / "serve.log"
        with serving(config, log) as (process, base):
            poster = Poster(base)
            killed = asyncio.Event()

            async def stream(bodies: list[bytes], client: httpx.AsyncClient) -> None:
                for body in bodies:
                    if killed.is_set():
                        return
                    try:
                        ack = await poster.post(client, body)
                    except httpx.TransportError:
                        return
                    acked[body] = ack
                    if len(acked) >= KILL_AFTER and not killed.is_set():
                        process.send_signal(signal.SIGKILL)
                        killed.set()

            async with httpx.AsyncClient(timeout=60) as client:
                await asyncio.gather(*(stream(b, client) for b in calls.values()))
            process.wait(timeout=30)
            assert process.returncode == -signal.SIGKILL
        before_kill = list(acked.values())
        assert len(before_kill) >= KILL_AFTER
        with serving(config, log) as (_, base):
            poster = Poster(base)
            async with httpx.AsyncClient(timeout=60) as client:
                await asyncio.gather(
                    *(
                        poster.post_in_order(client, [b for b in bodies if b not in acked])
                        for bodies in calls.values()
                    )
                )
            for ack in poster.acks:
                acked[ack.body] = ack
            # Each event is now stored (before the kill, or after it), in its call's order.
            everything = [acked[body] for bodies in calls.values() for body in bodies]
            await wait_until(lambda: not missing(app, everything), lambda: summary(app, everything))
    # An event that was in flight at the kill was stored then or after: either way, once.
    in_flight = [a for a in poster.acks if a.outcome == "duplicate"]
    assert len(in_flight) <= len(calls)
    assert all(a.outcome == "stored" for a in before_kill)
    ids = check_exactly_once(app, everything)
    check_order(app, everything, ids)
