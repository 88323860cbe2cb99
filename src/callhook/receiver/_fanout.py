"""Live notices across receiver processes on one PostgreSQL database (``LISTEN/NOTIFY``).

With PostgreSQL, every receiver process publishes its live notices with ``pg_notify`` on one
channel and delivers to its own dashboard subscribers what it hears on that channel (its own
notices included), so a dashboard connected to any process sees the events stored by all of
them. The channel is per schema (``callhook_live_<hash of current_schema()>``), so receivers
sharing a database but not a schema do not mix.

Two connections of its own (autocommit, psycopg 3 async): one sends, one listens. A notice
longer than PostgreSQL's payload limit goes without its messages (the dashboard then fetches
them, as it does for a notice with more new messages than it carries). If the database is
unreachable, notices are delivered locally instead and the fan-out reconnects in the
background; nothing here can fail or slow an ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

import msgspec
import psycopg

from callhook.store import normalize_url

__all__ = ["PgFanout", "fanout_conninfo"]

logger = logging.getLogger("callhook.receiver")

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
_RETRY_S = 1.0
#: Most notices sent in one round trip.
_BATCH = 512


_SLIM = msgspec.json.Decoder(dict[str, msgspec.Raw])


def fanout_conninfo(database_url: str) -> str:
    """The libpq URI for ``database_url`` (a ``postgresql://`` receiver database URL)."""
    url = normalize_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _slim(notice: bytes) -> bytes:
    fields = _SLIM.decode(notice)
    fields["messages"] = msgspec.Raw(b"[]")
    fields.pop("hang", None)
    fields.pop("error", None)
    return msgspec.json.encode(fields)


class PgFanout:
    """``publish`` hands a notice to PostgreSQL; ``deliver`` is called with every notice heard.

    Use as ``async with PgFanout(url, deliver):``. ``connected`` tells whether notices
    currently go through the database (otherwise ``publish`` delivers locally).
    """

    def __init__(self, database_url: str, deliver: Callable[[bytes], None]) -> None:
        self.conninfo = fanout_conninfo(database_url)
        self.deliver = deliver
        self.channel = ""
        self.connected = False
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    async def __aenter__(self) -> PgFanout:
        self._tasks = [
            asyncio.create_task(self._listen(), name="callhook-live-listen"),
            asyncio.create_task(self._send(), name="callhook-live-notify"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        self.connected = False

    def publish(self, notice: bytes) -> None:
        if not self.connected:
            self.deliver(notice)
            return
        try:
            self._outbox.put_nowait(notice if len(notice) <= MAX_PAYLOAD else _slim(notice))
        except asyncio.QueueFull:  # the database is not keeping up: show it here at least
            self.deliver(notice)

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    cursor = await conn.execute("SELECT current_schema()")
                    row = await cursor.fetchone()
                    schema = str(row[0]) if row else "public"
                    digest = hashlib.sha256(schema.encode()).hexdigest()[:12]
                    self.channel = f"callhook_live_{digest}"
                    await conn.execute(f"LISTEN {self.channel}")
                    self.connected = True
                    self._ready.set()
                    logger.info("receiver.live_fanout_listening %s", self.channel)
                    async for notify in conn.notifies():
                        self.deliver(notify.payload.encode())
            except psycopg.Error as exc:
                self.connected = False
                self._ready.set()
                logger.warning("receiver.live_fanout_unavailable %s; retrying", exc)
                await asyncio.sleep(_RETRY_S)

    async def _send(self) -> None:
        while True:
            notice = await self._outbox.get()
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    while True:
                        # Everything waiting goes in one round trip, in order.
                        batch = [notice.decode()]
                        while not self._outbox.empty() and len(batch) < _BATCH:
                            batch.append(self._outbox.get_nowait().decode())
                        await conn.execute(
                            "SELECT pg_notify(%s, p) FROM (SELECT p FROM unnest(%s::text[]) "
                            "WITH ORDINALITY AS t(p, n) ORDER BY n) AS ordered",
                            (self.channel, batch),
                        )
                        notice = await self._outbox.get()
            except Exception as exc:  # this task must outlive any one notice
                self.deliver(notice)  # the one in hand is not lost for this process
                logger.warning("receiver.live_fanout_send_failed %s; retrying", exc)
                await asyncio.sleep(_RETRY_S)
