"""Per-target figures of the outbox: what ``GET /api/deliveries/targets`` and ``/metrics`` show.

``target_states`` counts the rows still to act on (pending, retrying, dead) per target, and
the oldest pending one, from ``ix_callhook_delivery_outbox_state`` alone: its cost follows the
backlog and the dead letters, never the delivered rows. ``target_summary`` adds, per target,
the attempts of a time range in buckets (``ix_callhook_delivery_attempts_started``): attempts,
delivered, failed, success rate and latency p50/p95 (nearest rank), read newest first up to
``MAX_ATTEMPT_ROWS``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, select

from callhook.delivery import safe_url
from callhook.receiver._delivery_queries import ATTEMPTS, OUTBOX, ms

__all__ = ["MAX_ATTEMPT_ROWS", "TargetState", "target_states", "target_summary"]

Json = dict[str, Any]  # Any: JSON values

#: Most attempt rows one summary reads (the newest of the range).
MAX_ATTEMPT_ROWS = 200_000


@dataclass(slots=True)
class TargetState:
    """Rows of one target still to act on; ``oldest_pending``: unix seconds, or ``None``."""

    pending: int = 0
    retrying: int = 0
    dead: int = 0
    oldest_pending: float | None = None

    @property
    def backlog(self) -> int:
        return self.pending + self.retrying


def target_states(conn: Connection) -> dict[str, TargetState]:
    """Pending (never attempted), retrying and dead rows per target, and the oldest pending."""
    query = (
        select(
            OUTBOX.c.status,
            OUTBOX.c.url,
            func.count(),
            func.sum(case((OUTBOX.c.attempts > 0, 1), else_=0)),
            func.min(OUTBOX.c.created_at),
        )
        .where(OUTBOX.c.status.in_(["pending", "dead"]))
        .group_by(OUTBOX.c.status, OUTBOX.c.url)
    )
    states: dict[str, TargetState] = {}
    for status, url, rows, attempted, oldest in conn.execute(query):
        state = states.setdefault(safe_url(url), TargetState())
        if status == "dead":
            state.dead += rows
            continue
        state.retrying += int(attempted or 0)
        state.pending += rows - int(attempted or 0)
        if state.oldest_pending is None or oldest < state.oldest_pending:
            state.oldest_pending = oldest
    return states


@dataclass(slots=True)
class _Bucket:
    delivered: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, outcome: str, latency_ms: float) -> None:
        if outcome == "delivered":
            self.delivered += 1
        else:
            self.failed += 1
        self.latencies.append(latency_ms)

    def figures(self) -> Json:
        attempts = self.delivered + self.failed
        ranked = sorted(self.latencies)
        return {
            "attempts": attempts,
            "delivered": self.delivered,
            "failed": self.failed,
            "successRate": self.delivered / attempts if attempts else None,
            "p50": _rank(ranked, 0.50),
            "p95": _rank(ranked, 0.95),
        }


def _rank(ranked: list[float], q: float) -> float | None:
    if not ranked:
        return None
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]


def target_summary(
    conn: Connection, since: int, until: int, bucket_ms: int, known: Iterable[str] = ()
) -> Json:
    """Every target (those ``known`` too) with rows to act on or attempts in ``[since,
    until)`` (epoch ms): its
    current pending / retrying / dead counts, backlog and oldest pending row, and over the
    range its attempts, ``delivered`` (attempts that delivered), success rate and latency,
    in total and per bucket (``points``, oldest first)."""
    starts = list(range(since, until, bucket_ms))
    rows = conn.execute(
        select(ATTEMPTS.c.url, ATTEMPTS.c.started_at, ATTEMPTS.c.latency_ms, ATTEMPTS.c.outcome)
        .where(ATTEMPTS.c.started_at >= since / 1000, ATTEMPTS.c.started_at < until / 1000)
        .order_by(ATTEMPTS.c.started_at.desc())
        .limit(MAX_ATTEMPT_ROWS)
    ).all()
    totals: dict[str, _Bucket] = {}
    buckets: dict[str, list[_Bucket]] = {}
    for url, started_at, latency_ms, outcome in rows:
        target = safe_url(url)
        if target not in totals:
            totals[target] = _Bucket()
            buckets[target] = [_Bucket() for _ in starts]
        totals[target].add(outcome, latency_ms)
        index = min(len(starts) - 1, max(0, (round(started_at * 1000) - since) // bucket_ms))
        buckets[target][index].add(outcome, latency_ms)
    states = target_states(conn)
    targets = []
    for target in sorted(set(states) | set(totals) | set(known)):
        state = states.get(target, TargetState())
        total = totals.get(target, _Bucket())
        series = buckets.get(target) or [_Bucket() for _ in starts]
        targets.append(
            {
                "target": target,
                "pending": state.pending,
                "retrying": state.retrying,
                "dead": state.dead,
                "backlog": state.backlog,
                "oldestPendingAt": ms(state.oldest_pending),
                **total.figures(),
                "points": [
                    {"start": start, **bucket.figures()}
                    for start, bucket in zip(starts, series, strict=True)
                ],
            }
        )
    return {
        "since": since,
        "until": until,
        "bucketMs": bucket_ms,
        "truncated": len(rows) == MAX_ATTEMPT_ROWS,
        "targets": targets,
    }
