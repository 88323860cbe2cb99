"""The ``Dispatcher``: the engine's event sink, delivering through the durable outbox.

Its three background tasks (``_loops``) share one database thread.

Requests go through one pooled ``aiohttp.ClientSession`` (``AiohttpTransport``); each one
is a tracked task.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from callhook._exceptions import DecodeError, DeliveryError
from callhook.delivery._clock import Clock, SystemClock
from callhook.delivery._config import ServerConfig
from callhook.delivery._loops import Loops, db_error
from callhook.delivery._outbox import Outbox
from callhook.delivery._payload import encode_body
from callhook.delivery._policy import RetryPolicy
from callhook.delivery._requeue import requeue
from callhook.delivery._resolve import ConfigResolver, ServerInput, ServerResolver
from callhook.delivery._rows import AttemptResult, NewRow
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


class Dispatcher(Loops):
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
    ``batch_interval``: seconds each claim and each record waits after the one before, so
    that more rows share a transaction (fewer, larger transactions: on SQLite each one takes
    the database's write lock from other processes that write, such as a receiver).
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
        batch_interval: float = 0.0,
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
        self._batch_interval = batch_interval
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
                raise DeliveryError(f"Cannot create the outbox tables: {db_error(exc)}") from None
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

    def wake(self) -> None:
        """Rows were added to the outbox by someone else (the relay, in the receiver's
        transaction): look for due rows now rather than at the next poll."""
        self._wake.set()

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
