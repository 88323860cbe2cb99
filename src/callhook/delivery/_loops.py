"""The Dispatcher's three background tasks, which share one database thread.

- ``callhook-delivery-writer`` stores accepted events in batches (one commit per batch; a
  batch the database refuses is split, so one bad row loses no other);
- ``callhook-delivery-claimer`` leases due head rows in batches and starts their requests,
  each a tracked task;
- ``callhook-delivery-recorder`` stores the attempts' results in batches and wakes the claimer.

``Loops`` holds them and the state they share; ``Dispatcher`` adds the public API and the
lifecycle on top.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from callhook._exceptions import DeliveryError
from callhook.delivery._clock import Clock
from callhook.delivery._driver import OutboxError
from callhook.delivery._outbox import Outbox
from callhook.delivery._payload import safe_url
from callhook.delivery._policy import RetryPolicy
from callhook.delivery._rows import AttemptResult, ClaimedRow, NewRow
from callhook.delivery._sender import attempt, internal_failure
from callhook.delivery._transport import Transport

__all__ = ["Loops", "db_error"]

logger = logging.getLogger("callhook.delivery")

#: Seconds between recomputations of the per-call heads.
_REPAIR_EVERY = 10.0

P = ParamSpec("P")
T = TypeVar("T")


class Loops:
    """The background tasks of a ``Dispatcher`` and the state they share."""

    _outbox: Outbox
    _policy: RetryPolicy
    _clock: Clock
    _rng: random.Random
    _owner: str
    _max_in_flight: int
    _per_endpoint: int
    _lease_margin: float
    _poll_interval: float | None
    _batch_interval: float
    _stopping: bool
    _sends_over: bool
    _executor: ThreadPoolExecutor | None
    _client: Transport | None
    _sends: set[asyncio.Task[None]]
    _inserts: list[tuple[NewRow | None, asyncio.Future[None] | None]]
    _writing: bool
    _results: list[AttemptResult]
    _in_flight: dict[int, str]
    _per_url: Counter[str]
    _insert_wake: asyncio.Event
    _result_wake: asyncio.Event
    _wake: asyncio.Event
    _progress: asyncio.Future[None] | None

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            raise DeliveryError("The Dispatcher's database thread is not running.")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    async def _writer_loop(self) -> None:
        while True:
            await self._insert_wake.wait()
            self._insert_wake.clear()
            batch, self._inserts = self._inserts, []
            rows = [row for row, _ in batch if row is not None]
            failed: dict[str, DeliveryError] = {}
            if rows:
                self._writing = True
                try:
                    failed = await self._store(rows)
                finally:
                    self._writing = False
            for row, done in batch:
                error = failed.get(row.webhook_id) if row is not None else None
                if error is not None and done is None:
                    logger.error(
                        "delivery.store_failed call=%s event=%s error=%s",
                        row.call_id if row is not None else "",
                        row.event_type if row is not None else "",
                        error,
                    )
                if done is not None and not done.done():
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
            self._wake.set()
            self._notify_progress()
            if self._stopping and not self._inserts:
                return

    async def _store(self, rows: list[NewRow]) -> dict[str, DeliveryError]:
        """Insert ``rows`` in one commit; when that fails, in halves (in order), so that one
        row the database refuses loses no other. Returns the errors by ``webhook-id``."""
        try:
            await self._db(self._outbox.insert, rows, self._clock.time())
        except (sa.exc.SQLAlchemyError, OutboxError) as exc:
            if len(rows) == 1:
                [row] = rows
                error = DeliveryError(
                    f"Could not store the event in the outbox: {db_error(exc)}",
                    call_id=row.call_id,
                    event_type=row.event_type,
                )
                return {row.webhook_id: error}
            half = len(rows) // 2
            return {**await self._store(rows[:half]), **await self._store(rows[half:])}
        return {}

    # -- sending -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        repaired_at = -math.inf
        while not self._stopping:
            self._wake.clear()
            free = self._max_in_flight - len(self._in_flight)
            now = self._clock.time()
            if now - repaired_at >= _REPAIR_EVERY:
                # A head is lost when a lease expires after a crash during a replay; rare and
                # cheap (an index scan of the pending rows), so done under load too.
                await self._db(self._outbox.repair_heads, now)
                repaired_at = now
            claimed: list[ClaimedRow] = []
            if free > 0:
                room = {url: self._per_endpoint - n for url, n in self._per_url.items()}
                claimed = await self._db(
                    self._outbox.claim,
                    now,
                    self._owner,
                    limit=free,
                    free=room,
                    default_free=self._per_endpoint,
                    lease_margin=self._lease_margin,
                )
            if self._stopping:
                await self._db(self._outbox.release, [row.id for row in claimed], self._owner)
                return
            for row in claimed:
                self._in_flight[row.id] = row.url
                self._per_url[row.url] += 1
                task = asyncio.create_task(
                    self._send(row), name=f"callhook-delivery-send-{row.webhook_id}"
                )
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
            if self._batch_interval > 0:
                await asyncio.sleep(self._batch_interval)  # the next claim takes more rows
            if claimed and len(claimed) >= free:
                await asyncio.sleep(0)
                continue  # there may be more; claim again once the loop has run
            if claimed:
                await self._wait(self._poll_interval)
                continue
            if self._in_flight or free <= 0:
                await self._wait(self._poll_interval)
                continue
            due = await self._db(self._outbox.next_due, now)
            self._notify_progress()
            if due is None:
                await self._wait(self._poll_interval)
            else:
                delay = max(0.0, due - now)
                if self._poll_interval is not None:
                    delay = min(delay, self._poll_interval)
                await self._wait(delay)

    async def _wait(self, delay: float | None) -> None:
        """Until woken, or ``delay`` seconds on the injected clock (``None``: no limit)."""
        if self._wake.is_set():
            return
        if delay is None:
            await self._wake.wait()
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waiter):
                task.cancel()

    async def _send(self, row: ClaimedRow) -> None:
        assert self._client is not None
        try:
            result = await attempt(self._client, row, self._policy, self._clock, self._rng)
        except Exception as exc:  # a bug must not leave the row in flight forever: record it
            logger.exception("delivery.attempt_crashed call=%s", row.call_id)
            result = internal_failure(row, exc, self._policy, self._clock, self._rng)
        self._results.append(result)
        self._result_wake.set()

    async def _record_loop(self) -> None:
        while True:
            await self._result_wake.wait()
            self._result_wake.clear()
            batch, self._results = self._results, []
            if batch:
                try:
                    await self._db(self._outbox.record, batch, self._clock.time())
                except (sa.exc.SQLAlchemyError, OutboxError) as exc:
                    logger.error(
                        "delivery.record_failed attempts=%s error=%s; the rows are sent again "
                        "when their lease expires",
                        len(batch),
                        db_error(exc),
                    )
                for result in batch:
                    self._in_flight.pop(result.row.id, None)
                    self._per_url[result.row.url] -= 1
                    if self._per_url[result.row.url] <= 0:
                        del self._per_url[result.row.url]
                    _log_result(result)
                self._wake.set()
                self._notify_progress()
                if self._batch_interval > 0 and not self._sends_over:
                    await asyncio.sleep(self._batch_interval)  # more results per record
            if self._sends_over and not self._results:
                return

    def _notify_progress(self) -> None:
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)
        self._progress = None


def db_error(exc: sa.exc.SQLAlchemyError | OutboxError) -> str:
    """The driver's message, without the statement parameters (bodies and secrets)."""
    if isinstance(exc, OutboxError):
        return str(exc)
    orig = getattr(exc, "orig", None)
    return f"{type(orig).__name__}: {orig}" if orig is not None else type(exc).__name__


def _log_result(result: AttemptResult) -> None:
    row = result.row
    if result.new_status == "dead":
        logger.warning(
            "delivery.given_up call=%s event=%s url=%s attempts=%s error=%s",
            row.call_id,
            row.event_type,
            safe_url(row.url),
            row.attempts + 1,
            result.error,
        )
    elif result.new_status == "pending":
        logger.info(
            "delivery.retry_scheduled call=%s event=%s url=%s attempt=%s error=%s",
            row.call_id,
            row.event_type,
            safe_url(row.url),
            row.attempts + 1,
            result.error,
        )
