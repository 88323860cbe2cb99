"""The dashboard: its static assets at ``/``, the live stream, and the metrics series API.

The assets (``static/``: HTML, plain JavaScript modules, CSS; charts are SVG drawn by our own
code) ship inside the package, need no build step and load nothing from the network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callhook.receiver._api import (
    BadParameter,
    endpoint,
    error_response,
    integer,
    json_response,
    time_param,
)
from callhook.receiver._live import LiveBus, LiveStream
from callhook.receiver._recording import RecordingTemplate, recording_of
from callhook.store import (
    LATENCY_STAGES,
    SeriesFilter,
    Store,
    dimensions,
    first_call_since,
    get_call,
    latency_series,
    live_figures,
    overview,
    rate_series,
)

__all__ = ["STATIC_DIR", "dashboard_routes", "series_range"]

STATIC_DIR = Path(__file__).parent / "static"
#: Most buckets one series request may ask for.
MAX_BUCKETS = 1000
_DEFAULT_SPAN_MS = 3_600_000
_DAY_MS = 86_400_000


def series_range(request: Request, now_ms: int) -> tuple[int, int, int]:
    """``since``, ``until`` (default: the hour before ``now_ms``) and the bucket width in ms
    (``bucket`` seconds; default: about 60 buckets) of a series request."""
    until = time_param(request, "until")
    since = time_param(request, "since")
    until = now_ms if until is None else until
    since = until - _DEFAULT_SPAN_MS if since is None else since
    if since >= until:
        raise BadParameter("since", "since must be before until")
    raw = request.query_params.get("bucket")
    if raw is None:
        bucket_ms = max(1000, -(-(until - since) // 60))  # about 60 points
    elif (seconds := integer(raw)) is not None and 0 < seconds < 2**53:
        bucket_ms = seconds * 1000
    else:
        raise BadParameter("bucket", "bucket must be a positive number of seconds")
    if (until - since) / bucket_ms > MAX_BUCKETS:
        raise BadParameter("bucket", f"at most {MAX_BUCKETS} buckets per request; widen bucket")
    return since, until, bucket_ms


def _series_filter(request: Request, now_ms: int) -> SeriesFilter:
    since, until, bucket_ms = series_range(request, now_ms)
    q = request.query_params
    return SeriesFilter(
        since=since,
        until=until,
        bucket_ms=bucket_ms,
        assistant_id=q.get("assistantId") or None,
        provider=q.get("provider") or None,
        model=q.get("model") or None,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def dashboard_routes(
    store: Store, bus: LiveBus, *, recording_url: str | None = None
) -> list[BaseRoute]:
    """``/`` (the page), ``/static``, ``/api/stream``, ``/api/metrics/*``, ``/api/overview``
    (``callhook.store.overview``; ``dayStart``: the viewer's midnight, default UTC's) and
    ``/api/live`` (the overview's ``live`` figures alone: ongoing calls, open alerts, hangs
    and errors of the last hour, events per minute and per second) and
    ``/api/calls/{callId}/recording`` (``{"url", "reason"}``: ``url`` null with the
    reason when recordings are off or the call's report has none yet)."""
    template = RecordingTemplate(recording_url) if recording_url is not None else None

    async def recording(request: Request) -> Response:
        call_id = request.path_params["callId"]
        found = await store.read(lambda c: get_call(c, call_id))
        if found is None:
            message = f"No call {call_id!r} has been received"
            return error_response(404, "not_found", message, "path.callId")
        if template is None:
            return json_response({"url": None, "reason": "not configured"})
        url = template.fill(recording_of(found["report"]))
        reason = None if url is not None else "no recording in the call's report yet"
        return json_response({"url": url, "reason": reason})

    async def latency(request: Request) -> Response:
        stage = request.query_params.get("stage", "llm")
        if stage not in LATENCY_STAGES:
            raise BadParameter("stage", f"stage must be one of {', '.join(LATENCY_STAGES)}")
        where = _series_filter(request, _now_ms())
        return json_response(await store.read(lambda c: latency_series(c, stage, where)))

    async def rates(request: Request) -> Response:
        where = _series_filter(request, _now_ms())
        return json_response(await store.read(lambda c: rate_series(c, where)))

    async def filters(request: Request) -> Response:
        since = _now_ms() - _DAY_MS

        def read(conn: Connection) -> dict[str, Any]:  # Any: JSON values
            return {**dimensions(conn), "firstCallAt": first_call_since(conn, since)}

        return json_response(await store.read(read))

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    async def overview_route(request: Request) -> Response:
        now = _now_ms()
        day_start = time_param(request, "dayStart")
        if day_start is None:
            day_start = now - now % _DAY_MS  # midnight UTC
        if not now - _DAY_MS < day_start <= now:
            raise BadParameter("dayStart", "dayStart must be within the 24 hours before now")
        found = await store.read(lambda c: overview(c, now, day_start))
        found["live"].update(_rates(bus))
        return json_response(found)

    async def live_route(request: Request) -> Response:
        now = _now_ms()
        found = await store.read(lambda c: live_figures(c, now))
        return json_response({"now": now, **found, **_rates(bus)})

    async def live_stats(request: Request) -> Response:
        body = {"subscribers": bus.subscribers, "published": bus.published}
        return Response(msgspec.json.encode(body), media_type="application/json")

    get = ["GET"]
    return [
        Route("/", index, methods=get),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/api/stream", LiveStream(bus), methods=get),
        Route("/api/stream/stats", live_stats, methods=get),
        Route("/api/metrics/latency", endpoint(latency), methods=get),
        Route("/api/metrics/rates", endpoint(rates), methods=get),
        Route("/api/metrics/filters", endpoint(filters), methods=get),
        Route("/api/overview", endpoint(overview_route), methods=get),
        Route("/api/live", endpoint(live_route), methods=get),
        Route("/api/calls/{callId}/recording", endpoint(recording), methods=get),
    ]


def _rates(bus: LiveBus) -> dict[str, float]:
    """Events stored in the last minute, and per second over the 5 complete seconds before
    this one."""
    return {
        "eventsPerMinute": bus.rate.last(60),
        "eventsPerSecond": bus.rate.last(5, current=False) / 5,
    }
