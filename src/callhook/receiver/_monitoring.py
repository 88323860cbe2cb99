"""The monitor in the receiver: the ingest listener that feeds it and its query API.

``MonitorFeed`` is an ``IngestListener``: after each stored event's commit and 2xx it hands
the request body to the ``MonitorProcess`` (``isolation = "process"``, the default) or the
``LazyEvent`` that ``parse_event`` already built to an inline ``Monitor`` (both O(1); nothing
is decoded in the request). Re-deliveries and events without a call are not fed. The routes
read the monitor's tables and the receiver's own through the store, so they answer the same
after a restart and from any receiver process on the same database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callhook.monitor import (
    Dimension,
    Monitor,
    MonitorClosedError,
    MonitorProcessStats,
    stored_patterns,
)
from callhook.receiver._api import (
    BadParameter,
    endpoint,
    error_response,
    json_response,
    limit_param,
    page_response,
    time_param,
)
from callhook.store import (
    Incoming,
    Outcome,
    Store,
    get_sentiment,
    list_alerts,
    list_hang_impacts,
)

__all__ = ["MonitorCollector", "MonitorFeed", "MonitorSink", "monitor_routes"]


_STATES = ("open", "resolved")
_KINDS = ("hang", "error")


class MonitorSink(Protocol):
    """Where ``MonitorFeed`` sends stored events' bodies: a ``MonitorProcess``, or in a
    worker of ``serve --workers`` the relay to the supervisor's (``_workers.py``)."""

    def observe(self, body: bytes, received_at_ms: int) -> bool: ...

    @property
    def stats(self) -> MonitorProcessStats: ...

    async def drain(self) -> None: ...


class MonitorFeed:
    """Feeds each newly stored event to ``process`` or ``monitor`` (each set while the app's
    monitor of that kind runs)."""

    def __init__(self, monitor: Monitor | None = None) -> None:
        self.monitor = monitor
        self.process: MonitorSink | None = None

    def ingested(self, incoming: Incoming, outcome: Outcome) -> None:
        if outcome.outcome != "stored" or incoming.lazy is None:
            return
        process = self.process
        if process is not None:
            process.observe(incoming.data, incoming.received_at)
            return
        monitor = self.monitor
        if monitor is None:
            return
        # The app may be shutting down: the monitor closed before this request ended.
        with contextlib.suppress(MonitorClosedError):
            monitor.observe(incoming.lazy, incoming.received_at)

    async def drain(self) -> None:
        """Wait until the running monitor has evaluated every event fed so far."""
        if self.process is not None:
            await self.process.drain()
        elif self.monitor is not None:
            await self.monitor.drain()


class MonitorCollector:
    """``/metrics`` for the monitor fed by ``feed``, read at each scrape: events fed to it and
    dropped for it (backlog full), restarts of its child process, bytes waiting for the child.
    """

    def __init__(self, feed: MonitorFeed) -> None:
        self.feed = feed

    def describe(self) -> list[Metric]:
        return []  # metric names are fixed but which exist depends on the running mode

    def collect(self) -> Iterator[Metric]:
        process, monitor = self.feed.process, self.feed.monitor
        stats = process.stats if process is not None else None
        if stats is not None:
            fed, dropped = stats.sent + stats.pending, stats.dropped
        elif monitor is not None:
            inline = monitor.stats
            fed, dropped = inline.observed - inline.dropped, inline.dropped
        else:
            return
        events = CounterMetricFamily(
            "callhook_monitor_events",
            "Stored events handed to the monitor (fed) or not, its backlog being full (dropped)",
            labels=["outcome"],
        )
        events.add_metric(["fed"], fed)
        events.add_metric(["dropped"], dropped)
        yield events
        if stats is not None:
            yield CounterMetricFamily(
                "callhook_monitor_restarts",
                "Times the monitor's child process died and was started again",
                value=stats.restarts,
            )
            yield GaugeMetricFamily(
                "callhook_monitor_backlog_bytes",
                "Bytes of events waiting for the monitor's child process",
                value=stats.buffered,
            )


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None) -> str:
    raw = request.query_params.get(name, default)
    if raw is None or raw not in allowed:
        raise BadParameter(name, f"{name} must be one of: {', '.join(allowed)}")
    return raw


def monitor_routes(store: Store) -> list[Route]:
    """``/api/alerts``, ``/api/calls/{callId}/sentiment``, ``/api/hangs/impact`` and
    ``/api/patterns``."""

    async def alerts(request: Request) -> Response:
        state = None
        if "state" in request.query_params:
            state = _choice(request, "state", _STATES, None)
        since, cursor, limit = (
            time_param(request, "since"),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        page = await store.read(
            lambda c: list_alerts(c, since=since, state=state, cursor=cursor, limit=limit)
        )
        return page_response(page, "alerts")

    async def sentiment(request: Request) -> Response:
        call_id = request.path_params["callId"]
        found = await store.read(lambda c: get_sentiment(c, call_id))
        if found is None:
            message = f"No call {call_id!r} has been received"
            return error_response(404, "not_found", message, "path.callId")
        return json_response(found)

    async def impacts(request: Request) -> Response:
        call_id = request.query_params.get("callId")
        since, cursor, limit = (
            time_param(request, "since"),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        page = await store.read(
            lambda c: list_hang_impacts(c, call_id=call_id, since=since, cursor=cursor, limit=limit)
        )
        return page_response(page, "impacts")

    async def patterns(request: Request) -> Response:
        kind = _choice(request, "kind", _KINDS, "hang")
        dimension = _choice(request, "dimension", tuple(d.value for d in Dimension), "provider")
        since, until = time_param(request, "since"), time_param(request, "until")
        rows = await stored_patterns(store, dimension, since_ms=since, until_ms=until)
        hang = kind == "hang"
        return json_response(
            {
                "kind": kind,
                "dimension": dimension,
                "rows": [
                    {
                        "key": r.group,
                        "calls": r.calls,
                        "turns": r.turns,
                        "incidents": r.hangs if hang else r.errors,
                        "ratePerCall": r.hangs_per_call if hang else r.errors_per_call,
                        "ratePerTurn": r.hangs_per_turn if hang else r.errors_per_turn,
                    }
                    for r in rows
                ],
            }
        )

    get = ["GET"]
    return [
        Route("/api/alerts", endpoint(alerts), methods=get),
        Route("/api/calls/{callId}/sentiment", endpoint(sentiment), methods=get),
        Route("/api/hangs/impact", endpoint(impacts), methods=get),
        Route("/api/patterns", endpoint(patterns), methods=get),
    ]
