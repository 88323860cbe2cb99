"""``[retention] deliveries_days``: finished deliveries (and their attempts) go, pending ones
stay, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from callhook.relay import ForwardTarget, Relay
from callhook.store import DAY_MS, Cutoffs, Purger, Store, parse_event
from tests.databases import database_url
from tests.monitor.calls import T0_MS, started
from tests.relay.test_queue import body

pytestmark = pytest.mark.asyncio

NOW_S = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


async def test_finished_deliveries_older_than_the_horizon_are_removed(db_url: str) -> None:
    target = ForwardTarget.from_url("http://127.0.0.1:9/app")
    relay = Relay([target], postgres=db_url.startswith("postgresql"), clock=lambda: NOW_S)
    async with Store(db_url, hook=relay) as store:
        for i, call in enumerate(["old-delivered", "old-dead", "old-pending", "new-delivered"]):
            await store.ingest(parse_event(body(started(call)), received_at=T0_MS + i))

        def finish(connection: Connection) -> None:
            for call, status, finished in [
                ("old-delivered", "delivered", NOW_S - 10 * 86_400),
                ("old-dead", "dead", NOW_S - 10 * 86_400),
                ("new-delivered", "delivered", NOW_S - 3600),
            ]:
                connection.execute(
                    text(
                        "UPDATE callhook_delivery_outbox SET status = :s, finished_at = :f "
                        "WHERE call_id = :c"
                    ),
                    {"s": status, "f": finished, "c": call},
                )
            connection.execute(
                text(
                    "INSERT INTO callhook_delivery_attempts (outbox_id, attempt, url, "
                    "started_at, latency_ms, status_code, outcome) SELECT id, 1, url, "
                    "finished_at, 5.0, 200, 'delivered' FROM callhook_delivery_outbox "
                    "WHERE finished_at IS NOT NULL"
                )
            )

        await store.write(finish)
        cutoffs = Cutoffs.from_days(int(NOW_S * 1000), deliveries_days=7)
        assert cutoffs == Cutoffs(deliveries=int(NOW_S * 1000) - 7 * DAY_MS)
        purger = Purger(cutoffs, batch=1)
        removed = 0
        while not (step := await store.remove(purger.step)).done:
            removed += step.deliveries

        def left(connection: Connection) -> tuple[list[str], int]:
            calls = connection.execute(
                text("SELECT call_id FROM callhook_delivery_outbox ORDER BY call_id")
            )
            attempts = connection.execute(text("SELECT count(*) FROM callhook_delivery_attempts"))
            return [r[0] for r in calls], attempts.scalar_one()

        assert removed == 2
        assert await store.read(left) == (["new-delivered", "old-pending"], 1)
