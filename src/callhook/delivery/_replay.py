"""What the ``callhook deliveries`` commands do: open an outbox, list it, replay from it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from callhook._exceptions import DeliveryError, StorageError
from callhook.delivery._admin import DeliveryRecord, list_deliveries
from callhook.delivery._dispatcher import Dispatcher
from callhook.delivery._tables import create_outbox_tables
from callhook.delivery._transport import Transport
from callhook.store import make_engine

__all__ = ["open_outbox", "replay"]


def open_outbox(url: str) -> sa.Engine:
    """An engine on an existing database with the delivery tables (created if missing).

    A SQLite file that does not exist is an error rather than a new empty database.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        parsed = None  # make_engine explains what a database URL looks like
    database = parsed.database if parsed and parsed.get_backend_name() == "sqlite" else None
    if database and not Path(database).exists():
        raise DeliveryError(
            f"No database at {database}; run where the service keeps it, or pass "
            "--db sqlite:///path/to/callhook.sqlite3 (or a postgresql:// URL)"
        )
    engine = make_engine(url)
    try:
        create_outbox_tables(engine)
    except (StorageError, sa.exc.SQLAlchemyError) as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise DeliveryError(f"Cannot open the outbox in {where}: {exc}") from None
    return engine


async def replay(
    engine: sa.Engine,
    ids: Sequence[int] = (),
    *,
    call_id: str | None = None,
    to: str | None = None,
    wait: float = 30.0,
    transport: Transport | None = None,
) -> list[DeliveryRecord]:
    """Requeue deliveries (see ``Dispatcher.replay``) and send them from this process for up
    to ``wait`` seconds; returns their records. Those still pending afterwards (waiting for a
    retry) stay in the outbox for the next dispatcher that runs on it."""
    async with Dispatcher(engine, transport=transport, create_tables=False) as dispatcher:
        chosen = await dispatcher.replay(ids, call_id=call_id, to=to)
        if chosen and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dispatcher.wait_idle(chosen), wait)
    if not chosen:
        return []
    return list_deliveries(engine, ids=chosen, limit=len(chosen))
