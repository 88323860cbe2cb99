"""Time series for the dashboard's metrics page: latency percentiles and hang/error rates.

Both take a ``SeriesFilter`` (time range, bucket width, assistant / provider / model) and a
``Connection`` (``Store.read`` supplies one). Provider and model are read from the stored
assistant objects (``assistantProvider``, ``assistantModel``), which are few (one row per
distinct content), so they become a set of assistant digests the SQL filters on.

Latency samples come from each stored message's metrics (SPEC §3):

| stage | message | value |
|---|---|---|
| ``llm`` | assistant | ``metrics.llm.responseLatencyMs`` |
| ``tts`` | assistant | ``metrics.tts.generationTimeMs`` |
| ``stt`` | user | ``metrics.stt.relativeLatencyMs`` |
| ``response`` | assistant (not welcome) | ``metrics.hang.waitedMs``, else timestamp - user's |

("user's": the timestamp of the call's preceding user message.)

Message bodies are stored compressed, so the range is read in SQL (bounded by
``MAX_SAMPLE_ROWS``, newest kept) and the values are extracted and ranked here (nearest rank).
Rates are pure SQL: per bucket of call start, calls, calls with a hang / an error, and rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, case, func, select

from callhook.store._blob import unpack
from callhook.store._listing import assistant_model
from callhook.store._schema import assistants, calls, messages

__all__ = [
    "LATENCY_STAGES",
    "MAX_SAMPLE_ROWS",
    "SeriesFilter",
    "dimensions",
    "latency_series",
    "rate_series",
]

Json = dict[str, Any]  # Any: JSON values

LATENCY_STAGES = ("llm", "tts", "stt", "response")
#: Most message rows one latency query reads (the newest of the range).
MAX_SAMPLE_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    """A time range in epoch ms ``[since, until)``, a bucket width, and optional scopes."""

    since: int
    until: int
    bucket_ms: int
    assistant_id: str | None = None
    provider: str | None = None
    model: str | None = None


class _Metric(msgspec.Struct):
    responseLatencyMs: float | None = None
    generationTimeMs: float | None = None
    relativeLatencyMs: float | None = None
    waitedMs: float | None = None


class _Metrics(msgspec.Struct):
    llm: _Metric | None = None
    tts: _Metric | None = None
    stt: _Metric | None = None
    hang: _Metric | None = None


class _Message(msgspec.Struct):
    messageId: str = ""
    timestamp: float | None = None
    metrics: _Metrics | None = None


class _Assistant(msgspec.Struct):
    assistantProvider: Any = None  # Any: any JSON value; only strings match
    assistantModel: Any = None  # Any: as above
    model: Any = None  # Any: a model configuration object ({"provider", "model"}), or not


_MESSAGE = msgspec.json.Decoder(_Message)
_ASSISTANT = msgspec.json.Decoder(_Assistant)


def _assistant_facts(conn: Connection) -> list[tuple[str, str | None, str | None, str | None]]:
    """(digest, assistant id, provider, model) of every stored assistant object."""
    rows = conn.execute(select(assistants.c.digest, assistants.c.assistant_id, assistants.c.body))
    facts = []
    for row in rows:
        try:
            parsed = _ASSISTANT.decode(row.body)
        except msgspec.DecodeError:
            parsed = _Assistant()
        provider, model = assistant_model(
            parsed.assistantProvider, parsed.assistantModel, parsed.model
        )
        facts.append((row.digest, row.assistant_id, provider, model))
    return facts


def _digests(conn: Connection, where: SeriesFilter) -> list[str] | None:
    """Assistant digests matching provider/model, or ``None`` when neither is asked for."""
    if where.provider is None and where.model is None:
        return None
    return [
        digest
        for digest, _, provider, model in _assistant_facts(conn)
        if (where.provider is None or provider == where.provider)
        and (where.model is None or model == where.model)
    ]


def _scope(query: Any, conn: Connection, where: SeriesFilter) -> Any:  # Any: a Select
    if where.assistant_id is not None:
        query = query.where(calls.c.assistant_id == where.assistant_id)
    digests = _digests(conn, where)
    if digests is not None:
        query = query.where(calls.c.assistant_digest.in_(digests))
    return query


def _buckets(where: SeriesFilter) -> list[int]:
    count = max(1, math.ceil((where.until - where.since) / where.bucket_ms))
    return [where.since + i * where.bucket_ms for i in range(count)]


def _rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _sample(stage: str, message: _Message, role: str | None, previous_user: float | None) -> Any:
    metrics = message.metrics
    if stage == "stt":
        stt = metrics.stt if metrics is not None and role == "user" else None
        return stt.relativeLatencyMs if stt is not None else None
    if role != "assistant" or message.messageId.startswith("welcome"):
        return None
    if stage == "llm":
        return metrics.llm.responseLatencyMs if metrics and metrics.llm else None
    if stage == "tts":
        return metrics.tts.generationTimeMs if metrics and metrics.tts else None
    if metrics is not None and metrics.hang is not None and metrics.hang.waitedMs is not None:
        return metrics.hang.waitedMs
    if previous_user is None or message.timestamp is None:
        return None
    return message.timestamp - previous_user


def latency_series(conn: Connection, stage: str, where: SeriesFilter) -> Json:
    """``{"stage", "bucketMs", "points": [{"start", "count", "p50", "p95", "p99"}]}``."""
    if stage not in LATENCY_STAGES:
        raise ValueError(f"stage must be one of {', '.join(LATENCY_STAGES)}")
    query = select(messages.c.call_pk, messages.c.ts, messages.c.role, messages.c.body)
    query = query.join(calls, calls.c.pk == messages.c.call_pk)
    # The preceding user message may sit before ``since``: read one bucket more, count none.
    lead = where.bucket_ms if stage == "response" else 0
    query = query.where(messages.c.ts >= where.since - lead, messages.c.ts < where.until)
    if stage == "stt":
        query = query.where(messages.c.role == "user")
    query = _scope(query, conn, where)
    query = query.order_by(messages.c.ts.desc()).limit(MAX_SAMPLE_ROWS)
    rows = sorted(conn.execute(query).all(), key=lambda r: (r.call_pk, r.ts))
    samples: dict[int, list[float]] = {}
    last_user: dict[int, float] = {}
    for row in rows:
        try:
            message = _MESSAGE.decode(unpack(row.body))
        except msgspec.DecodeError:
            continue
        value = _sample(stage, message, row.role, last_user.get(row.call_pk))
        if row.role == "user" and message.timestamp is not None:
            last_user[row.call_pk] = message.timestamp
        if isinstance(value, int | float) and row.ts >= where.since:
            index = (row.ts - where.since) // where.bucket_ms
            samples.setdefault(index, []).append(float(value))
    points: list[Json] = []
    for index, start in enumerate(_buckets(where)):
        values = sorted(samples.get(index, ()))
        if not values:
            points.append({"start": start, "count": 0, "p50": None, "p95": None, "p99": None})
            continue
        points.append(
            {
                "start": start,
                "count": len(values),
                "p50": _rank(values, 0.50),
                "p95": _rank(values, 0.95),
                "p99": _rank(values, 0.99),
            }
        )
    return {"stage": stage, "bucketMs": where.bucket_ms, "points": points}


def rate_series(conn: Connection, where: SeriesFilter) -> Json:
    """Per bucket of call start: calls, calls with a hang / an error, hangs, errors, rates."""
    first = calls.c.first_ts
    bucket = ((first - where.since) // where.bucket_ms).label("bucket")
    query = select(
        bucket,
        func.count().label("calls"),
        func.sum(case((calls.c.hang_count > 0, 1), else_=0)).label("with_hang"),
        func.sum(case((calls.c.error_count > 0, 1), else_=0)).label("with_error"),
        func.sum(calls.c.hang_count).label("hangs"),
        func.sum(calls.c.error_count).label("errors"),
    ).where(first >= where.since, first < where.until)
    query = _scope(query, conn, where).group_by(bucket)
    found = {int(row.bucket): row for row in conn.execute(query)}
    points = []
    for index, start in enumerate(_buckets(where)):
        row = found.get(index)
        n = int(row.calls) if row is not None else 0
        with_hang = int(row.with_hang or 0) if row is not None else 0
        with_error = int(row.with_error or 0) if row is not None else 0
        points.append(
            {
                "start": start,
                "calls": n,
                "callsWithHang": with_hang,
                "callsWithError": with_error,
                "hangs": int(row.hangs or 0) if row is not None else 0,
                "errors": int(row.errors or 0) if row is not None else 0,
                "hangRate": with_hang / n if n else None,
                "errorRate": with_error / n if n else None,
            }
        )
    return {"bucketMs": where.bucket_ms, "points": points}


def dimensions(conn: Connection) -> Json:
    """The assistants, providers and models seen, for the dashboard's filters."""
    facts = _assistant_facts(conn)
    names = dict(conn.execute(select(assistants.c.assistant_id, assistants.c.name)).all())
    ids = sorted({a for _, a, _, _ in facts if a is not None})
    return {
        "assistants": [{"id": a, "name": names.get(a)} for a in ids],
        "providers": sorted({p for _, _, p, _ in facts if p is not None}),
        "models": sorted({m for _, _, _, m in facts if m is not None}),
    }
