"""The OpenAPI 3.1 document of the receiver and a self-contained docs page (no CDN)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from callhook import __version__

__all__ = ["DOCS_HTML", "openapi_document"]

#: The document is plain JSON data; ``dict[str, Any]`` below means a JSON object.
_ERROR = {"$ref": "#/components/schemas/Error"}
_PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "nextCursor of the previous page",
    },
]
_TIME_PARAMS = [
    {
        "name": name,
        "in": "query",
        "schema": {"type": "string"},
        "description": "epoch milliseconds or ISO-8601",
    }
    for name in ("since", "until")
]
_CALL_ID = {"name": "callId", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, kind: str = "string", description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


def _enum(name: str, values: list[str], description: str) -> dict[str, Any]:
    schema = {"type": "string", "enum": values}
    return {"name": name, "in": "query", "schema": schema, "description": description}


_AUTH_RESPONSES: dict[str, Any] = {
    "401": {
        "description": "API token missing or wrong (when API tokens are configured)",
        "content": {"application/json": {"schema": _ERROR}},
    },
    "429": {
        "description": "Too many failed authentications from this address: see Retry-After",
        "content": {"application/json": {"schema": _ERROR}},
    },
}


def _get(summary: str, params: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", "content": {"application/json": {}}}
    if key is not None:
        ok["content"]["application/json"]["schema"] = {
            "type": "object",
            "properties": {
                key: {"type": "array", "items": {"type": "object"}},
                "nextCursor": {"type": ["string", "null"]},
            },
        }
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": ok,
                "400": {"description": "Invalid parameter", **error},
                "404": {"description": "Unknown call", **error},
                **_AUTH_RESPONSES,
            },
        }
    }


def _metrics() -> dict[str, Any]:
    path = _get("Prometheus metrics", [])
    path["get"]["responses"]["200"] = {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return path


def _healthz() -> dict[str, Any]:
    path = _get("Liveness and database check", [])
    path["get"]["responses"]["503"] = {
        "description": "The database check failed",
        "content": {"application/json": {"schema": _ERROR}},
    }
    return path


def _erase() -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        "summary": "Erase the call from every table; the audit record names the API token",
        "parameters": [
            _CALL_ID,
            _query("reference", description="the request's reference, kept in the audit"),
        ],
        "responses": {
            "200": {
                "description": "Erased: calls, rows per table, auditId",
                "content": {"application/json": {}},
            },
            "401": {"description": "No valid API token", **error},
            "403": {"description": "No API tokens configured on this receiver", **error},
            "404": {"description": "No such call (the request is recorded)", **error},
            "429": _AUTH_RESPONSES["429"],
        },
    }


def _ingest(summary: str, ok: str) -> dict[str, Any]:  # Any: JSON values
    """A ``POST`` webhook endpoint and the statuses every one of them answers."""
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {}}},
            "responses": {
                "200": {"description": ok},
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": _ERROR}},
                    }
                    for code, text in (
                        ("400", "Not JSON, or nested too deeply"),
                        ("401", "Authentication failed"),
                        ("429", "Too many failed authentications: see Retry-After"),
                        ("413", "Body too large"),
                        ("415", "Not application/json"),
                        ("422", "Not a valid event (path says where)"),
                        ("503", "Database unavailable: retry"),
                    )
                },
            },
        }
    }


def openapi_document(webhook_path: str, platforms: Mapping[str, str] | None = None) -> bytes:
    """The OpenAPI document as JSON bytes; ``platforms`` maps each served platform endpoint's
    path to the platform's name (``/webhook/vapi`` → ``Vapi``)."""
    filters = [
        _query("q", description="search: substring of the call id, call fields or report"),
        _query("status", description="call status, e.g. finished"),
        _query("assistantId"),
        *_TIME_PARAMS,
        _query("hasHang", "boolean"),
        _query("hasError", "boolean"),
        _query("platform", description="interactly, vapi or retell (call.platform)"),
        *_PAGE_PARAMS,
    ]
    scoped = [_query("callId"), _query("assistantId"), *_TIME_PARAMS, *_PAGE_PARAMS]
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "callhook receiver",
            "version": __version__,
            "description": "Ingests Interactly-format call webhooks and answers queries.",
        },
        "paths": {
            webhook_path: _ingest(
                "Ingest one event (status-update, conversation-update, end-of-call-report, "
                "hang, error)",
                "Committed: outcome stored, duplicate or unattributed",
            ),
            **{
                path: _ingest(
                    f"Ingest one {name} delivery, normalized into callhook events "
                    f"(docs/{name.lower()}.md); authenticated the {name} way",
                    "Committed: outcome stored, duplicate or ignored, with each event's outcome",
                )
                for path, name in (platforms or {}).items()
            },
            "/api/calls": _get("Calls, newest first", filters, "calls"),
            "/api/calls/{callId}": {
                **_get(
                    "One call: state, status history, assistant, analysis, cost, counts",
                    [_CALL_ID],
                ),
                "delete": _erase(),
            },
            "/api/calls/{callId}/messages": _get(
                "Messages by timestamp, then position, then arrival",
                [_CALL_ID, *_PAGE_PARAMS],
                "messages",
            ),
            "/api/calls/{callId}/events": _get(
                "Each distinct event with duplicates, late flag and new-message count",
                [_CALL_ID, *_PAGE_PARAMS],
                "events",
            ),
            "/api/hangs": _get("Hang events, newest first", scoped, "hangs"),
            "/api/errors": _get(
                "Error events, newest first",
                [*scoped, _query("type"), _query("code"), _query("provider")],
                "errors",
            ),
            "/api/unattributed": _get("Events without a call object", list(_PAGE_PARAMS), "events"),
            "/api/alerts": _get(
                "Monitor alerts (history in the database), newest firedAt first",
                [
                    _enum("state", ["open", "resolved"], "default: both"),
                    _TIME_PARAMS[0],
                    *_PAGE_PARAMS,
                ],
                "alerts",
            ),
            "/api/calls/{callId}/sentiment": _get(
                "VADER compound score of each user message (trajectory) and their average",
                [_CALL_ID],
            ),
            "/api/hangs/impact": _get(
                "Each hang's recovery (waited ms), repetition and abandonment, newest first",
                [_query("callId"), _TIME_PARAMS[0], *_PAGE_PARAMS],
                "impacts",
            ),
            "/api/patterns": _get(
                "Hangs or errors by provider, model, assistant, hour or length band: "
                "calls, turns, incidents and rates, over [since, until)",
                [
                    _enum("kind", ["hang", "error"], "default: hang"),
                    _enum(
                        "dimension",
                        ["provider", "model", "assistant", "hour", "length_band"],
                        "default: provider",
                    ),
                    *_TIME_PARAMS,
                ],
            ),
            "/healthz": _healthz(),
            "/metrics": _metrics(),
            **_dashboard_paths(),
            **_delivery_paths(),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "path": {"type": ["string", "null"]},
                            },
                            "required": ["code", "message", "path"],
                        }
                    },
                }
            }
        },
    }
    return msgspec.json.encode(document)


def _dashboard_paths() -> dict[str, Any]:
    """The dashboard's series API and live stream (see ``_dashboard.py``)."""
    series = [
        *_TIME_PARAMS,
        _query("bucket", "integer", "bucket width in seconds (default: about 60 buckets)"),
        _query("assistantId"),
        _query("provider", description="assistantProvider of the call's assistant"),
        _query("model", description="assistantModel of the call's assistant"),
    ]
    stage = {
        "name": "stage",
        "in": "query",
        "schema": {"type": "string", "enum": ["llm", "tts", "stt", "response"]},
        "description": "llm: responseLatencyMs; tts: generationTimeMs; stt: relativeLatencyMs; "
        "response: bot response time",
    }
    stream: dict[str, Any] = _get(
        "Server-sent events: one JSON notice per stored event (call id, type, status, counts, "
        'newest messages); a comment line as heartbeat; {"type": "reset"} after falling behind',
        [_query("callId", description="only this call's events")],
    )
    stream["get"]["responses"]["200"] = {
        "description": "text/event-stream",
        "content": {"text/event-stream": {}},
    }
    return {
        "/api/metrics/latency": _get(
            "p50/p95/p99 per time bucket: {stage, bucketMs, points: [{start, count, p50, p95, "
            "p99}]}",
            [stage, *series],
        ),
        "/api/metrics/rates": _get(
            "Per bucket of call start: calls, calls with a hang / an error, hangs, errors, "
            "hangRate, errorRate",
            series,
        ),
        "/api/metrics/filters": _get(
            "Assistants, providers and models seen, and firstCallAt: the first event time of "
            "the earliest call of the last 24 h (null when none)",
            [],
        ),
        "/api/overview": _get(
            "The dashboard's overview: {now, live: {ongoingCalls, openAlerts, hangsLastHour, "
            "errorsLastHour, eventsPerMinute, eventsPerSecond}, hour and today: {current, "
            "previous: {since, until, calls, hangRate, errorRate, responseP50, responseP95, "
            "alerts, spark: {<figure>: [12 buckets]}}}}",
            [_query("dayStart", "integer", "start of today, epoch ms (default: midnight UTC)")],
        ),
        "/api/live": _get("The overview's live figures alone (the terminal's status line)", []),
        "/api/calls/{callId}/recording": _get(
            "The call's recording: {url, reason}; url from [dashboard] recording_url and the "
            "end-of-call report's recording object, null (with the reason) when off or not yet",
            [{"name": "callId", "in": "path", "required": True, "schema": {"type": "string"}}],
        ),
        "/api/stream": stream,
        "/api/stream/stats": _get("Live bus: open streams (subscribers) and notices published", []),
    }


def _delivery_paths() -> dict[str, Any]:
    """The relay's outbox (see ``_deliveries.py``)."""
    one = {"name": "deliveryId", "in": "path", "required": True, "schema": {"type": "integer"}}
    statuses = ["pending", "retrying", "delivered", "dead"]
    error = {"content": {"application/json": {"schema": _ERROR}}}
    replay = _get("", [one])["get"]
    replay.update(summary="Send a finished (dead or delivered) delivery again; needs an API token")
    replay["responses"].update(
        {
            "200": {
                "description": "The delivery, pending again",
                "content": {"application/json": {}},
            },
            "403": {"description": "No API tokens configured on this receiver", **error},
            "404": {"description": "No such delivery", **error},
            "409": {"description": "The delivery is still pending or retrying", **error},
        }
    )
    return {
        "/api/deliveries": _get(
            "Deliveries to forward targets, newest first: id, webhookId, callId, eventType, "
            "target, sequence, status, attempts, lastStatusCode, lastError, createdAt, "
            "nextAttemptAt, finishedAt",
            [
                _query("target", description="a target URL as shown (no credentials or query)"),
                _enum("status", statuses, "retrying: pending after a failed attempt"),
                _query("callId"),
                *_PAGE_PARAMS,
            ],
            "deliveries",
        ),
        "/api/deliveries/targets": _get(
            "Per target: pending, retrying, dead, backlog, oldestPendingAt (now); attempts, "
            "delivered, failed, successRate, p50, p95 over [since, until) and per bucket "
            "(points)",
            [*_TIME_PARAMS, _query("bucket", "integer", "bucket width in seconds")],
        ),
        "/api/deliveries/{deliveryId}": _get("One delivery and its attempts (history)", [one]),
        "/api/deliveries/{deliveryId}/replay": {"post": replay},
        "/api/calls/{callId}/deliveries": _get(
            "The call's deliveries per target: counts by status and the rows in sequence order",
            [_CALL_ID],
        ),
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callhook receiver API</title>
<link rel="stylesheet" href="/static/docs.css"><link rel="icon" href="data:,">
<script src="/static/docs.js" defer></script></head><body>
<h1>callhook receiver API</h1>
<p>Generated from <a href="/openapi.json">/openapi.json</a>. GET links open the live JSON.</p>
<div id="paths">Loading…</div>
</body></html>
"""
