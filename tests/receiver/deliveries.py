"""A known set of outbox rows for the deliveries API, dashboard and metrics tests."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import sqlalchemy as sa

from callhook.delivery import METADATA, ServerConfig
from callhook.events import EventType
from callhook.store import write_transaction

OUTBOX = METADATA.tables["callhook_delivery_outbox"]
ATTEMPTS = METADATA.tables["callhook_delivery_attempts"]

#: Stored with credentials and a query (a token), shown without them.
CRM_URL = "http://crm-user:crm-password@127.0.0.1:9/hooks?key=query-secret"
CRM = "http://127.0.0.1:9/hooks"
BILLING = "http://127.0.0.1:9/billing"
SECRET = "whsec-config-secret"


@dataclass(frozen=True, slots=True)
class Row:
    call_id: str
    url: str
    status: str  # pending | delivered | dead
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    latencies: tuple[float, ...] = ()  # one per attempt; the last delivers when delivered


#: CRM: 3 delivered, 1 pending, 1 retrying, 2 dead; billing: 1 delivered, 1 dead.
KNOWN_ROWS = (
    Row("call-a", CRM_URL, "delivered", 1, 200, None, (40.0,)),
    Row("call-a", CRM_URL, "delivered", 2, 200, None, (500.0, 60.0)),
    Row("call-b", CRM_URL, "delivered", 1, 204, None, (80.0,)),
    Row("call-b", CRM_URL, "dead", 2, 500, "HTTP 500 Internal Server Error", (10.0, 20.0)),
    Row("call-c", CRM_URL, "dead", 1, 410, "HTTP 410 Gone", (30.0,)),
    Row("call-c", CRM_URL, "pending", 1, 503, "HTTP 503", (100.0,)),
    Row("call-d", CRM_URL, "pending"),
    Row("call-a", BILLING, "delivered", 1, 200, None, (20.0,)),
    Row("call-d", BILLING, "dead", 1, None, "ConnectError: refused", (5.0,)),
)


def config_for(url: str) -> bytes:
    return msgspec.json.encode(
        ServerConfig(
            url=url,
            messages=frozenset(EventType),
            secret=SECRET,
            headers={"x-api-key": "header-secret"},
            max_retries=0,
        )
    )


def insert_rows(engine: sa.Engine, rows: tuple[Row, ...], now: float) -> list[int]:
    """Insert ``rows`` (created a minute apart, oldest first, ending ``now - 60``) with their
    attempts (started at the row's creation); returns their ids."""
    ids = []
    sequences: dict[str, int] = {}
    with write_transaction(engine) as conn:
        for n, row in enumerate(rows):
            created = now - 60 * (len(rows) - n)
            sequence = sequences[row.call_id] = sequences.get(row.call_id, 0) + 1
            finished = created + 1 if row.status != "pending" else None
            result = conn.execute(
                OUTBOX.insert().values(
                    webhook_id=f"msg_{n}",
                    call_id=row.call_id,
                    event_type="status-update",
                    url=row.url,
                    sequence=sequence,
                    body=b'{"message":{"type":"status-update"}}',
                    config=config_for(row.url),
                    status=row.status,
                    is_head=False,
                    attempts=row.attempts,
                    window_attempts=row.attempts,
                    window_start=created,
                    created_at=created,
                    next_attempt_at=created + 30,
                    finished_at=finished,
                    last_status_code=row.last_status_code,
                    last_error=row.last_error,
                )
            )
            outbox_id = result.inserted_primary_key[0]
            ids.append(outbox_id)
            for attempt, latency in enumerate(row.latencies, 1):
                last = attempt == len(row.latencies)
                outcome = "retry"
                if last and row.status == "delivered":
                    outcome = "delivered"
                elif last and row.status == "dead":
                    outcome = "give-up"
                conn.execute(
                    ATTEMPTS.insert().values(
                        outbox_id=outbox_id,
                        attempt=attempt,
                        url=row.url,
                        started_at=created + attempt,
                        latency_ms=latency,
                        status_code=row.last_status_code if last else 500,
                        outcome=outcome,
                        error=None if outcome == "delivered" else row.last_error,
                    )
                )
    return ids
