"""PostgreSQL outage: a private cluster is stopped for 5 s while simulated calls stream into
``callhook serve``. During it serve answers 503 with Retry-After (no 500, no crash, no
restart); afterwards the store equals what was emitted, exactly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from callhook.delivery import RetryPolicy
from callhook.engine import ListSink
from callhook.sim import demo_profile, simulate
from tests.calls import make_call
from tests.reliability.pgcluster import private_cluster
from tests.reliability.serving import serving
from tests.sim.test_end_to_end import CALLS, _assert_stored_equals_emitted

JSON = {"content-type": "application/json"}


@pytest.mark.asyncio
async def test_serve_answers_503_during_an_outage_and_loses_nothing(tmp_path: Path) -> None:
    with private_cluster() as cluster, serving(cluster.url, tmp_path) as served:
        sink = ListSink()
        statuses: list[int] = []
        pid = served.process.pid
        policy = RetryPolicy(schedule=(0.2, 0.5, 1.0), max_attempts=100, jitter=0.0)
        delivery = asyncio.create_task(
            simulate(
                f"{served.base}/webhook",
                demo_profile(),
                calls=CALLS,
                outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
                concurrency=25,
                seed=3,
                speed=30,
                also=sink,
                policy=policy,
                wait_s=120,
            )
        )
        await asyncio.sleep(2)  # calls in flight
        await asyncio.to_thread(cluster.stop)
        stopped = time.monotonic()
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
            probe = make_call("OUTAGE-PROBE", 2)[0].body
            while time.monotonic() - stopped < 5:
                answer = await client.post("/webhook", content=probe, headers=JSON)
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert int(answer.headers["retry-after"]) >= 1
                    assert answer.json()["error"]["code"] == "storage_unavailable"
                await asyncio.sleep(0.25)
            health = await client.get("/healthz")
        await asyncio.to_thread(cluster.start)
        result = await delivery
        assert served.process.poll() is None and served.process.pid == pid  # no crash, no restart
        assert set(statuses) == {503}, statuses
        assert health.status_code == 503
        assert result.delivery.retries > 0  # the outage was felt by delivery
        assert (result.delivery.pending, result.delivery.dead) == (0, 0)
        await _assert_stored_equals_emitted(served.base, sink)
        assert "500 Internal" not in served.log_text()
