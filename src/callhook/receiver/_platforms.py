"""``PlatformIngestApp``: ``POST /webhook/vapi`` and ``POST /webhook/retell`` (pure ASGI).

Each request is authenticated the platform's way, normalized into callhook events
(``callhook.platforms``, pure) and each event stored through the same entry point as
``POST /webhook`` (``parse_event`` then ``Store.ingest``); listeners (live bus, monitor) are
told of each. It sits behind the same ``LimitsMiddleware`` (415, 413). Answers:

- 200 ``{"outcome", "callId", "platform", "type", "events": [{"type", "outcome",
  "newMessages", "late"}]}``; ``outcome`` is ``stored`` when any event was new, ``duplicate``
  when all were re-deliveries, ``ignored`` when the type carries nothing callhook keeps;
- 401 with the reason when authentication fails (never naming a secret); 429 with
  ``Retry-After`` once the client's address has failed too often (``FailureLimiter``, shared
  with ``/webhook`` and the API);
- 400 / 422 with the JSON path when the body is not JSON / not that platform's event;
- 405 for another method; 503 with ``Retry-After`` when the database fails (the platform
  retries; events already stored are then duplicates).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from callhook._exceptions import DecodeError, StorageError, VerificationError
from callhook.platforms import (
    Normalized,
    check_retell,
    check_vapi_hmac,
    check_vapi_token,
    normalize_retell,
    normalize_vapi,
)
from callhook.receiver._asgi import ASGIApp, Receive, Scope, Send, error_body, header, send_json
from callhook.receiver._auth import read_body
from callhook.receiver._config import ReceiverConfig, is_loopback
from callhook.receiver._ingest import IngestListener, decode_error_response
from callhook.receiver._limits import LimitsMiddleware
from callhook.receiver._metrics import ReceiverMetrics
from callhook.receiver._ratelimit import FailureLimiter
from callhook.redaction import Redactor
from callhook.store import Incoming, Outcome, Store, parse_event

__all__ = ["PlatformAuth", "PlatformIngestApp", "PlatformKind", "platform_endpoints"]

logger = logging.getLogger("callhook.receiver")


class PlatformKind(enum.StrEnum):
    """The platforms with an endpoint of their own."""

    #: Vapi server messages (``/webhook/vapi``).
    VAPI = "vapi"
    #: Retell webhooks (``/webhook/retell``).
    RETELL = "retell"


@dataclass(frozen=True, slots=True)
class PlatformAuth:
    """How one platform's requests are authenticated; no credentials: none (loopback only).

    Vapi: ``tokens`` are secret or bearer credentials (``x-vapi-secret`` or ``Authorization:
    Bearer``), ``hmac_secrets`` HMAC credentials (``x-signature`` / ``x-timestamp``); a
    request passes with either. Retell: ``tokens`` are API keys (``x-retell-signature``).
    """

    tokens: tuple[str, ...] = field(default=(), repr=False)
    hmac_secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.tokens or self.hmac_secrets)


def _text(scope: Scope, name: bytes) -> str | None:
    value = header(scope, name)
    return value.decode("latin-1") if value is not None else None


class PlatformIngestApp:
    """Stores the events of one platform's deliveries; ``clock`` gives epoch milliseconds."""

    def __init__(
        self,
        kind: PlatformKind,
        auth: PlatformAuth,
        store: Store,
        metrics: ReceiverMetrics,
        *,
        max_depth: int,
        clock: Callable[[], int],
        listeners: Sequence[IngestListener] = (),
        redactor: Redactor | None = None,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.kind = kind
        self.redactor = redactor
        self.limiter = limiter
        self.auth = auth
        self.store = store
        self.metrics = metrics
        self.max_depth = max_depth
        self.clock = clock
        self.listeners = tuple(listeners)
        self._normalize: Callable[[bytes], Normalized] = (
            normalize_vapi if kind is PlatformKind.VAPI else normalize_retell
        )

    def authenticate(self, scope: Scope, body: bytes) -> None:
        """Raise ``VerificationError`` unless the request carries valid credentials."""
        auth = self.auth
        if not auth.configured:
            return
        now = self.clock()
        if self.kind is PlatformKind.RETELL:
            check_retell(body, _text(scope, b"x-retell-signature"), auth.tokens, now)
            return
        signature = _text(scope, b"x-signature")
        if auth.hmac_secrets and (signature is not None or not auth.tokens):
            stamp = _text(scope, b"x-timestamp")
            check_vapi_hmac(body, signature, stamp, auth.hmac_secrets, now)
            return
        secret = _text(scope, b"x-vapi-secret")
        check_vapi_token(secret, _text(scope, b"authorization"), auth.tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            body = error_body("method_not_allowed", "Send events with POST")
            await send_json(send, 405, body, [(b"allow", b"POST")])
            return
        limiter = self.limiter if self.auth.configured else None
        if limiter is not None and (wait := limiter.retry_after(scope)) is not None:
            await limiter.refuse(send, wait)
            return
        try:
            data = await read_body(receive)
        except ConnectionAbortedError:
            return
        try:
            self.authenticate(scope, data)
        except VerificationError as exc:
            logger.info("receiver.unauthorized %s %s", self.kind.value, exc.reason)
            if limiter is not None and self._presented(scope):
                wait = limiter.failed(scope)
                if wait is not None:
                    await limiter.refuse(send, wait)
                    return
            await send_json(send, 401, error_body("unauthorized", exc.reason))
            return
        started = time.perf_counter()
        try:
            normalized = self._normalize(data)
            stored = await self._store(normalized)
        except DecodeError as exc:
            status, body = decode_error_response(exc)
            self.metrics.count_event("unknown", "rejected")
            await send_json(send, status, body)
            return
        except StorageError as exc:
            logger.warning("receiver.storage_unavailable %s", exc)
            self.metrics.count_event("unknown", "storage_error")
            body = error_body("storage_unavailable", f"{exc}; retry later")
            await send_json(send, 503, body, [(b"retry-after", b"1")])
            return
        self.metrics.latency.observe(time.perf_counter() - started)
        await send_json(send, 200, _answer(normalized, stored))
        for incoming, outcome in stored:
            for listener in self.listeners:
                listener.ingested(incoming, outcome)

    def _presented(self, scope: Scope) -> bool:
        """Whether the request carries a credential at all (only those count as failures)."""
        names = (
            (b"x-retell-signature",)
            if self.kind is PlatformKind.RETELL
            else (b"x-signature", b"x-vapi-secret", b"authorization")
        )
        return any(header(scope, name) is not None for name in names)

    async def _store(self, normalized: Normalized) -> list[tuple[Incoming, Outcome]]:
        stored = []
        metrics = self.metrics
        for body in normalized.events:
            if self.redactor is not None:
                body = self.redactor.body(_without_platform_event(body))
            incoming = parse_event(body, received_at=self.clock(), max_depth=self.max_depth)
            outcome = await self.store.ingest(incoming)
            metrics.count_event(incoming.type.value, outcome.outcome)
            if outcome.outcome == "duplicate":
                metrics.duplicates.inc()
            if outcome.late:
                metrics.late.inc()
            if outcome.new_messages:
                metrics.new_messages.inc(outcome.new_messages)
            stored.append((incoming, outcome))
        return stored


def _without_platform_event(body: bytes) -> bytes:
    """``body`` without ``message.platform.event``: with redaction on, the platform's
    unmapped fields (numbers and texts the redactor does not know) are not kept."""
    tree = msgspec.json.decode(body)
    platform = tree["message"].get("platform")
    if isinstance(platform, dict):
        platform.pop("event", None)
    return msgspec.json.encode(tree)


def platform_endpoints(
    config: ReceiverConfig,
    store: Store,
    metrics: ReceiverMetrics,
    *,
    clock: Callable[[], int],
    listeners: Sequence[IngestListener],
    redactor: Redactor | None,
    limiter: FailureLimiter | None = None,
) -> dict[str, ASGIApp]:
    """The served endpoints of ``config.vapi`` and ``config.retell``, by path, each behind
    the webhook's ``LimitsMiddleware``."""
    found: dict[str, ASGIApp] = {}
    loopback = is_loopback(config.host)
    for kind, endpoint in ((PlatformKind.VAPI, config.vapi), (PlatformKind.RETELL, config.retell)):
        if not endpoint.served(loopback):
            continue
        app = PlatformIngestApp(
            kind,
            PlatformAuth(endpoint.tokens, endpoint.hmac_secrets),
            store,
            metrics,
            max_depth=config.max_depth,
            clock=clock,
            listeners=listeners,
            redactor=redactor,
            limiter=limiter,
        )
        found[endpoint.path] = LimitsMiddleware(app, max_body_bytes=config.max_body_bytes)
    return found


def _answer(normalized: Normalized, stored: list[tuple[Incoming, Outcome]]) -> bytes:
    outcomes = [outcome.outcome for _, outcome in stored]
    if not outcomes:
        overall = "ignored"
    elif all(o == "duplicate" for o in outcomes):
        overall = "duplicate"
    else:
        overall = next((o for o in outcomes if o != "duplicate"), "stored")
    return msgspec.json.encode(
        {
            "outcome": overall,
            "callId": normalized.call_id,
            "platform": normalized.platform,
            "type": normalized.native_type,
            "events": [
                {
                    "type": incoming.type.value,
                    "outcome": outcome.outcome,
                    "newMessages": outcome.new_messages,
                    "late": outcome.late,
                }
                for incoming, outcome in stored
            ],
        }
    )
