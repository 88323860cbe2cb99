"""The ``Monitor``: live evaluation of decoded events, off the ingest path.

The receiver calls ``observe(event, received_at_ms)`` after the ack is committed, with the
decoded event (``Event``) or the fast path's ``LazyEvent`` as it is. ``observe`` only puts the
pair in a bounded queue (O(1), never awaits, never raises on a full queue: the event is
dropped and counted in ``stats.dropped``). Three named background tasks do the rest:

- ``callhook-monitor-evaluate``: runs ``MonitorCore.process`` on each queued event;
- ``callhook-monitor-tick``: runs ``MonitorCore.tick`` every ``tick_s`` (windows slide, stale
  calls, resolutions);
- ``callhook-monitor-notify``: saves alerts to the ``AlertStore``, sends notices to the sinks,
  performs remediation;
- ``callhook-monitor-sentiment`` (with ``sentiment_workers``): hands user messages to the
  worker processes that score them.

A failing sink or remediation request is logged (``monitor.sink_failed``,
``monitor.remediation_failed``) and counted; it never stops the other sinks or evaluation.

When the ``AlertStore`` is also a ``MonitorHistory`` (``SqlAlertStore``), each hang impact
that changed and each new sentiment score is handed to it as soon as it is known.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import aiohttp
import msgspec

from callhook._exceptions import CallhookError
from callhook.events import Call, Event, LazyEvent
from callhook.monitor._alerts import Alert, AlertStore, InMemoryAlertStore
from callhook.monitor._config import MonitorConfig
from callhook.monitor._core import MonitorCore
from callhook.monitor._history import MonitorHistory
from callhook.monitor._impact import HangImpact
from callhook.monitor._outcome import Outcome
from callhook.monitor._patterns import CallRecord, Dimension, IncidentRecord, PatternRow
from callhook.monitor._patterns import analyze_patterns as _analyze
from callhook.monitor._remediation import RemediationError, Remediator
from callhook.monitor._sentiment import CallSentiment, SentimentPool, trajectory
from callhook.monitor._sinks import AlertSink, AlertSinkError, build_sinks

__all__ = ["Monitor", "MonitorClosedError", "MonitorStats"]

logger = logging.getLogger("callhook.monitor")

_CLOSE_TIMEOUT_S = 5.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MonitorClosedError(CallhookError):
    """The monitor is used outside ``async with`` (before it started or after it closed)."""


class MonitorStats(msgspec.Struct, frozen=True, kw_only=True):
    observed: int
    processed: int
    dropped: int
    queued: int
    evaluation_failures: int
    store_failures: int
    sink_failures: int
    remediation_failures: int


class Monitor:
    """Rules, alerting, remediation, hang impact and sentiment for a stream of events.

    ``clock`` returns epoch milliseconds (like the receiver's clock); tests pass a fake one.
    ``sinks=None`` builds the sinks of ``config.sinks``; ``client`` is the ``aiohttp.ClientSession``
    for webhooks and remediation (one is created, and closed, when not given).
    """

    def __init__(
        self,
        config: MonitorConfig | None = None,
        *,
        store: AlertStore | None = None,
        sinks: Sequence[AlertSink] | None = None,
        client: aiohttp.ClientSession | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.config = config or MonitorConfig()
        self.core = MonitorCore(self.config)
        self.store: AlertStore = store or InMemoryAlertStore()
        self._sinks = list(sinks) if sinks is not None else None
        self._client = client
        self._own_client = False
        self._clock = clock
        self._queue: asyncio.Queue[tuple[Event | LazyEvent, float]] | None = None
        self._outbox: asyncio.Queue[Outcome] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._remediator: Remediator | None = None
        self._sentiment: SentimentPool | None = None
        self._closed = False
        self._observed = self._processed = self._dropped = 0
        self._evaluation_failures = self._sink_failures = self._remediation_failures = 0
        self._store_failures = 0
        self._history = self.store if isinstance(self.store, MonitorHistory) else None
        #: What the history was last given, per call (impacts; number of scores).
        self._recorded_impacts: dict[str, frozenset[HangImpact]] = {}
        self._recorded_scores: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._closed or self._queue is not None:
            raise MonitorClosedError("a Monitor can be entered once; create a new one")
        if self._client is None:
            self._client = aiohttp.ClientSession(trust_env=False)
            self._own_client = True
        if self._sinks is None:
            self._sinks = build_sinks(self.config.sinks, self._client)
        self._remediator = Remediator(self._client, timeout_s=self.config.remediation.timeout_s)
        self._queue = asyncio.Queue(self.config.queue_size)
        self._outbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._evaluate(), name="callhook-monitor-evaluate"),
            asyncio.create_task(self._notify(), name="callhook-monitor-notify"),
            asyncio.create_task(self._ticker(), name="callhook-monitor-tick"),
        ]
        if self.config.sentiment and self.config.sentiment_workers:
            self._sentiment = SentimentPool(self.config.sentiment_workers, self._scored)
            self.core.defer_sentiment = True
            self._tasks.append(
                asyncio.create_task(self._sentiment.run(), name="callhook-monitor-sentiment")
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        try:
            await asyncio.wait_for(self.drain(), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            logger.warning("monitor.close_timeout queued=%s", self.stats.queued)
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=_CLOSE_TIMEOUT_S)
        self._tasks = []
        if self._sentiment is not None:
            await self._sentiment.close()
        if self._own_client and self._client is not None:
            await self._client.close()

    # -- the hot path ----------------------------------------------------------------------

    def observe(self, event: Event | LazyEvent, received_at_ms: int | None = None) -> bool:
        """Queue a decoded event for evaluation; ``False`` if it was not queued (queue full:
        dropped and counted; or ``[monitor] enabled = false``: ignored).

        Never blocks, never awaits. ``received_at_ms`` (epoch ms) defaults to the clock.
        """
        queue = self._queue
        if queue is None or self._closed:
            raise MonitorClosedError(
                "Monitor.observe() called outside `async with Monitor(...)`; "
                "enter the monitor before feeding it events"
            )
        if not self.config.enabled:
            return False
        self._observed += 1
        try:
            at = self._clock() if received_at_ms is None else received_at_ms
            queue.put_nowait((event, at / 1000))
        except asyncio.QueueFull:
            self._dropped += 1
            return False
        return True

    async def submit(self, event: Event | LazyEvent, received_at_ms: int) -> None:
        """Queue a decoded event for evaluation, waiting for room in the queue instead of
        dropping it (for a feeder that may wait, such as the monitor's child process)."""
        queue = self._queue
        if queue is None or self._closed:
            raise MonitorClosedError(
                "Monitor.submit() called outside `async with Monitor(...)`; "
                "enter the monitor before feeding it events"
            )
        if not self.config.enabled:
            return
        self._observed += 1
        await queue.put((event, received_at_ms / 1000))

    async def drain(self) -> None:
        """Wait until every queued event is evaluated and its outcome carried out."""
        if self._queue is None or self._outbox is None:
            return
        await self._queue.join()
        await self._outbox.join()
        if self._sentiment is not None:
            await self._sentiment.join()
        if self._history is not None:
            await self._history.flush()

    # -- the synchronous core, for tests and callers that own the loop ---------------------

    def process(self, event: Event | LazyEvent, now_s: float) -> Outcome:
        """Evaluate one event at ``now_s`` (epoch **seconds**), synchronously: the outcome is
        returned, not carried out (no store, no sinks, no remediation)."""
        return self.core.process(event, now_s)

    def tick(self, now_s: float) -> Outcome:
        """Re-evaluate every rule at ``now_s`` (epoch seconds), synchronously."""
        return self.core.tick(now_s)

    # -- background tasks ------------------------------------------------------------------

    async def _evaluate(self) -> None:
        assert self._queue is not None and self._outbox is not None
        while True:
            event, received_at = await self._queue.get()
            try:
                outcome = self.core.process(event, received_at)
            # The monitor must never take ingest down: a bug in one rule loses that event's
            # evaluation, is logged with its traceback and counted, and evaluation goes on.
            except Exception:
                self._evaluation_failures += 1
                call = event.call
                call_id = call.id if isinstance(call, Call) else None
                logger.exception("monitor.evaluation_failed call_id=%s", call_id)
            else:
                self._processed += 1
                if self._history is not None and isinstance(event.call, Call):
                    self._record(event.call.id)
                backlog = self.core.sentiment_backlog
                if backlog and self._sentiment is not None:
                    self._sentiment.submit(backlog.copy())
                    backlog.clear()
                if outcome.saves or outcome.notices or outcome.actions:
                    self._outbox.put_nowait(outcome)
            finally:
                self._queue.task_done()
            # get() does not suspend while events are queued: yield after each one so that a
            # backlog never holds the event loop (and the receiver's requests) for long.
            await asyncio.sleep(0)

    async def _ticker(self) -> None:
        assert self._outbox is not None
        while True:
            await asyncio.sleep(self.config.tick_s)
            try:
                outcome = self.core.tick(self._clock() / 1000)
            except Exception:  # as in _evaluate: log, count, keep ticking
                self._evaluation_failures += 1
                logger.exception("monitor.tick_failed")
                continue
            if outcome.saves or outcome.notices or outcome.actions:
                self._outbox.put_nowait(outcome)
            for call_id in [c for c in self._recorded_scores if c not in self.core.calls]:
                del self._recorded_scores[call_id]
            for call_id in [c for c in self._recorded_impacts if c not in self.core.calls]:
                del self._recorded_impacts[call_id]

    def _scored(self, call_id: str, message_id: str, ts: float | None, compound: float) -> None:
        self.core.add_sentiment(call_id, message_id, ts, compound)
        if self._history is not None:
            self._record(call_id)

    def _record(self, call_id: str) -> None:
        """Hand the history what changed in the call's hang impacts and sentiment."""
        assert self._history is not None
        state = self.core.calls.get(call_id)
        if state is None:
            return
        impacts = state.hangs.impacts
        if impacts:
            before = self._recorded_impacts.get(call_id, frozenset())
            changed = [i for i in impacts if i not in before]
            if changed:
                self._history.record_impacts(changed)
                self._recorded_impacts[call_id] = frozenset(impacts)
        done = self._recorded_scores.get(call_id, 0)
        if len(state.sentiment) > done:
            self._history.record_sentiment(call_id, state.sentiment[done:])
            self._recorded_scores[call_id] = len(state.sentiment)

    async def _notify(self) -> None:
        assert self._outbox is not None
        while True:
            outcome = await self._outbox.get()
            try:
                await self._carry_out(outcome)
            finally:
                self._outbox.task_done()

    async def _carry_out(self, outcome: Outcome) -> None:
        for alert in outcome.saves:
            try:
                await self.store.save(alert)
            # The store is the caller's (SQL in the receiver); whatever it raises, the notices
            # and remediation of this outcome must still go out: log with traceback, count.
            except Exception:
                self._store_failures += 1
                logger.exception("monitor.store_failed alert_id=%s", alert.id)
        for notice in outcome.notices:
            results = await asyncio.gather(
                *(sink.send(notice) for sink in self._sinks or ()), return_exceptions=True
            )
            for result in results:
                if isinstance(result, AlertSinkError):
                    self._sink_failures += 1
                    logger.warning("monitor.sink_failed %s", result)
                elif isinstance(result, BaseException):
                    # A third-party sink broke its contract (raise AlertSinkError); the other
                    # sinks and later notices must still go out, so log it with its traceback.
                    self._sink_failures += 1
                    logger.error("monitor.sink_crashed %s", type(result).__name__, exc_info=result)
        for action in outcome.actions:
            assert self._remediator is not None
            try:
                await self._remediator.perform(action)
            except RemediationError as exc:
                self._remediation_failures += 1
                logger.warning("monitor.remediation_failed %s", exc)

    # -- read side -------------------------------------------------------------------------

    @property
    def stats(self) -> MonitorStats:
        return MonitorStats(
            observed=self._observed,
            processed=self._processed,
            dropped=self._dropped,
            queued=self._queue.qsize() if self._queue else 0,
            evaluation_failures=self._evaluation_failures,
            store_failures=self._store_failures,
            sink_failures=self._sink_failures,
            remediation_failures=self._remediation_failures,
        )

    def open_alerts(self) -> list[Alert]:
        """Alerts firing now (the history is in ``store``)."""
        return self.core.open_alerts()

    def hang_impacts(self, call_id: str | None = None) -> list[HangImpact]:
        """Recovery, repetition and abandonment of each hang (of one call, or of all)."""
        return self.core.hang_impacts(call_id)

    def sentiment(self, call_id: str) -> CallSentiment | None:
        """The call's sentiment trajectory and average, ``None`` for an unknown call."""
        state = self.core.calls.get(call_id)
        return trajectory(call_id, state.sentiment) if state else None

    def records(self) -> tuple[list[CallRecord], list[IncidentRecord]]:
        """Pattern-analysis records of the calls the monitor remembers."""
        return self.core.records()

    def patterns(
        self,
        dimension: Dimension | str,
        *,
        since_ms: float | None = None,
        until_ms: float | None = None,
    ) -> list[PatternRow]:
        """``analyze_patterns`` over the calls the monitor remembers."""
        calls, incidents = self.core.records()
        return _analyze(calls, incidents, dimension, since_ms=since_ms, until_ms=until_ms)
