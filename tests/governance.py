"""Helpers for the retention, erasure, redaction and export tests: calls that carry values of
their own, rows in every table that holds call data, and a scan of every table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from callhook import delivery
from callhook.store import (
    Store,
    make_engine,
    parse_event,
    save_alerts,
    save_hang_impacts,
    save_sentiment,
)
from callhook.store._blob import unpack
from tests.calls import make_call


def marked_events(
    call_id: str, *, number: str, marker: str, n_messages: int = 6, text: str = ""
) -> list[bytes]:
    """The events of ``make_call(call_id)`` with ``number`` as the caller's number and
    ``marker`` (plus ``text``) in every message, the error message and the analysis."""
    bodies = []
    for event in make_call(call_id, n_messages):
        envelope: dict[str, Any] = json.loads(event.body)
        message = envelope["message"]
        message["call"]["userNumber"] = number
        message["customer"] = {"number": number}
        for item in message.get("messages", ()):
            item["text"] = f"{item['text']} {marker} {text}".strip()
        if "error" in message:
            message["error"]["message"] = f"slow down {marker}"
        if message["type"] == "end-of-call-report":
            message["analysis"]["summary"] = f"summary {marker} {text}".strip()
        bodies.append(json.dumps(envelope).encode())
    return bodies


async def ingest_all(store: Store, bodies: Iterable[bytes], received_at: int) -> None:
    for body in bodies:
        await store.ingest(parse_event(body, received_at=received_at))


def side_rows(conn: sa.Connection, call_id: str, marker: str, now: int) -> None:
    """Rows of ``call_id`` in the monitor's tables and the delivery outbox (with attempts)."""
    save_alerts(
        conn,
        [
            {
                "alert_id": f"hang:call={call_id}/user-1:{now}",
                "rule": "hang",
                "scope": f"call={call_id}/user-1",
                "severity": "warning",
                "state": "firing",
                "summary": f"call {call_id} hung ({marker})",
                "value": 5000.0,
                "threshold": 5000.0,
                "fired_at": now,
                "updated_at": now,
                "resolved_at": None,
                "call_id": call_id,
                "assistant_id": "asst-1",
                "provider": "openai",
                "suppressed": 0,
                "notified": True,
            }
        ],
    )
    save_sentiment(
        conn, [{"call_id": call_id, "message_id": "user-1", "ts": float(now), "compound": 0.5}]
    )
    save_hang_impacts(
        conn,
        [
            {
                "call_id": call_id,
                "pending_message_id": "user-1",
                "hang_at": now,
                "outcome": "recovered",
                "response_message_id": None,
                "waited_ms": 6200.0,
                "repeated": False,
                "abandoned": False,
                "detail": json.dumps({"marker": marker}),
            }
        ],
    )
    outbox = delivery.METADATA.tables["callhook_delivery_outbox"]
    attempts = delivery.METADATA.tables["callhook_delivery_attempts"]
    outbox_id = conn.execute(
        outbox.insert().returning(outbox.c.id),
        {
            "webhook_id": f"msg_{call_id}",
            "call_id": call_id,
            "event_type": "status-update",
            "url": "http://127.0.0.1:9/hook",
            "sequence": 1,
            "body": json.dumps({"message": {"call": {"id": call_id}, "m": marker}}).encode(),
            "config": b"{}",
            "status": "delivered",
            "is_head": False,
            "window_start": 0.0,
            "created_at": 0.0,
            "next_attempt_at": 0.0,
        },
    ).scalar_one()
    conn.execute(
        attempts.insert(),
        {
            "outbox_id": outbox_id,
            "attempt": 1,
            "url": f"http://127.0.0.1:9/hook?call={call_id}",
            "started_at": 0.0,
            "latency_ms": 1.0,
            "status_code": 200,
            "outcome": "delivered",
            "error": None,
        },
    )


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, memoryview | bytes):
        data = bytes(value)
        texts = [data.decode("utf-8", "replace")]
        with contextlib.suppress(Exception):  # not a packed value: the raw text is stored
            texts.append(unpack(data).decode("utf-8", "replace"))
        return texts
    return [] if value is None else [str(value)]


def scan(url: str, needles: Iterable[str]) -> list[str]:
    """``table.column: needle`` for every stored value, in every table of the database
    (reflected, so a table added later is scanned too), that contains one of ``needles``;
    packed (compressed) values are unpacked first."""
    wanted = list(needles)
    found: list[str] = []
    engine = make_engine(url)
    try:
        reflected = sa.MetaData()
        reflected.reflect(engine)
        with engine.connect() as conn:
            for table in reflected.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for column, value in row._mapping.items():
                        for text in _texts(value):
                            found.extend(f"{table.name}.{column}: {n}" for n in wanted if n in text)
    finally:
        engine.dispose()
    return sorted(set(found))


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
