"""The query API: JSON over the store's query functions (``callhook.store``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callhook.receiver._apiauth import TOKEN_NAME
from callhook.receiver._asgi import error_body
from callhook.receiver._metrics import ReceiverMetrics
from callhook.store import (
    CallFilter,
    InvalidCursor,
    Page,
    Store,
    get_call,
    list_calls,
    list_errors,
    list_events,
    list_hangs,
    list_messages,
    list_unattributed,
)

__all__ = [
    "BadParameter",
    "api_routes",
    "endpoint",
    "error_response",
    "integer",
    "json_response",
    "limit_param",
    "page_response",
    "time_param",
    "token_name",
]

_DEFAULT_LIMIT = 50
_MAX_LIMIT = 500
_INTEGER = re.compile(r"-?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class BadParameter(Exception):
    """A query parameter with a bad value: answered 400 by ``endpoint``."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message


def json_response(value: Any, status: int = 200) -> Response:  # Any: any JSON-ready value
    return Response(msgspec.json.encode(value), status, media_type="application/json")


def error_response(status: int, code: str, message: str, path: str | None = None) -> Response:
    return Response(error_body(code, message, path), status, media_type="application/json")


def token_name(request: Request, doing: str, why: str) -> str | Response:
    """The name of the API token that sent ``request``, or the 403 to answer when none did:
    ``doing`` (e.g. "Erasing a call") needs a token so that ``why`` (what names the asker)."""
    actor = request.scope.get(TOKEN_NAME)
    if isinstance(actor, str):
        return actor
    return error_response(
        403,
        "token_required",
        f"{doing} needs an API token, so that {why} can name who asked: configure tokens "
        '(`[api] tokens = {name = "..."}` or CALLHOOK_API_TOKEN) and send `Authorization: '
        "Bearer <token>` (the dashboard sends the token it was opened with, ?token=<token>)",
        "header.authorization",
    )


def page_response(page: Page, key: str) -> Response:
    return json_response({key: page.items, "nextCursor": page.next_cursor})


def integer(raw: str) -> int | None:
    """``raw`` as an integer when it is ASCII digits with an optional leading ``-`` and fits
    a 64-bit signed column; else ``None`` (``isdigit()`` alone accepts ``²`` and ``٣``)."""
    if _INTEGER.fullmatch(raw) is None or len(raw) > 20:  # int() refuses over 4300 digits
        return None
    value = int(raw)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def limit_param(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return _DEFAULT_LIMIT
    value = integer(raw)
    if value is None or not 1 <= value <= _MAX_LIMIT:
        raise BadParameter("limit", f"limit must be an integer from 1 to {_MAX_LIMIT}")
    return value


def time_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    message = f"{name} must be epoch milliseconds (a 64-bit integer) or ISO-8601"
    if _INTEGER.fullmatch(raw) is not None:
        value = integer(raw)
        if value is None:
            raise BadParameter(name, message)
        return value
    try:
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise BadParameter(name, message) from None


def _bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadParameter(name, f"{name} must be true or false")


def _filter(request: Request) -> CallFilter:
    q = request.query_params
    return CallFilter(
        status=q.get("status"),
        assistant_id=q.get("assistantId"),
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        has_hang=_bool(request, "hasHang"),
        has_error=_bool(request, "hasError"),
        call_id=q.get("callId"),
        error_type=q.get("type"),
        code=q.get("code"),
        provider=q.get("provider"),
        platform=q.get("platform"),
        search=q.get("q") or None,
    )


def endpoint(
    handler: Callable[[Request], Any],  # Any: returns a coroutine of a Response
) -> Callable[[Request], Any]:  # Any: an async endpoint
    """Wrap an async handler: bad parameters and cursors become 400 with the parameter."""

    async def run(request: Request) -> Response:
        try:
            response: Response = await handler(request)
            return response
        except BadParameter as exc:
            return error_response(400, "invalid_parameter", exc.message, f"query.{exc.name}")
        except InvalidCursor as exc:
            return error_response(400, "invalid_cursor", str(exc), "query.cursor")

    return run


def api_routes(store: Store, metrics: ReceiverMetrics) -> list[Route]:
    """The routes of the query API, ``/healthz`` and ``/metrics``."""

    async def calls(request: Request) -> Response:
        where, cursor, limit = (
            _filter(request),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        return page_response(
            await store.read(lambda c: list_calls(c, where, cursor, limit)), "calls"
        )

    async def call(request: Request) -> Response:
        call_id = request.path_params["callId"]
        found = await store.read(lambda c: get_call(c, call_id))
        return json_response(found) if found is not None else _not_found(call_id)

    def per_call(
        query: Callable[[Connection, str, str | None, int], Page | None], key: str
    ) -> Callable[[Request], Any]:  # Any: an async endpoint
        async def handler(request: Request) -> Response:
            call_id = request.path_params["callId"]
            cursor, limit = request.query_params.get("cursor"), limit_param(request)
            page = await store.read(lambda c: query(c, call_id, cursor, limit))
            return page_response(page, key) if page is not None else _not_found(call_id)

        return handler

    async def hangs(request: Request) -> Response:
        where, cursor, limit = (
            _filter(request),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        return page_response(
            await store.read(lambda c: list_hangs(c, where, cursor, limit)), "hangs"
        )

    async def errors(request: Request) -> Response:
        where, cursor, limit = (
            _filter(request),
            request.query_params.get("cursor"),
            limit_param(request),
        )
        return page_response(
            await store.read(lambda c: list_errors(c, where, cursor, limit)), "errors"
        )

    async def unattributed(request: Request) -> Response:
        cursor, limit = request.query_params.get("cursor"), limit_param(request)
        page = await store.read(lambda c: list_unattributed(c, cursor, limit))
        return page_response(page, "events")

    async def healthz(request: Request) -> Response:
        try:
            await store.read(lambda c: c.execute(text("SELECT 1")).scalar())
        except Exception as exc:  # any database failure means "not healthy", reported as such
            return error_response(503, "unhealthy", f"database check failed: {type(exc).__name__}")
        return json_response({"status": "ok", "database": store.dialect})

    async def prometheus(request: Request) -> Response:
        await metrics.refresh()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    get = ["GET"]
    return [
        Route("/api/calls", endpoint(calls), methods=get),
        Route("/api/calls/{callId}", endpoint(call), methods=get),
        Route(
            "/api/calls/{callId}/messages",
            endpoint(per_call(list_messages, "messages")),
            methods=get,
        ),
        Route("/api/calls/{callId}/events", endpoint(per_call(list_events, "events")), methods=get),
        Route("/api/hangs", endpoint(hangs), methods=get),
        Route("/api/errors", endpoint(errors), methods=get),
        Route("/api/unattributed", endpoint(unattributed), methods=get),
        Route("/healthz", healthz, methods=get),
        Route("/metrics", prometheus, methods=get),
    ]


def _not_found(call_id: str) -> Response:
    return error_response(404, "not_found", f"No call {call_id!r} has been received", "path.callId")
