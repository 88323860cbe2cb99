"""The deliveries API: the relay's outbox as the query API and the dashboard see it.

``GET /api/deliveries`` (newest first; ``target``, ``status``, ``callId``, ``limit``,
``cursor``), ``GET /api/deliveries/targets`` (per target: counts, backlog, success rate and
latency over time), ``GET /api/deliveries/{deliveryId}`` (one row and its attempts),
``POST /api/deliveries/{deliveryId}/replay`` and ``GET /api/calls/{callId}/deliveries``.

A replay makes a finished row (dead or delivered) pending again with a fresh retry window
(delivery's requeue: the dispatcher that runs on the outbox, inside ``serve`` or
``callhook deliver``, sends it within its poll interval). Like an erasure it needs an API
token, even where the rest of the API is open: 403 when the receiver has none configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callhook.delivery import requeue, safe_url
from callhook.receiver._api import (
    BadParameter,
    endpoint,
    error_response,
    integer,
    json_response,
    limit_param,
    token_name,
)
from callhook.receiver._dashboard import series_range
from callhook.receiver._delivery_queries import (
    STATUSES,
    DeliveryFilter,
    call_deliveries,
    get_delivery,
    list_delivery_page,
)
from callhook.receiver._delivery_summary import target_summary
from callhook.relay import ForwardTarget
from callhook.store import Store, get_call

__all__ = ["delivery_routes"]

logger = logging.getLogger("callhook.receiver")


def _filter(request: Request) -> DeliveryFilter:
    q = request.query_params
    status = q.get("status")
    if status is not None and status not in STATUSES:
        raise BadParameter("status", f"status must be one of {', '.join(STATUSES)}")
    return DeliveryFilter(target=q.get("target") or None, status=status, call_id=q.get("callId"))


def _delivery_id(request: Request) -> int | Response:
    """The path's delivery id, or the 400 / 404 answer for one that cannot exist."""
    raw = request.path_params["deliveryId"]
    value = integer(raw)
    if value is None:
        return error_response(
            400, "invalid_parameter", "deliveryId must be an integer", "path.deliveryId"
        )
    if value < 1:
        return _not_found(value)
    return value


def _not_found(delivery_id: int) -> Response:
    return error_response(
        404, "not_found", f"No delivery {delivery_id} is in the outbox", "path.deliveryId"
    )


def delivery_routes(store: Store, targets: Sequence[ForwardTarget] = ()) -> list[Route]:
    """The routes; ``targets`` (the configured ``[[forward]]`` ones) give their names, and
    the summary lists them even before anything was sent to them."""
    names = {safe_url(t.url): t.name for t in targets}

    def named(found: Any) -> Any:  # Any: JSON values, each object with a target named
        if isinstance(found, list):
            return [named(item) for item in found]
        if isinstance(found, dict):
            if "target" in found:
                found["name"] = names.get(found["target"], found["target"])
            return {k: named(v) if k in ("items", "targets") else v for k, v in found.items()}
        return found

    async def deliveries(request: Request) -> Response:
        where, cursor, limit = (
            _filter(request),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        page = await store.read(lambda c: list_delivery_page(c, where, cursor, limit))
        return json_response({"deliveries": named(page.items), "nextCursor": page.next_cursor})

    async def summary(request: Request) -> Response:
        since, until, bucket_ms = series_range(request, int(time.time() * 1000))
        found = await store.read(lambda c: target_summary(c, since, until, bucket_ms, names))
        return json_response(named(found))

    async def delivery(request: Request) -> Response:
        chosen = _delivery_id(request)
        if isinstance(chosen, Response):
            return chosen
        found = await store.read(lambda c: get_delivery(c, chosen))
        return json_response(named(found)) if found is not None else _not_found(chosen)

    async def replay(request: Request) -> Response:
        actor = token_name(request, "Replaying a delivery", "the log")
        if isinstance(actor, Response):
            return actor
        chosen = _delivery_id(request)
        if isinstance(chosen, Response):
            return chosen
        found = await store.read(lambda c: get_delivery(c, chosen))
        if found is None:
            return _not_found(chosen)
        if found["status"] in ("pending", "retrying"):
            return error_response(
                409,
                "not_finished",
                f"Delivery {chosen} is still {found['status']}: the dispatcher is sending it; "
                "replay a dead or delivered one",
                "path.deliveryId",
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, lambda: requeue(store.engine, now=time.time(), ids=[chosen])
        )
        logger.info("receiver.delivery_replayed id=%d by=%s", chosen, actor)
        after = await store.read(lambda c: get_delivery(c, chosen))
        return json_response(named(after))

    async def of_call(request: Request) -> Response:
        call_id = request.path_params["callId"]

        def read(conn: Any) -> list[Any] | None:  # Any: a Connection; JSON items
            found = call_deliveries(conn, call_id)
            return found if found or get_call(conn, call_id) is not None else None

        found = await store.read(read)
        if found is None:
            message = f"No call {call_id!r} has been received"
            return error_response(404, "not_found", message, "path.callId")
        return json_response({"callId": call_id, "targets": named(found)})

    get = ["GET"]
    return [
        Route("/api/deliveries", endpoint(deliveries), methods=get),
        Route("/api/deliveries/targets", endpoint(summary), methods=get),
        Route("/api/deliveries/{deliveryId}", endpoint(delivery), methods=get),
        Route("/api/deliveries/{deliveryId}/replay", endpoint(replay), methods=["POST"]),
        Route("/api/calls/{callId}/deliveries", endpoint(of_call), methods=get),
    ]
