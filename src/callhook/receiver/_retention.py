"""``[retention]`` and the purge task that ``callhook serve`` runs for it.

Every ``interval_seconds`` the task removes what is older than the configured horizons, one
small transaction (``batch`` calls or rows) at a time, pausing between transactions so that
the purge takes at most ``duty`` of the database's time: the webhook's own transactions go
on between them at nearly their usual rate (``bench/purge.py`` measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Any, Self

from sqlalchemy.exc import SQLAlchemyError

from callhook._exceptions import ConfigError, StorageError
from callhook.store import Cutoffs, Purger, Store

__all__ = ["RetentionConfig", "RetentionTask"]

logger = logging.getLogger("callhook.receiver")


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """The ``[retention]`` section: horizons in days (``None``: kept forever) and pacing."""

    #: Calls (every row of them) whose last event arrived more than this many days ago.
    calls_days: float | None = None
    #: Kept event bodies and unattributed events received more than this many days ago.
    event_bodies_days: float | None = None
    #: Resolved alerts last updated more than this many days ago.
    alerts_days: float | None = None
    #: Deliveries (the relay's outbox rows, with their request bodies) delivered or given up
    #: more than this many days ago.
    deliveries_days: float | None = None
    #: Seconds between two purge passes.
    interval_seconds: float = 600.0
    #: Calls (or rows) removed per transaction.
    batch: int = 50
    #: At most this fraction of the time is spent in purge transactions.
    duty: float = 0.05

    @property
    def enabled(self) -> bool:
        return any(
            days is not None
            for days in (
                self.calls_days,
                self.event_bodies_days,
                self.alerts_days,
                self.deliveries_days,
            )
        )

    def cutoffs(self, now_ms: int) -> Cutoffs:
        return Cutoffs.from_days(
            now_ms,
            calls_days=self.calls_days,
            event_bodies_days=self.event_bodies_days,
            alerts_days=self.alerts_days,
            deliveries_days=self.deliveries_days,
        )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], source: str) -> RetentionConfig:  # Any: TOML
        known = {f.name for f in fields(cls)}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown setting retention.{key} "
                    f"(known: {', '.join(sorted(known))})",
                    setting=f"retention.{key}",
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"{source}: retention.{key} must be a positive number, got {value!r}",
                    setting=f"retention.{key}",
                )
        if "batch" in table and not isinstance(table["batch"], int):
            raise ConfigError(
                f"{source}: retention.batch must be an integer", setting="retention.batch"
            )
        if table.get("duty", 0.1) > 1:
            raise ConfigError(
                f"{source}: retention.duty must be at most 1", setting="retention.duty"
            )
        return cls(**table)


class RetentionTask:
    """Runs retention passes in the background while entered (``async with``)."""

    def __init__(
        self,
        store: Store,
        config: RetentionConfig,
        *,
        clock: Callable[[], int],
        sleep: Callable[[float], Any] = asyncio.sleep,  # Any: returns an awaitable
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        #: Passes completed, and calls and rows they removed (for tests and ``/metrics``).
        self.passes = 0
        self.calls_removed = 0
        self.rows_removed = 0
        self._body_after = 0

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="callhook-retention")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None

    async def run_pass(self) -> None:
        """One pass: every batch older than the horizons, paced by ``duty``."""
        config = self.config
        purger = Purger(
            config.cutoffs(self.clock()), batch=config.batch, body_after=self._body_after
        )
        calls = rows = 0
        while True:
            started = time.perf_counter()
            step = await self.store.remove(purger.step)
            if step.done:
                break
            calls += step.removed.calls
            rows += step.rows
            spent = time.perf_counter() - started
            await self._sleep(spent * (1 - config.duty) / config.duty)
        self._body_after = purger.body_position
        self.passes += 1
        self.calls_removed += calls
        self.rows_removed += rows
        if rows:
            logger.info("retention.purged calls=%d rows=%d", calls, rows)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_pass()
            except (StorageError, SQLAlchemyError) as exc:  # retried at the next interval
                logger.warning("retention.failed %s: %s", type(exc).__name__, exc)
            await self._sleep(self.config.interval_seconds)
