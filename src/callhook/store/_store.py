"""``Store``: the async face of the database, with group commit.

``ingest`` puts an event on a queue and waits; one named background task takes everything
queued (up to ``max_batch``), applies it in one transaction (in the store's writer thread; on
SQLite only its BEGIN and COMMIT, see ``Writer.stage``), and answers every waiter after the
commit. While a transaction runs the next batch gathers, so
concurrent requests share commits and a 2xx never precedes durability.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy import Connection, Engine

from callhook._exceptions import StorageError
from callhook.store._engine import DEFAULT_URL, make_engine, write_transaction
from callhook.store._migrate import upgrade
from callhook.store._parse import DEFAULT_MAX_DEPTH, Incoming
from callhook.store._sql import DRIVER_ERRORS
from callhook.store._writer import CommitHook, Outcome, Writer

__all__ = ["Store"]

logger = logging.getLogger("callhook.store")

T = TypeVar("T")
_Waiter = tuple[Incoming, "asyncio.Future[Outcome]"]


class Store:
    """The receiver's database, opened with ``async with Store(url) as store``.

    ``migrate`` (default true) applies pending migrations on open. ``ingest`` stores one
    parsed event and returns what happened once it is committed; ``read`` runs a query
    function on a pooled connection in a worker thread; ``write`` runs a change to a side
    table (the monitor's) in a transaction of its own. ``hook`` writes more rows in each
    ingest transaction (``CommitHook``: the relay's outbox rows).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        migrate: bool = True,
        max_batch: int = 256,
        max_depth: int = DEFAULT_MAX_DEPTH,
        readers: int = 4,
        hook: CommitHook | None = None,
    ) -> None:
        self.url = url
        self._hook = hook
        self._migrate = migrate
        self._max_batch = max_batch
        self._max_depth = max_depth
        self._readers = readers
        self._engine: Engine | None = None
        self._writer: Writer | None = None
        self._queue: asyncio.Queue[_Waiter] | None = None
        self._task: asyncio.Task[None] | None = None
        self._write_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._read_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False
        self._commits = 0

    @property
    def commits(self) -> int:
        """How many group commits (transactions of one or more events) have run."""
        return self._commits

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._closed:
            raise StorageError("The store is not open: use `async with Store(url) as store:`")
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def __aenter__(self) -> Self:
        if self._engine is not None or self._closed:
            raise StorageError("A Store can be opened once; create a new one")
        self._write_pool = concurrent.futures.ThreadPoolExecutor(1, "callhook-store-writer")
        self._read_pool = concurrent.futures.ThreadPoolExecutor(
            self._readers, "callhook-store-reader"
        )
        loop = asyncio.get_running_loop()
        engine = make_engine(self.url, pool_size=self._readers + 1)
        self._engine = engine
        if self._migrate:
            await loop.run_in_executor(self._write_pool, upgrade, engine)
        self._writer = Writer(engine, max_depth=self._max_depth, hook=self._hook)
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._commit_loop(), name="callhook-store-group-commit")
        logger.info("store.opened %s", engine.url.render_as_string(hide_password=True))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Finish the batch in flight, refuse new events, release the database."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=30)
        if self._queue is not None:
            while not self._queue.empty():
                _, future = self._queue.get_nowait()
                if not future.done():
                    future.set_exception(StorageError("The store closed before the commit"))
        loop = asyncio.get_running_loop()
        if self._writer is not None and self._write_pool is not None:
            await loop.run_in_executor(self._write_pool, self._writer.close)
        for pool in (self._write_pool, self._read_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        if self._engine is not None:
            self._engine.dispose()
        logger.info("store.closed")

    async def ingest(self, event: Incoming) -> Outcome:
        """Store one event; returns after its transaction committed.

        Raises ``DecodeError`` when a message the call has not seen is invalid (nothing of
        the event is stored) and ``StorageError`` when the database fails.
        """
        if self._queue is None or self._closed:
            raise StorageError("The store is closed; events can no longer be stored")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return await future

    async def read(self, query: Callable[[Connection], T]) -> T:
        """Run ``query(connection)`` in a reader thread, in a read transaction."""
        engine = self.engine
        assert self._read_pool is not None

        def run() -> T:
            with engine.connect() as connection:
                return query(connection)

        return await asyncio.get_running_loop().run_in_executor(self._read_pool, run)

    async def write(self, change: Callable[[Connection], T]) -> T:
        """Run ``change(connection)`` in a transaction of its own, in a reader thread.

        For side tables written off the ingest path (the monitor's); on SQLite the
        transaction takes the write lock first (``BEGIN IMMEDIATE``), as the writer's do.
        """
        engine = self.engine
        assert self._read_pool is not None

        def run() -> T:
            with write_transaction(engine) as connection:
                return change(connection)

        return await asyncio.get_running_loop().run_in_executor(self._read_pool, run)

    async def remove(self, change: Callable[[Connection], T]) -> T:
        """Run ``change``, which deletes calls (a ``Purger`` step, an erasure), as ``write``
        does; then the writer forgets which assistant objects it stored, since ``change``
        may have deleted some."""
        try:
            return await self.write(change)
        finally:
            if self._writer is not None:
                self._writer.forget_assistants()

    async def _apply_split(
        self, writer: Writer, items: list[Incoming]
    ) -> list[Outcome | Exception]:
        """One batch on SQLite: lock and commit in the writer thread, apply on the loop.

        As ``Writer.apply`` does, a batch the database refuses is given up and its events
        retried one by one, so that one event cannot fail the others.
        """
        loop = asyncio.get_running_loop()

        async def in_thread(fn: Callable[..., T], *args: object) -> T:
            return await asyncio.shield(loop.run_in_executor(self._write_pool, fn, *args))

        try:
            await in_thread(writer.begin)
            return await in_thread(writer.commit, writer.stage(items))
        except DRIVER_ERRORS:
            await in_thread(writer.close)  # rolls back what is open
            return await in_thread(writer.apply_each, items)
        except BaseException:
            await in_thread(writer.close)
            raise

    async def _commit_loop(self) -> None:
        assert self._queue is not None and self._writer is not None
        queue, writer, loop = self._queue, self._writer, asyncio.get_running_loop()
        # SQLite: the Python work of a batch runs here, its BEGIN and COMMIT in the writer
        # thread (see ``Writer.stage``). PostgreSQL: every statement is a network round trip,
        # so the whole batch runs in the writer thread.
        split = self.engine.dialect.name == "sqlite"
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            items = [item for item, _ in batch]
            try:
                if split:
                    results = await self._apply_split(writer, items)
                else:
                    results = await asyncio.shield(
                        loop.run_in_executor(self._write_pool, writer.apply, items)
                    )
                self._commits += 1
            except asyncio.CancelledError:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StorageError("The store closed during the commit"))
                raise
            except Exception as exc:  # an unexpected bug must answer the waiters, not hang them
                logger.exception("store.batch_failed")
                results = [StorageError(f"The store failed: {exc}")] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
