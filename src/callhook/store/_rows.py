"""Conversions between ``CallState`` and a ``calls`` row."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Row

from callhook.store._merge import CallState

__all__ = ["STATE_COLUMNS", "fields_json", "state_from_row", "state_row", "state_values"]

#: The ``calls`` columns ``state_values`` sets.
STATE_COLUMNS = (
    "assistant_id",
    "status",
    "status_rank",
    "status_ts",
    "first_ts",
    "last_ts",
    "fields",
    "field_ts",
    "assistant_digest",
    "assistant_ts",
    "report",
    "report_ts",
    "message_count",
    "hang_count",
    "error_count",
    "event_count",
    "duplicate_count",
    "version",
    "updated_at",
)

_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_FIELD_TS = msgspec.json.Decoder(dict[str, int])


def state_from_row(row: Row[Any]) -> CallState:  # Any: a calls row of mixed column types
    fields = {key: bytes(value) for key, value in _FIELDS.decode(row.fields).items()}
    state = CallState(
        row.call_id,
        pk=row.pk,
        status=row.status,
        status_rank=row.status_rank,
        status_ts=row.status_ts,
        first_ts=row.first_ts,
        last_ts=row.last_ts,
        fields=fields,
        field_ts=_FIELD_TS.decode(row.field_ts),
        assistant_digest=row.assistant_digest,
        assistant_ts=row.assistant_ts,
        report=row.report.encode() if row.report is not None else None,
        report_ts=row.report_ts,
        message_count=row.message_count,
        hang_count=row.hang_count,
        error_count=row.error_count,
        event_count=row.event_count,
        duplicate_count=row.duplicate_count,
        updated_at=row.updated_at,
    )
    if "assistantId" not in fields:
        state.assistant_id_hint = row.assistant_id
    return state


def fields_json(fields: dict[str, bytes]) -> bytes:
    """The merged call object as compact JSON."""
    return msgspec.json.encode({key: msgspec.Raw(value) for key, value in fields.items()})


def state_values(state: CallState, *, version: int) -> dict[str, Any]:  # Any: bind values
    """Bind parameters for ``UPDATE calls ... WHERE pk = :k_pk``."""
    return {
        "k_pk": state.pk,
        "assistant_id": state.assistant_id,
        "status": state.status,
        "status_rank": state.status_rank,
        "status_ts": state.status_ts,
        "first_ts": state.first_ts,
        "last_ts": state.last_ts,
        "fields": fields_json(state.fields).decode(),
        "field_ts": msgspec.json.encode(state.field_ts).decode(),
        "assistant_digest": state.assistant_digest,
        "assistant_ts": state.assistant_ts,
        "report": state.report.decode() if state.report is not None else None,
        "report_ts": state.report_ts,
        "message_count": state.message_count,
        "hang_count": state.hang_count,
        "error_count": state.error_count,
        "event_count": state.event_count,
        "duplicate_count": state.duplicate_count,
        "version": version,
        "updated_at": state.updated_at,
    }


def state_row(state: CallState, *, version: int) -> tuple[Any, ...]:  # Any: column values
    """Positional parameters for ``HotSql.update_calls``: ``STATE_COLUMNS``, then the pk."""
    return (
        state.assistant_id,
        state.status,
        state.status_rank,
        state.status_ts,
        state.first_ts,
        state.last_ts,
        fields_json(state.fields).decode(),
        msgspec.json.encode(state.field_ts).decode(),
        state.assistant_digest,
        state.assistant_ts,
        state.report.decode() if state.report is not None else None,
        state.report_ts,
        state.message_count,
        state.hang_count,
        state.error_count,
        state.event_count,
        state.duplicate_count,
        version,
        state.updated_at,
        state.pk,
    )
