"""The dashboard's overview: what is live now, and two windows against the period before.

``overview`` answers, for the last hour and for today (from ``day_start``, the viewer's local
midnight), and for the same span just before each (the hour before; yesterday up to this
time of day):

- ``calls``: calls whose first event falls in the window;
- ``hangRate`` / ``errorRate``: the share of those calls with a hang / an error;
- ``responseP50`` / ``responseP95``: the bot response time of the window's assistant
  messages (not the welcome): ``metrics.hang.waitedMs`` of a late response, else its
  timestamp minus that of the call's preceding user message (nearest-rank percentiles);
- ``alerts``: monitor alerts fired in the window;

each with a sparkline of ``SPARK_BUCKETS`` equal buckets of the current window. ``live``
holds ``ongoingCalls`` (status ``ongoing``, first event in the last 24 h) and ``openAlerts``
(firing now). Everything is read from columns (no message body is decompressed), at most
``MAX_WINDOW_MESSAGES`` messages per window (the newest).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, case, func, not_, select

from callhook.store._monitoring import monitor_alerts
from callhook.store._schema import calls, messages
from callhook.store._schema import errors as errors_table
from callhook.store._schema import hangs as hangs_table

__all__ = [
    "MAX_WINDOW_MESSAGES",
    "SPARK_BUCKETS",
    "first_call_since",
    "live_figures",
    "overview",
    "response_times",
]

Json = dict[str, Any]  # Any: JSON values

#: Buckets of each window's sparklines.
SPARK_BUCKETS = 12
#: Most messages one window's response times are computed from (the newest).
MAX_WINDOW_MESSAGES = 200_000
#: How far before a window a call's preceding user message is looked for.
_LEAD_MS = 600_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000


def response_times(conn: Connection, since: int, until: int) -> list[tuple[int, float]]:
    """``(timestamp, response ms)`` of each assistant message in ``[since, until)``."""
    user_ts = case((messages.c.role == "user", messages.c.ts))
    inner = (
        select(
            messages.c.ts,
            messages.c.role,
            messages.c.message_id,
            messages.c.hang_waited_ms,
            func.max(user_ts)
            .over(
                partition_by=messages.c.call_pk,
                order_by=(messages.c.ts, messages.c.position, messages.c.seq),
                rows=(None, -1),
            )
            .label("user_ts"),
        )
        .where(messages.c.ts >= since - _LEAD_MS, messages.c.ts < until)
        .subquery()
    )
    query = (
        select(inner.c.ts, inner.c.hang_waited_ms, inner.c.user_ts)
        .where(
            inner.c.ts >= since,
            inner.c.role == "assistant",
            not_(inner.c.message_id.like("welcome%")),
        )
        .order_by(inner.c.ts.desc())
        .limit(MAX_WINDOW_MESSAGES)
    )
    out = []
    for row in conn.execute(query):
        if row.hang_waited_ms is not None:
            out.append((int(row.ts), float(row.hang_waited_ms)))
        elif row.user_ts is not None:
            out.append((int(row.ts), float(row.ts - row.user_ts)))
    return out


def _rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _call_counts(conn: Connection, since: int, until: int, bucket_ms: int) -> dict[int, Any]:
    bucket = ((calls.c.first_ts - since) // bucket_ms).label("bucket")
    query = (
        select(
            bucket,
            func.count().label("calls"),
            func.sum(case((calls.c.hang_count > 0, 1), else_=0)).label("hang"),
            func.sum(case((calls.c.error_count > 0, 1), else_=0)).label("error"),
        )
        .where(calls.c.first_ts >= since, calls.c.first_ts < until)
        .group_by(bucket)
    )
    return {int(r.bucket): r for r in conn.execute(query)}


def _alert_counts(conn: Connection, since: int, until: int, bucket_ms: int) -> dict[int, int]:
    fired = monitor_alerts.c.fired_at
    bucket = ((fired - since) // bucket_ms).label("bucket")
    query = select(bucket, func.count().label("n")).where(fired >= since, fired < until)
    return {int(r.bucket): int(r.n) for r in conn.execute(query.group_by(bucket))}


def _window(conn: Connection, since: int, until: int, buckets: int) -> Json:
    """The window's totals and, per bucket, the same figures (the sparklines)."""
    bucket_ms = max(1, math.ceil((until - since) / buckets))
    counts = _call_counts(conn, since, until, bucket_ms)
    alerts = _alert_counts(conn, since, until, bucket_ms)
    times = response_times(conn, since, until)
    by_bucket: dict[int, list[float]] = {}
    for ts, value in times:
        by_bucket.setdefault((ts - since) // bucket_ms, []).append(value)
    spark: dict[str, list[Any]] = {k: [] for k in _FIGURES}
    for index in range(buckets):
        row = counts.get(index)
        n = int(row.calls) if row is not None else 0
        values = by_bucket.get(index, [])
        spark["calls"].append(n)
        spark["hangRate"].append(int(row.hang or 0) / n if row is not None and n else None)
        spark["errorRate"].append(int(row.error or 0) / n if row is not None and n else None)
        spark["responseP50"].append(_rank(values, 0.50))
        spark["responseP95"].append(_rank(values, 0.95))
        spark["alerts"].append(alerts.get(index, 0))
    total = sum(int(r.calls) for r in counts.values())
    with_hang = sum(int(r.hang or 0) for r in counts.values())
    with_error = sum(int(r.error or 0) for r in counts.values())
    values = [v for _, v in times]
    return {
        "since": since,
        "until": until,
        "bucketMs": bucket_ms,
        "calls": total,
        "callsWithHang": with_hang,
        "callsWithError": with_error,
        "hangRate": with_hang / total if total else None,
        "errorRate": with_error / total if total else None,
        "responseP50": _rank(values, 0.50),
        "responseP95": _rank(values, 0.95),
        "responses": len(values),
        "alerts": sum(alerts.values()),
        "spark": spark,
    }


_FIGURES = ("calls", "hangRate", "errorRate", "responseP50", "responseP95", "alerts")


def live_figures(conn: Connection, now_ms: int) -> Json:
    """Calls going on now (status ``ongoing``, first event in the last 24 h), alerts firing,
    and the hangs and errors reported in the last hour (by event time)."""
    ongoing = select(func.count()).where(
        calls.c.first_ts >= now_ms - _DAY_MS, calls.c.status == "ongoing"
    )
    firing = select(func.count()).where(monitor_alerts.c.state == "firing")
    hangs = select(func.count()).where(hangs_table.c.event_ts >= now_ms - _HOUR_MS)
    errors = select(func.count()).where(errors_table.c.event_ts >= now_ms - _HOUR_MS)
    return {
        "ongoingCalls": int(conn.execute(ongoing).scalar() or 0),
        "openAlerts": int(conn.execute(firing).scalar() or 0),
        "hangsLastHour": int(conn.execute(hangs).scalar() or 0),
        "errorsLastHour": int(conn.execute(errors).scalar() or 0),
    }


def first_call_since(conn: Connection, since: int) -> int | None:
    """The first event time of the earliest call that started at or after ``since``."""
    found = conn.execute(select(func.min(calls.c.first_ts)).where(calls.c.first_ts >= since))
    value = found.scalar()
    return int(value) if value is not None else None


def overview(conn: Connection, now_ms: int, day_start_ms: int) -> Json:
    """``{"now", "live", "hour": {"current", "previous"}, "today": {...}}`` (module doc)."""
    if not now_ms - _DAY_MS < day_start_ms <= now_ms:
        raise ValueError("day_start must be within the 24 hours before now")
    hour = {
        "current": _window(conn, now_ms - _HOUR_MS, now_ms, SPARK_BUCKETS),
        "previous": _window(conn, now_ms - 2 * _HOUR_MS, now_ms - _HOUR_MS, SPARK_BUCKETS),
    }
    span = max(1, now_ms - day_start_ms)
    today = {
        "current": _window(conn, day_start_ms, day_start_ms + span, SPARK_BUCKETS),
        "previous": _window(
            conn, day_start_ms - _DAY_MS, day_start_ms - _DAY_MS + span, SPARK_BUCKETS
        ),
    }
    return {"now": now_ms, "live": live_figures(conn, now_ms), "hour": hour, "today": today}
