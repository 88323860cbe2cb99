"""The delivery log and dead letters: listing rows and attempts, counting them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from callhook.delivery._rows import DEAD, DELIVERED, PENDING
from callhook.delivery._tables import ATTEMPTS, OUTBOX

__all__ = [
    "DELIVERY_COLUMNS",
    "AttemptRecord",
    "DeliveryRecord",
    "OutboxStats",
    "list_attempts",
    "list_deliveries",
    "outbox_stats",
]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One outbox row: an event for one endpoint, and where its delivery stands."""

    id: int
    webhook_id: str
    call_id: str
    event_type: str
    url: str
    sequence: int
    #: pending | delivered | dead
    status: str
    attempts: int
    created_at: float
    next_attempt_at: float
    finished_at: float | None
    last_status_code: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One HTTP attempt of a delivery."""

    attempt: int
    url: str
    started_at: float
    latency_ms: float
    status_code: int | None
    #: delivered | retry | give-up | disable
    outcome: str
    error: str | None


#: The columns of a ``DeliveryRecord`` (no body, no configuration: they may hold secrets).
DELIVERY_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.webhook_id,
    OUTBOX.c.call_id,
    OUTBOX.c.event_type,
    OUTBOX.c.url,
    OUTBOX.c.sequence,
    OUTBOX.c.status,
    OUTBOX.c.attempts,
    OUTBOX.c.created_at,
    OUTBOX.c.next_attempt_at,
    OUTBOX.c.finished_at,
    OUTBOX.c.last_status_code,
    OUTBOX.c.last_error,
)


def list_deliveries(
    engine: sa.Engine,
    *,
    failed: bool = False,
    call_id: str | None = None,
    ids: Sequence[int] | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """Outbox rows, newest first; ``failed``: only dead letters (given up)."""
    query = sa.select(*DELIVERY_COLUMNS).order_by(OUTBOX.c.id.desc()).limit(limit)
    if ids is not None:
        query = query.where(OUTBOX.c.id.in_(list(ids)))
    if failed:
        query = query.where(OUTBOX.c.status == DEAD)
    if call_id is not None:
        query = query.where(OUTBOX.c.call_id == call_id)
    with engine.connect() as conn:
        return [DeliveryRecord(**row._asdict()) for row in conn.execute(query)]


def list_attempts(engine: sa.Engine, delivery_id: int) -> list[AttemptRecord]:
    """Every attempt of the outbox row ``delivery_id``, in order."""
    query = (
        sa.select(
            ATTEMPTS.c.attempt,
            ATTEMPTS.c.url,
            ATTEMPTS.c.started_at,
            ATTEMPTS.c.latency_ms,
            ATTEMPTS.c.status_code,
            ATTEMPTS.c.outcome,
            ATTEMPTS.c.error,
        )
        .where(ATTEMPTS.c.outbox_id == delivery_id)
        .order_by(ATTEMPTS.c.attempt, ATTEMPTS.c.id)
    )
    with engine.connect() as conn:
        return [AttemptRecord(**row._asdict()) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts over the whole outbox: rows by state, and HTTP attempts."""

    pending: int
    delivered: int
    dead: int
    #: Every HTTP attempt made, and those that did not deliver (errors, non-2xx).
    attempts: int
    failed_attempts: int
    #: Attempts beyond each row's first.
    retries: int


def outbox_stats(engine: sa.Engine) -> OutboxStats:
    """How the outbox stands, in two aggregate queries."""
    with engine.connect() as connection:
        states = {
            status: count
            for status, count in connection.execute(
                sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
            ).all()
        }
        retries = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(OUTBOX.c.attempts - 1), 0)).where(
                OUTBOX.c.attempts > 1
            )
        ).scalar_one()
        attempts, failed = connection.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(ATTEMPTS.c.outcome != DELIVERED),
            )
        ).one()
    return OutboxStats(
        pending=states.get(PENDING, 0),
        delivered=states.get(DELIVERED, 0),
        dead=states.get(DEAD, 0),
        attempts=attempts,
        failed_attempts=failed,
        retries=int(retries),
    )
