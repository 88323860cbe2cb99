"""The ``Dispatcher``: the engine's event sink, delivering through the durable outbox.

Three named background tasks share one database thread:

- ``callhook-delivery-writer`` stores accepted events in batches (one commit per batch);
- ``callhook-delivery-claimer`` leases due head rows in batches and starts their requests;
- ``callhook-delivery-recorder`` stores the attempts' results in batches and wakes the claimer.

Requests go through one pooled ``aiohttp.ClientSession`` (``AiohttpTransport``); each one
is a tracked task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import TracebackType
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from callhook._exceptions import DecodeError, DeliveryError
from callhook.delivery._clock import Clock, SystemClock
from callhook.delivery._config import ServerConfig
from callhook.delivery._driver import OutboxError
from callhook.delivery._outbox import Outbox
from callhook.delivery._payload import encode_body, safe_url
from callhook.delivery._policy import RetryPolicy
from callhook.delivery._requeue import requeue
from callhook.delivery._resolve import ConfigResolver, ServerInput, ServerResolver
from callhook.delivery._rows import AttemptResult, ClaimedRow, NewRow
from callhook.delivery._sender import attempt, internal_failure
from callhook.delivery._tables import create_outbox_tables
from callhook.delivery._transport import AiohttpTransport, Transport
from callhook.events import Envelope, Event, decode
from callhook.store import DEFAULT_URL, make_engine

__all__ = ["Dispatcher"]

logger = logging.getLogger("callhook.delivery")

#: Seconds between recomputations of the per-call heads.
_REPAIR_EVERY = 10.0

P = ParamSpec("P")
T = TypeVar("T")


class Dispatcher:
    """Delivers events to their assistant's server: durable, signed, retried, ordered per call.

    Use it as an async context manager::

        async with Dispatcher("sqlite:///callhook.sqlite3") as dispatcher:
            dispatcher.emit(envelope)            # the engine's EventSink: queue, return at once
            await dispatcher.deliver(envelope)   # or: return once the event is committed

    The configuration of an event is, first found: ``server=`` given to ``deliver``; the
    ``servers`` resolver; the event's ``assistant.assistantServer``; the last one seen for the
    same call (events may carry a truncated assistant).

    ``db``: a database URL or an Engine (the outbox tables are created on start unless
    ``create_tables=False``). ``transport``: how requests go out (default: an
    ``AiohttpTransport`` with ``max_in_flight`` / ``per_endpoint`` connections; tests inject
    a fake; the Dispatcher closes the one it is given).
    ``policy``, ``clock``, ``rng``: when to retry, the time source, the jitter source.
    ``max_in_flight`` / ``per_endpoint``: concurrent requests in all / to one URL.
    ``lease_margin``: seconds added to an endpoint's timeout while a row is held in flight
    (after a crash, its rows are sent again once that has passed). ``poll_interval``: seconds
    between looks for rows added by other processes (``None``: only wake on own activity).
    ``redact``: hide ``assistantServer`` secrets in payloads. ``close_timeout``: seconds
    ``close`` waits for requests in flight before cancelling them.
    """

    def __init__(
        self,
        db: str | sa.Engine = DEFAULT_URL,
        *,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        servers: ServerResolver | None = None,
        max_in_flight: int = 256,
        per_endpoint: int = 32,
        lease_margin: float = 30.0,
        poll_interval: float | None = 1.0,
        redact: bool = True,
        create_tables: bool = True,
        close_timeout: float = 10.0,
    ) -> None:
        self._engine = make_engine(db) if isinstance(db, str) else db
        self._own_engine = isinstance(db, str)
        self._transport = transport
        self._policy = policy if policy is not None else RetryPolicy()
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._resolver = ConfigResolver(servers)
        self._max_in_flight = max_in_flight
        self._per_endpoint = per_endpoint
        self._lease_margin = lease_margin
        self._poll_interval = poll_interval
        self._redact = redact
        self._create_tables = create_tables
        self._close_timeout = close_timeout
        self._owner = f"dispatcher-{uuid.uuid4().hex[:16]}"
        self._outbox = Outbox(self._engine)
        self._state = "new"
        self._stopping = False
        self._sends_over = False
        self._executor: ThreadPoolExecutor | None = None
        self._client: Transport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self._inserts: list[tuple[NewRow | None, asyncio.Future[None] | None]] = []
        self._writing = False
        self._results: list[AttemptResult] = []
        self._in_flight: dict[int, str] = {}
        self._per_url: Counter[str] = Counter()
        self._insert_wake = asyncio.Event()
        self._result_wake = asyncio.Event()
        self._wake = asyncio.Event()
        self._progress: asyncio.Future[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the HTTP client and the database thread, and start the background tasks."""
        if self._state != "new":
            raise DeliveryError("This Dispatcher was already started; create a new one.")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="callhook-delivery-db")
        if self._create_tables:
            try:
                await self._db(create_outbox_tables, self._engine)
            except sa.exc.SQLAlchemyError as exc:
                self._executor.shutdown(wait=True)
                self._state = "closed"
                raise DeliveryError(f"Cannot create the outbox tables: {_db_error(exc)}") from None
        self._client = self._transport or AiohttpTransport(
            limit=self._max_in_flight, per_host=self._per_endpoint
        )
        self._state = "running"
        for name, loop in (
            ("writer", self._writer_loop),
            ("claimer", self._claim_loop),
            ("recorder", self._record_loop),
        ):
            task = asyncio.create_task(loop(), name=f"callhook-delivery-{name}")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        logger.debug("delivery.started owner=%s", self._owner)

    async def close(self) -> None:
        """Stop claiming, let requests in flight finish (up to ``close_timeout`` seconds),
        store what is queued, and release the rest for the next start. Idempotent."""
        if self._state in ("closing", "closed"):
            return
        if self._state == "new":
            self._state = "closed"
            return
        self._state = "closing"
        self._stopping = True
        for event in (self._insert_wake, self._wake, self._result_wake):
            event.set()
        claimers = {t for t in self._tasks if t.get_name().endswith("claimer")}
        await self._finish(claimers)
        await self._finish(set(self._sends))
        self._sends_over = True
        self._result_wake.set()
        self._insert_wake.set()
        await self._finish(set(self._tasks))
        if self._in_flight:
            await self._db(self._outbox.release, list(self._in_flight), self._owner)
            self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
        if self._executor is not None:
            await self._db(self._outbox.close)
            if self._own_engine:
                await self._db(self._engine.dispose)
            self._executor.shutdown(wait=True)
        self._state = "closed"
        self._notify_progress()
        logger.debug("delivery.closed owner=%s", self._owner)

    async def _finish(self, tasks: set[asyncio.Task[None]]) -> None:
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self._close_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("delivery.task_failed %s", task.get_name(), exc_info=exc)

    def _check_running(self, action: str) -> None:
        if self._state == "running":
            return
        if self._state == "new":
            raise DeliveryError(
                f"Cannot {action}: the Dispatcher is not started; use "
                "`async with Dispatcher(...) as dispatcher:` or await dispatcher.start()."
            )
        raise DeliveryError(
            f"Cannot {action}: the Dispatcher is closed; create a new Dispatcher to deliver "
            "more events."
        )

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            raise DeliveryError("The Dispatcher's database thread is not running.")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    # -- accepting events ----------------------------------------------------------------

    def emit(self, envelope: Envelope[Event]) -> None:
        """Queue ``envelope`` for delivery and return at once (the engine's ``EventSink``).

        The event is committed to the outbox with the next batch, within milliseconds;
        ``await flush()`` waits for that. Call it from the event loop's thread.
        """
        self._accept(envelope, None, None)

    async def deliver(
        self, envelope: Envelope[Event], *, server: ServerInput | None = None
    ) -> str | None:
        """Accept ``envelope`` for delivery and return once it is committed to the outbox.

        Returns its ``webhook-id``, or ``None`` when the endpoint is disabled or does not
        subscribe to this event type. ``server`` overrides the configuration in the event.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        webhook_id = self._accept(envelope, server, done)
        if webhook_id is not None:
            await done
        return webhook_id

    async def flush(self) -> None:
        """Wait until every event accepted so far is committed to the outbox."""
        self._check_running("flush")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inserts.append((None, done))
        self._insert_wake.set()
        await done

    def _accept(
        self,
        envelope: Envelope[Event],
        server: ServerInput | None,
        done: asyncio.Future[None] | None,
    ) -> str | None:
        self._check_running("accept an event")
        event = envelope.message
        config = self._resolver.config_for(event, server)
        if config is None or not config.subscribes(event.type):
            return None
        call_id = event.call_id or ""
        if "\x00" in call_id:
            raise DeliveryError(
                "Cannot deliver an event whose call.id contains a NUL character (\\u0000): "
                "databases cannot store it; use call ids without control characters.",
                call_id=call_id,
                event_type=event.type.value,
            )
        webhook_id = f"msg_{uuid.uuid4().hex}"
        row = NewRow(
            webhook_id=webhook_id,
            call_id=call_id,
            event_type=event.type.value,
            url=config.url,
            body=encode_body(envelope, redact=self._redact),
            config=config,
        )
        self._inserts.append((row, done))
        self._insert_wake.set()
        return webhook_id

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
                    f"Could not store the event in the outbox: {_db_error(exc)}",
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
                        _db_error(exc),
                    )
                for result in batch:
                    self._in_flight.pop(result.row.id, None)
                    self._per_url[result.row.url] -= 1
                    if self._per_url[result.row.url] <= 0:
                        del self._per_url[result.row.url]
                    _log_result(result)
                self._wake.set()
                self._notify_progress()
            if self._sends_over and not self._results:
                return

    # -- replay --------------------------------------------------------------------------

    async def replay(
        self,
        ids: Iterable[int] = (),
        *,
        call_id: str | None = None,
        to: str | None = None,
        server: ServerInput | None = None,
    ) -> list[int]:
        """Send deliveries again, with a fresh retry window and the endpoint's current
        configuration; returns the requeued ids.

        ``ids``: those outbox rows (any state); ``call_id``: every dead letter of that call
        (and its pending rows, when ``to`` or ``server`` moves them); ``to``: another endpoint
        URL; ``server``: the configuration to send with. Without ``server``, the ``servers``
        resolver's answer for the event, else the newest configuration accepted for the URL
        (so a corrected secret is used). Re-enables endpoints a 410 had disabled.
        """
        self._check_running("replay")
        config = self._resolver.config_for_replay(server)
        refresh = self._refresh if self._resolver.has_servers else None
        chosen = await self._db(
            requeue,
            self._engine,
            now=self._clock.time(),
            ids=list(ids),
            call_id=call_id,
            to_url=to,
            server=config,
            refresh=refresh,
        )
        self._wake.set()
        return chosen

    def _refresh(self, body: bytes) -> ServerConfig | None:
        """The ``servers`` resolver's configuration of a stored request body, if any."""
        try:
            event = decode(body).message
        except DecodeError:
            return None
        return self._resolver.config_for(event, None)

    # -- waiting -------------------------------------------------------------------------

    def _notify_progress(self) -> None:
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)
        self._progress = None

    async def wait_idle(self, ids: Iterable[int] | None = None) -> None:
        """Wait until no event is pending (only the outbox rows ``ids``, when given).

        Pending includes events waiting for a retry, so with the real clock this can take
        as long as the retry schedule; tests use a fake clock or ``RetryPolicy(wait=False)``.
        """
        wanted = None if ids is None else list(ids)
        while True:
            self._check_running("wait")
            if self._progress is None:
                self._progress = asyncio.get_running_loop().create_future()
            progress = self._progress
            busy = self._inserts or self._writing or self._in_flight or self._results
            if not busy and not await self._db(self._outbox.has_pending, wanted):
                return
            await progress


def _db_error(exc: sa.exc.SQLAlchemyError | OutboxError) -> str:
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
