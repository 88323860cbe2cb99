"""Removing calls: every row of a call in every table, and the audit record of an erasure.

``remove_calls`` is the one place that knows where a call's data lives: the receiver's tables
(keyed by the call's ``pk``), the monitor's (keyed by its ``call_id``), the delivery outbox
and its attempts (``call_id``), and the assistant objects that no remaining call has.
Retention (``purge_calls``) and erasure (``erase_calls``, ``erase_user_number``) both go
through it; a test scans every table of a migrated database after each, so a table added
later without a line here fails that test.

An erasure writes one ``erasures`` row: what kind of subject, how many calls and rows per
table, when, and who asked (an API token's name, or ``cli``), never the subject's value (the
call id or the number), which would defeat the erasure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    Text,
    column,
    delete,
    exists,
    or_,
    select,
    table,
)

from callhook.store._monitoring import monitor_alerts, monitor_hang_impacts, monitor_sentiment
from callhook.store._schema import (
    Id,
    arrivals,
    assistants,
    calls,
    errors,
    hangs,
    messages,
    metadata,
    status_history,
    unattributed,
)

__all__ = [
    "Erased",
    "erase_calls",
    "erase_user_number",
    "erasures",
    "list_erasures",
    "remove_calls",
]

#: One row per erasure request carried out (``callhook db erase``, ``DELETE /api/calls/...``).
erasures = Table(
    "erasures",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    # Epoch ms, receiver clock.
    Column("at", BigInteger, nullable=False),
    # An API token's configured name, or "cli"; never a token.
    Column("actor", String, nullable=False),
    # "call" or "user-number".
    Column("subject", String, nullable=False),
    # The operator's reference for the request (a ticket number), when given.
    Column("reference", String),
    Column("calls", Integer, nullable=False),
    # {"table": rows deleted, ...} as JSON.
    Column("rows", Text, nullable=False),
)

# The delivery outbox lives in the same database (revision 0002_delivery) but its tables are
# defined by callhook.delivery, which depends on this package: name only what is needed here.
_outbox = table("callhook_delivery_outbox", column("id"), column("call_id"))
_attempts = table("callhook_delivery_attempts", column("outbox_id"))

#: Tables whose rows belong to one call through ``call_pk``, children before ``calls``.
_BY_PK = (messages, arrivals, status_history, hangs, errors)
#: The monitor's tables, keyed by the call's id.
_BY_ID = (monitor_sentiment, monitor_hang_impacts, monitor_alerts)
_CHUNK = 500


@dataclass(slots=True)
class Erased:
    """What a removal deleted: the calls and the rows per table (tables with none omitted)."""

    calls: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    #: The ``erasures`` row written for it (erasures only).
    audit_id: int | None = None

    def add(self, name: str, count: int) -> None:
        if count:
            self.rows[name] = self.rows.get(name, 0) + count

    def as_json(self) -> dict[str, object]:
        rows = dict(sorted(self.rows.items()))
        return {"calls": self.calls, "rows": rows, "auditId": self.audit_id}


def remove_calls(conn: Connection, pks: Sequence[int]) -> Erased:
    """Delete every row of the calls ``pks`` from every table, in the open transaction."""
    erased = Erased()
    for start in range(0, len(pks), _CHUNK):
        _remove_chunk(conn, list(pks[start : start + _CHUNK]), erased)
    return erased


def _remove_chunk(conn: Connection, pks: list[int], erased: Erased) -> None:
    found = conn.execute(
        select(calls.c.call_id, calls.c.assistant_digest).where(calls.c.pk.in_(pks))
    ).all()
    if not found:
        return
    ids = [row.call_id for row in found]
    digests = {row.assistant_digest for row in found if row.assistant_digest is not None}
    digests.update(
        digest
        for (digest,) in conn.execute(
            select(arrivals.c.assistant_digest)
            .where(arrivals.c.call_pk.in_(pks), arrivals.c.assistant_digest.is_not(None))
            .distinct()
        )
    )
    for child in _BY_PK:
        erased.add(child.name, conn.execute(delete(child).where(child.c.call_pk.in_(pks))).rowcount)
    for keyed in _BY_ID:
        erased.add(keyed.name, conn.execute(delete(keyed).where(keyed.c.call_id.in_(ids))).rowcount)
    outbox_ids = select(_outbox.c.id).where(_outbox.c.call_id.in_(ids))
    erased.add(
        "callhook_delivery_attempts",
        conn.execute(delete(_attempts).where(_attempts.c.outbox_id.in_(outbox_ids))).rowcount,
    )
    erased.add(
        "callhook_delivery_outbox",
        conn.execute(delete(_outbox).where(_outbox.c.call_id.in_(ids))).rowcount,
    )
    deleted = conn.execute(delete(calls).where(calls.c.pk.in_(pks))).rowcount
    erased.calls += deleted
    erased.add("calls", deleted)
    if digests:
        # Only a call's current assistant is ever read (``calls.assistant_digest``); checking
        # the remaining calls' arrivals too would scan that table, the largest but one.
        orphan = delete(assistants).where(
            assistants.c.digest.in_(sorted(digests)),
            ~exists().where(calls.c.assistant_digest == assistants.c.digest),
        )
        erased.add("assistants", conn.execute(orphan).rowcount)


def erase_calls(
    conn: Connection,
    call_ids: Sequence[str],
    *,
    actor: str,
    subject: str = "call",
    reference: str | None = None,
    now_ms: int | None = None,
) -> Erased:
    """Erase the calls ``call_ids`` (missing ones are skipped) and write the audit record,
    in the open transaction. The record is written even when nothing matched."""
    pks = [
        pk
        for start in range(0, len(call_ids), _CHUNK)
        for (pk,) in conn.execute(
            select(calls.c.pk).where(calls.c.call_id.in_(list(call_ids[start : start + _CHUNK])))
        )
    ]
    erased = remove_calls(conn, pks)
    return _audit(conn, erased, actor=actor, subject=subject, reference=reference, now_ms=now_ms)


def erase_user_number(
    conn: Connection,
    numbers: Sequence[str],
    *,
    actor: str,
    reference: str | None = None,
    now_ms: int | None = None,
) -> Erased:
    """Erase every call whose ``call.userNumber`` is one of ``numbers`` (the caller's number
    as stored: as received, or its keyed hash when redaction hashes numbers), and every
    unattributed event whose body holds one of them; one audit record."""
    wanted = {n for n in numbers if n}
    if not wanted:
        raise ValueError("erase_user_number needs a number")
    # calls.fields is the merged call object as compact JSON: narrow with LIKE, confirm by
    # decoding (a number may also appear elsewhere in the object).
    needles = [f'"userNumber":{msgspec.json.encode(n).decode()}' for n in sorted(wanted)]
    query = select(calls.c.pk, calls.c.fields).where(
        or_(*(calls.c.fields.contains(needle, autoescape=True) for needle in needles))
    )
    pks = [
        row.pk
        for row in conn.execute(query)
        if _DECODE_FIELDS.decode(row.fields).get("userNumber") in wanted
    ]
    erased = remove_calls(conn, pks)
    loose = or_(*(unattributed.c.body.contains(_json_text(n), autoescape=True) for n in wanted))
    erased.add("unattributed", conn.execute(delete(unattributed).where(loose)).rowcount)
    return _audit(
        conn, erased, actor=actor, subject="user-number", reference=reference, now_ms=now_ms
    )


def list_erasures(conn: Connection, limit: int = 100) -> list[dict[str, object]]:
    """The newest audit records first, as JSON-ready objects."""
    rows = conn.execute(select(erasures).order_by(erasures.c.pk.desc()).limit(limit))
    return [
        {
            "id": row.pk,
            "at": row.at,
            "actor": row.actor,
            "subject": row.subject,
            "reference": row.reference,
            "calls": row.calls,
            "rows": msgspec.json.decode(row.rows),
        }
        for row in rows
    ]


_DECODE_FIELDS = msgspec.json.Decoder(dict[str, object])


def _json_text(value: str) -> str:
    """``value`` as it appears inside a JSON string (escapes included, quotes not)."""
    return msgspec.json.encode(value).decode()[1:-1]


def _audit(
    conn: Connection,
    erased: Erased,
    *,
    actor: str,
    subject: str,
    reference: str | None,
    now_ms: int | None,
) -> Erased:
    at = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    row = {
        "at": at,
        "actor": actor,
        "subject": subject,
        "reference": reference,
        "calls": erased.calls,
        "rows": msgspec.json.encode(dict(sorted(erased.rows.items()))).decode(),
    }
    erased.audit_id = conn.execute(erasures.insert().returning(erasures.c.pk), row).scalar_one()
    return erased
