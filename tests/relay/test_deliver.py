"""``callhook serve --no-deliver`` plus two ``callhook deliver`` processes (PostgreSQL).

serve only queues; the two dispatcher processes share the outbox and send to a flaky app.
Every stored event arrives once per ``webhook-id``, in each call's order, signed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.databases import database_url
from tests.relay.apps import TargetApp
from tests.relay.checks import check_exactly_once, check_order, missing, summary
from tests.relay.serving import Poster, process, serving, simulated_calls, wait_until

pytestmark = pytest.mark.asyncio

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("postgresql", tmp_path)


async def test_two_deliver_processes_send_every_event_in_order(pg_url: str, tmp_path: Path) -> None:
    calls = await simulated_calls(10, seed=21)
    async with TargetApp(signing_secret=SECRET, flaky_seed=21) as app:
        config = tmp_path / "callhook.toml"
        config.write_text(
            f"[database]\nurl = {json.dumps(pg_url)}\n\n[[forward]]\nurl = {json.dumps(app.url)}\n"
            f'signing_secret = "{SECRET}"\ntimeout_seconds = 5.0\n'
        )
        log = tmp_path / "serve.log"
        with serving(config, log, "--no-deliver") as (_, base), ExitStack() as stack:
            workers = [
                stack.enter_context(
                    process(["deliver", "--config", str(config)], tmp_path / f"deliver-{n}.log")
                )
                for n in range(2)
            ]
            poster = Poster(base)
            async with httpx.AsyncClient(timeout=60) as client:
                await asyncio.gather(*(poster.post_in_order(client, b) for b in calls.values()))
            stored = poster.stored()
            assert len(stored) == sum(len(b) for b in calls.values())
            await wait_until(lambda: not missing(app, stored), lambda: summary(app, stored))
            assert [w.poll() for w in workers] == [None, None]
    ids = check_exactly_once(app, stored)
    check_order(app, stored, ids)
