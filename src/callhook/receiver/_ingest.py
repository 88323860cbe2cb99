"""``IngestApp``: the ``POST /webhook`` endpoint (pure ASGI, behind limits and auth).

Parse (envelope validated, messages left raw), hand to the store, answer after the commit:
``200 {"outcome", "callId", "newMessages", "late"}``. Bad input is 400 (not JSON, too deep) or
422 (not a valid event) with the JSON path; a database failure is 503 with ``Retry-After``,
so the sender keeps the event and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from callhook._exceptions import DecodeError, StorageError
from callhook.receiver._asgi import Receive, Scope, Send, error_body, send_json
from callhook.receiver._auth import read_body
from callhook.receiver._metrics import ReceiverMetrics
from callhook.store import Incoming, Outcome, Store, parse_event

__all__ = ["IngestApp", "IngestListener", "decode_error_response"]

logger = logging.getLogger("callhook.receiver")


def decode_error_response(exc: DecodeError) -> tuple[int, bytes]:
    """Status and body for a payload ``DecodeError``: 400 for syntax/depth, 422 for schema."""
    if exc.reason.startswith("Invalid JSON"):
        return 400, error_body("invalid_json", exc.reason, exc.path)
    if exc.reason.startswith("JSON nesting"):
        return 400, error_body("too_deep", exc.reason, exc.path)
    return 422, error_body("invalid_event", exc.reason, exc.path)


class IngestListener(Protocol):
    """Told of every stored event, after its commit and after the 2xx was sent.

    Runs on the event loop inside the request: it must return at once (hand the work to a
    queue or task of its own) and must not raise.
    """

    def ingested(self, incoming: Incoming, outcome: Outcome) -> None: ...


class IngestApp:
    """Stores each posted event; ``clock`` returns epoch milliseconds (injectable)."""

    def __init__(
        self,
        store: Store,
        metrics: ReceiverMetrics,
        *,
        max_depth: int,
        clock: Callable[[], int],
        listeners: Sequence[IngestListener] = (),
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.max_depth = max_depth
        self.clock = clock
        self.listeners = tuple(listeners)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            body = error_body("method_not_allowed", "Send events with POST")
            await send_json(send, 405, body, [(b"allow", b"POST")])
            return
        try:
            data = await read_body(receive)
        except ConnectionAbortedError:
            return
        started = time.perf_counter()
        metrics = self.metrics
        try:
            incoming = parse_event(data, received_at=self.clock(), max_depth=self.max_depth)
            outcome = await self.store.ingest(incoming)
        except DecodeError as exc:
            status, body = decode_error_response(exc)
            metrics.count_event("unknown", "rejected")
            await send_json(send, status, body)
            return
        except StorageError as exc:
            logger.warning("receiver.storage_unavailable %s", exc)
            metrics.count_event("unknown", "storage_error")
            body = error_body("storage_unavailable", f"{exc}; retry later")
            await send_json(send, 503, body, [(b"retry-after", b"1")])
            return
        metrics.latency.observe(time.perf_counter() - started)
        metrics.count_event(incoming.type.value, outcome.outcome)
        if outcome.outcome == "duplicate":
            metrics.duplicates.inc()
        if outcome.late:
            metrics.late.inc()
        if outcome.new_messages:
            metrics.new_messages.inc(outcome.new_messages)
        answer = {
            "outcome": outcome.outcome,
            "callId": outcome.call_id,
            "newMessages": outcome.new_messages,
            "late": outcome.late,
        }
        await send_json(send, 200, msgspec.json.encode(answer))
        for listener in self.listeners:
            listener.ingested(incoming, outcome)
