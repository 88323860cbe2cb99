"""``/metrics``: the outbox's rows to act on, backlog and oldest pending age per target, read
from the database at each scrape (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callhook.store import Store
from tests.receiver.deliveries import BILLING, CRM, KNOWN_ROWS, SECRET, insert_rows
from tests.receiver.test_deliveries_api import http

pytestmark = pytest.mark.asyncio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("callhook_delivery_")
    }


async def test_metrics_show_each_targets_rows_backlog_and_oldest_pending(store: Store) -> None:
    async with http(store) as client:
        assert samples((await client.get("/metrics")).text) == {}  # an empty outbox
        now = time.time()
        insert_rows(store.engine, KNOWN_ROWS, now)
        text = (await client.get("/metrics")).text
    assert SECRET not in text and "crm-password" not in text and "query-secret" not in text
    found = samples(text)

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    assert value("callhook_delivery_rows", target=CRM, status="pending") == 1
    assert value("callhook_delivery_rows", target=CRM, status="retrying") == 1
    assert value("callhook_delivery_rows", target=CRM, status="dead") == 2
    assert value("callhook_delivery_rows", target=BILLING, status="dead") == 1
    assert value("callhook_delivery_rows", target=BILLING, status="pending") == 0
    assert value("callhook_delivery_backlog", target=CRM) == 2
    assert value("callhook_delivery_backlog", target=BILLING) == 0
    # the oldest pending CRM row was created 4 minutes before now (scraped just after)
    age = value("callhook_delivery_oldest_pending_seconds", target=CRM)
    assert 240 <= age < 240 + (time.time() - now) + 1
    assert value("callhook_delivery_oldest_pending_seconds", target=BILLING) == 0
