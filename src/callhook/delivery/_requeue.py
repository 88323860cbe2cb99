"""Replay: make deliveries pending again, with the endpoint's current configuration.

A replayed row gets a fresh retry window and is due at once. Its configuration is refreshed,
first found: the one given to the replay; the one the ``refresh`` callback finds for its event
(the Dispatcher's ``servers`` resolver); the newest one accepted for its target URL (an
assistant's corrected secret arrives with the events accepted after the fix); its own. A new
URL (``to_url``, or the refreshed configuration's) moves rows still pending too, so that
retries stop going to the old one. Rows in flight keep their attempt; only their URL and
configuration change, for the retries. The row keeps its ``webhook-id`` and its number in
the call's sequence, so the receiver can deduplicate it and see where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import sqlalchemy as sa

from callhook._exceptions import DeliveryError
from callhook.delivery._config import ServerConfig
from callhook.delivery._heads import lock_calls, repair_heads
from callhook.delivery._rows import DEAD, PENDING
from callhook.delivery._tables import ENDPOINTS, OUTBOX
from callhook.store import write_transaction

__all__ = ["Refresh", "requeue"]

#: Finds the current configuration of a stored request body (``None``: keep the stored one).
Refresh = Callable[[bytes], ServerConfig | None]

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ServerConfig)


def requeue(
    engine: sa.Engine,
    *,
    now: float,
    ids: Sequence[int] = (),
    call_id: str | None = None,
    to_url: str | None = None,
    server: ServerConfig | None = None,
    refresh: Refresh | None = None,
) -> list[int]:
    """Make deliveries pending again with a fresh retry window; returns their ids.

    ``ids``: those rows, whatever their state (a delivered event can be sent again; its
    ``webhook-id`` is unchanged, so receivers can deduplicate it). ``call_id``: the call's
    dead letters, and its pending rows too when moving them (``to_url`` or ``server``).
    ``to_url`` sends them to another endpoint; ``server`` with another configuration. The
    target endpoints are re-enabled if a 410 had disabled them. Raises ``DeliveryError`` for
    unknown ids.
    """
    if not ids and call_id is None:
        raise DeliveryError("Nothing to replay: give delivery ids or a call id.")
    if to_url is not None and not to_url.startswith(("http://", "https://")):
        raise DeliveryError("--to must be an http:// or https:// URL", url=to_url)
    moving = to_url is not None or server is not None
    query = sa.select(OUTBOX.c.id, OUTBOX.c.call_id).order_by(OUTBOX.c.id)
    if ids:
        query = query.where(OUTBOX.c.id.in_(list(ids)))
    if call_id is not None:
        query = query.where(OUTBOX.c.call_id == call_id)
        if not ids:
            query = query.where(OUTBOX.c.status.in_([DEAD, PENDING] if moving else [DEAD]))
    with write_transaction(engine) as conn:
        found = conn.execute(query).all()
        missing = sorted(set(ids) - {row.id for row in found})
        if missing:
            raise DeliveryError(
                f"No delivery with id {', '.join(map(str, missing))}; "
                "see `callhook deliveries list`",
                call_id=call_id,
            )
        if not found:
            return []
        calls = sorted({row.call_id for row in found})
        lock_calls(conn, calls)  # then read their state again: it may have changed meanwhile
        chosen = [row.id for row in found]
        rows = conn.execute(
            sa.select(
                OUTBOX.c.id, OUTBOX.c.url, OUTBOX.c.body, OUTBOX.c.config, OUTBOX.c.lease_until
            ).where(OUTBOX.c.id.in_(chosen))
        ).all()
        newest: dict[str, bytes | None] = {}
        urls: set[str] = set()
        for row in rows:
            config = _current_config(
                conn, (row.url, row.body, row.config), server, refresh, to_url, newest
            )
            urls.add(config.url)
            values: dict[str, object] = {"url": config.url, "config": _ENCODER.encode(config)}
            in_flight = row.lease_until is not None and row.lease_until > now
            if not in_flight:
                values.update(
                    status=PENDING,
                    window_attempts=0,
                    window_start=now,
                    next_attempt_at=now,
                    finished_at=None,
                    lease_until=None,
                    lease_owner=None,
                )
            conn.execute(OUTBOX.update().where(OUTBOX.c.id == row.id).values(**values))
        repair_heads(conn, now, calls)
        conn.execute(ENDPOINTS.delete().where(ENDPOINTS.c.url.in_(sorted(urls))))
    return chosen


def _current_config(
    conn: sa.Connection,
    row: tuple[str, bytes, bytes],
    server: ServerConfig | None,
    refresh: Refresh | None,
    to_url: str | None,
    newest: dict[str, bytes | None],
) -> ServerConfig:
    """The configuration a replayed row (its URL, body and stored configuration) goes out
    with (see the module docstring)."""
    own_url, body, stored = row
    config = server
    if config is None and refresh is not None:
        config = refresh(body)
    if config is None:
        url = to_url or own_url
        if url not in newest:
            query = (
                sa.select(OUTBOX.c.config)
                .where(OUTBOX.c.url == url)
                .order_by(OUTBOX.c.id.desc())
                .limit(1)
            )
            newest[url] = conn.execute(query).scalar()
        latest = newest[url]
        config = _DECODER.decode(stored if latest is None else latest)
    if to_url is not None and config.url != to_url:
        config = msgspec.structs.replace(config, url=to_url)
    return config
