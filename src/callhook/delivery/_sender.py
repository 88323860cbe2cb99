"""One HTTP attempt of one outbox row, and what it means for the row."""

from __future__ import annotations

import random
import time

from callhook.delivery._clock import Clock
from callhook.delivery._policy import Outcome, RetryPolicy, classify, parse_retry_after
from callhook.delivery._rows import DEAD, DELIVERED, PENDING, AttemptResult, ClaimedRow
from callhook.delivery._signing import request_headers
from callhook.delivery._transport import Reply, SendFailure, Transport

__all__ = ["attempt", "internal_failure"]

_ERROR_LIMIT = 500


async def attempt(
    transport: Transport,
    row: ClaimedRow,
    policy: RetryPolicy,
    clock: Clock,
    rng: random.Random,
) -> AttemptResult:
    """POST ``row`` once and decide: delivered, retry later, or give up."""
    config = row.config
    started_at = clock.time()
    headers = request_headers(
        custom=config.headers,
        secret=config.secret,
        signing_secrets=config.signing_secrets,
        webhook_id=row.webhook_id,
        timestamp=int(started_at),
        body=row.body,
        sequence=row.sequence,
        attempt=row.attempts + 1,
    )
    status: int | None = None
    retry_after: float | None = None
    retryable = True
    error: str | None = None
    t0 = time.perf_counter()
    try:
        reply = await transport.post(row.url, row.body, headers, config.timeout_seconds)
    except SendFailure as exc:
        error = str(exc)
        retryable = exc.retryable
    else:
        status = reply.status
        if not 200 <= status < 300:
            error = _describe(reply)
            retry_after = parse_retry_after(reply.retry_after, started_at)
    latency_ms = (time.perf_counter() - t0) * 1000.0
    outcome = classify(status, retryable_error=retryable)
    timing = (started_at, clock.time(), latency_ms)
    return _result(row, outcome, status, error, retry_after, timing, policy, rng)


def internal_failure(
    row: ClaimedRow, exc: Exception, policy: RetryPolicy, clock: Clock, rng: random.Random
) -> AttemptResult:
    """The result of an attempt that crashed inside callhook: retried like a network error."""
    now = clock.time()
    error = f"internal error: {type(exc).__name__}: {exc}"
    return _result(row, Outcome.RETRY, None, error, None, (now, now, 0.0), policy, rng)


def _result(
    row: ClaimedRow,
    outcome: Outcome,
    status: int | None,
    error: str | None,
    retry_after: float | None,
    timing: tuple[float, float, float],
    policy: RetryPolicy,
    rng: random.Random,
) -> AttemptResult:
    """``timing``: when the attempt started and ended (clock), and its latency in ms."""
    started_at, ended_at, latency_ms = timing
    next_attempt_at = ended_at
    disable = False
    if outcome is Outcome.DELIVERED:
        new_status = DELIVERED
    elif outcome is Outcome.RETRY:
        allowed = policy.attempts_for(row.config.max_retries)
        delay = policy.next_delay(
            attempts_made=row.window_attempts + 1,
            allowed=allowed,
            elapsed=ended_at - row.window_start,
            retry_after=retry_after,
            rng=rng,
        )
        if delay is None:
            new_status = DEAD
            error = f"gave up after {row.window_attempts + 1} attempts: {error}"
        else:
            new_status = PENDING
            next_attempt_at = ended_at + delay
    else:
        new_status = DEAD
        disable = outcome is Outcome.DISABLE
        if disable:
            error = f"{error}; endpoint disabled until a replay re-enables it"
    if error is not None:
        # What a server says ends up in a database text column: no NUL (PostgreSQL refuses it).
        error = error.replace("\x00", "\\x00")
        if len(error) > _ERROR_LIMIT:
            error = error[:_ERROR_LIMIT] + "..."
    return AttemptResult(
        row=row,
        started_at=started_at,
        latency_ms=latency_ms,
        status_code=status,
        outcome=outcome.value,
        error=error,
        new_status=new_status,
        next_attempt_at=next_attempt_at,
        disable_endpoint=disable,
    )


def _describe(reply: Reply) -> str:
    text = f"HTTP {reply.status}"
    if reply.reason:
        text += f" {reply.reason}"
    if 300 <= reply.status < 400:
        text += " (redirects are not followed"
        text += f"; Location: {reply.location})" if reply.location else ")"
    return text
