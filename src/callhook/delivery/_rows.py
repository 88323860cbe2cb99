"""The rows delivery passes around: accepted, claimed, attempted; and their states."""

from __future__ import annotations

from dataclasses import dataclass

from callhook.delivery._config import ServerConfig

__all__ = ["DEAD", "DELIVERED", "PENDING", "AttemptResult", "ClaimedRow", "NewRow"]

#: The states of an outbox row.
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True, slots=True)
class NewRow:
    """An event accepted for one endpoint, before it gets its per-call sequence number."""

    webhook_id: str
    call_id: str
    event_type: str
    url: str
    body: bytes
    config: ServerConfig


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A row leased to this worker for one attempt."""

    id: int
    webhook_id: str
    call_id: str
    event_type: str
    url: str
    sequence: int
    body: bytes
    config: ServerConfig
    attempts: int
    window_attempts: int
    window_start: float


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt did and what becomes of its row."""

    row: ClaimedRow
    started_at: float
    latency_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    #: pending (retry at ``next_attempt_at``), delivered or dead
    new_status: str
    next_attempt_at: float
    disable_endpoint: bool = False
