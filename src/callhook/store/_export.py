"""Rows for export: calls, messages with their metrics, hangs and errors, a page at a time.

``export_pages`` walks the calls whose first event falls in ``[since, until)`` in pages of
``page`` calls (keyset on ``pk``, one short read transaction per page) and yields, per page,
the rows of each table for those calls: memory is bounded by one page whatever the total.
Each table's columns and their types are in ``EXPORT_TABLES``, so writers can declare a schema
before the first row (CSV header, Parquet schema). ``json`` columns hold nested objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Engine, func, select

from callhook.store._blob import unpack
from callhook.store._schema import calls, errors, hangs, messages

__all__ = ["EXPORT_TABLES", "ExportColumn", "ExportPage", "count_calls", "export_pages"]

Row = dict[str, Any]  # Any: column values of mixed types


@dataclass(frozen=True, slots=True)
class ExportColumn:
    name: str
    #: ``string``, ``int``, ``float``, ``bool`` or ``json`` (an object, array or any value).
    type: str


def _columns(spec: str) -> tuple[ExportColumn, ...]:
    return tuple(ExportColumn(*item.split(":")) for item in spec.split())


#: Every exported table and its columns, in file order.
EXPORT_TABLES: dict[str, tuple[ExportColumn, ...]] = {
    "calls": _columns(
        "callId:string assistantId:string status:string callType:string direction:string "
        "userNumber:string startAt:string endAt:string firstTimestamp:int lastTimestamp:int "
        "messageCount:int hangCount:int errorCount:int eventCount:int totalCost:float "
        "durationSeconds:float call:json report:json"
    ),
    "messages": _columns(
        "callId:string messageId:string position:int timestamp:int role:string text:string "
        "totalElapsedTimeMs:float sttConfidence:float sttDurationMs:float "
        "turnDetectionTimeMs:float llmResponseLatencyMs:float ttsGenerationTimeMs:float "
        "ttsAudioDurationMs:float hangReplyTo:string hangWaitedMs:int metrics:json"
    ),
    "hangs": _columns(
        "callId:string eventTimestamp:int receivedAt:int assistantId:string "
        "pendingMessageId:string waitedMs:int thresholdMs:int stage:string messageCount:int "
        "recoveredMessageId:string recoveredMs:int"
    ),
    "errors": _columns(
        "callId:string eventTimestamp:int receivedAt:int assistantId:string errorType:string "
        "code:string provider:string retryable:bool message:string"
    ),
}

_OBJECT = msgspec.json.Decoder(dict[str, Any])
#: (column, metrics group, key) of the metrics copied into columns of their own.
_METRICS = (
    ("totalElapsedTimeMs", "timeline", "totalElapsedTimeMs"),
    ("sttConfidence", "stt", "confidence"),
    ("sttDurationMs", "stt", "durationMs"),
    ("turnDetectionTimeMs", "interactlyEOU", "turnDetectionTimeMs"),
    ("llmResponseLatencyMs", "llm", "responseLatencyMs"),
    ("ttsGenerationTimeMs", "tts", "generationTimeMs"),
    ("ttsAudioDurationMs", "tts", "audioDurationMs"),
)


@dataclass(frozen=True, slots=True)
class ExportPage:
    """The rows of one page of calls, per table name of ``EXPORT_TABLES``."""

    rows: dict[str, list[Row]]

    @property
    def calls(self) -> int:
        return len(self.rows["calls"])


def _window(since: int | None, until: int | None) -> list[Any]:  # Any: SQL conditions
    where = []
    if since is not None:
        where.append(calls.c.first_ts >= since)
    if until is not None:
        where.append(calls.c.first_ts < until)
    return where


def count_calls(engine: Engine, since: int | None = None, until: int | None = None) -> int:
    """How many calls ``export_pages`` will yield."""
    with engine.connect() as conn:
        query = select(func.count()).select_from(calls).where(*_window(since, until))
        return int(conn.execute(query).scalar_one())


def export_pages(
    engine: Engine, since: int | None = None, until: int | None = None, *, page: int = 200
) -> Iterator[ExportPage]:
    """The calls first seen in ``[since, until)`` (epoch ms) and their rows, page by page."""
    last = 0
    while True:
        with engine.connect() as conn:
            found = conn.execute(
                select(calls)
                .where(calls.c.pk > last, *_window(since, until))
                .order_by(calls.c.pk)
                .limit(page)
            ).all()
            if not found:
                return
            last = found[-1].pk
            ids = {row.pk: row.call_id for row in found}
            pks = list(ids)
            message_rows = conn.execute(
                select(messages)
                .where(messages.c.call_pk.in_(pks))
                .order_by(messages.c.call_pk, messages.c.position, messages.c.seq)
            ).all()
            hang_rows = conn.execute(
                select(hangs).where(hangs.c.call_pk.in_(pks)).order_by(hangs.c.pk)
            ).all()
            error_rows = conn.execute(
                select(errors).where(errors.c.call_pk.in_(pks)).order_by(errors.c.pk)
            ).all()
        yield ExportPage(
            {
                "calls": [_call(row) for row in found],
                "messages": [_message(ids[row.call_pk], row) for row in message_rows],
                "hangs": [_hang(ids[row.call_pk], row) for row in hang_rows],
                "errors": [_error(ids[row.call_pk], row) for row in error_rows],
            }
        )


def _get(obj: object, *path: str) -> Any:  # Any: a JSON value
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _typed(value: object, kind: type | tuple[type, ...]) -> Any:  # Any: the value or None
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


def _call(row: Any) -> Row:  # Any: a calls row
    fields = _OBJECT.decode(row.fields)
    report = _OBJECT.decode(row.report) if row.report is not None else None
    duration = _typed(_get(report, "cost", "callDuration"), (int, float))
    return {
        "callId": row.call_id,
        "assistantId": row.assistant_id,
        "status": row.status,
        "callType": _typed(fields.get("callType"), str),
        "direction": _typed(fields.get("direction"), str),
        "userNumber": _typed(fields.get("userNumber"), str),
        "startAt": _typed(fields.get("startAt"), str),
        "endAt": _typed(fields.get("endAt"), str),
        "firstTimestamp": row.first_ts,
        "lastTimestamp": row.last_ts,
        "messageCount": row.message_count,
        "hangCount": row.hang_count,
        "errorCount": row.error_count,
        "eventCount": row.event_count,
        "totalCost": _float(_get(report, "cost", "totalCost")),
        "durationSeconds": _float(duration),
        "call": fields,
        "report": report,
    }


def _message(call_id: str, row: Any) -> Row:  # Any: a messages row
    body = _OBJECT.decode(unpack(row.body))
    metrics = body.get("metrics")
    out: Row = {
        "callId": call_id,
        "messageId": row.message_id,
        "position": row.position,
        "timestamp": row.ts,
        "role": row.role,
        "text": _typed(body.get("text"), str),
    }
    for column, group, key in _METRICS:
        out[column] = _float(_get(metrics, group, key))
    out["hangReplyTo"] = row.hang_reply_to
    out["hangWaitedMs"] = row.hang_waited_ms
    out["metrics"] = metrics
    return out


def _hang(call_id: str, row: Any) -> Row:  # Any: a hangs row
    return {
        "callId": call_id,
        "eventTimestamp": row.event_ts,
        "receivedAt": row.received_at,
        "assistantId": row.assistant_id,
        "pendingMessageId": row.pending_message_id,
        "waitedMs": row.waited_ms,
        "thresholdMs": row.threshold_ms,
        "stage": row.stage,
        "messageCount": row.message_count,
        "recoveredMessageId": row.recovered_message_id,
        "recoveredMs": row.recovered_ms,
    }


def _error(call_id: str, row: Any) -> Row:  # Any: an errors row
    return {
        "callId": call_id,
        "eventTimestamp": row.event_ts,
        "receivedAt": row.received_at,
        "assistantId": row.assistant_id,
        "errorType": row.error_type,
        "code": row.code,
        "provider": row.provider,
        "retryable": row.retryable,
        "message": row.message,
    }


def _float(value: object) -> float | None:
    number = _typed(value, (int, float))
    return float(number) if number is not None else None
