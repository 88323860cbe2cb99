"""``create_app``: the receiver as one ASGI app (webhook, query API, docs, metrics, dashboard)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match, Route

from callhook.delivery import Dispatcher
from callhook.monitor import Monitor, MonitorProcess, SqlAlertStore
from callhook.receiver._api import api_routes
from callhook.receiver._apiauth import ApiAuthMiddleware
from callhook.receiver._asgi import ASGIApp, Receive, Scope, Send, error_body
from callhook.receiver._auth import AuthMiddleware
from callhook.receiver._config import ReceiverConfig
from callhook.receiver._dashboard import dashboard_routes
from callhook.receiver._deliveries import delivery_routes
from callhook.receiver._delivery_metrics import register_delivery_metrics
from callhook.receiver._erase import erase_routes
from callhook.receiver._fanout import PgFanout
from callhook.receiver._ingest import IngestApp, IngestListener
from callhook.receiver._limits import LimitsMiddleware
from callhook.receiver._live import LiveBus
from callhook.receiver._metrics import ReceiverMetrics
from callhook.receiver._monitoring import (
    MonitorCollector,
    MonitorFeed,
    MonitorSink,
    monitor_routes,
)
from callhook.receiver._openapi import DOCS_HTML, openapi_document
from callhook.receiver._platforms import platform_endpoints
from callhook.receiver._ratelimit import FailureLimiter
from callhook.receiver._recording import RecordingTemplate
from callhook.receiver._redaction import RedactionMiddleware
from callhook.receiver._retention import RetentionTask
from callhook.receiver._security import SecurityHeadersMiddleware
from callhook.redaction import Redactor
from callhook.relay import DispatcherProcess, Relay
from callhook.store import Store

__all__ = ["ReceiverApp", "create_app"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ReceiverApp:
    """The ASGI app: ``POST`` to the webhook path goes straight to the ingest chain
    (limits → auth → ingest); everything else is routed by Starlette, behind the security
    headers and (when ``api_tokens`` are configured) the API-token check."""

    def __init__(
        self,
        webhook_path: str,
        webhook: ASGIApp,
        other: Starlette,
        live: LiveBus,
        feed: MonitorFeed | None = None,
        *,
        guarded: ASGIApp | None = None,
        platforms: dict[str, ASGIApp] | None = None,
    ) -> None:
        self.webhook_path = webhook_path
        self.webhook = webhook
        #: Other platforms' webhook endpoints by path (``/webhook/vapi``, ``/webhook/retell``).
        self.platforms = dict(platforms or {})
        #: The Starlette app of every other route (its lifespan is the app's).
        self.other = other
        #: ``other`` behind the security headers and the API-token check (when configured).
        self._guarded = guarded or other
        #: The live bus behind ``/api/stream``; ``live.close()`` ends every stream.
        self.live = live
        self._feed = feed
        #: The relay's commit hook when ``[[forward]]`` targets are configured.
        self.relay: Relay | None = None
        #: The dispatcher sending to the forward targets while the lifespan runs one in this
        #: process (``[relay] isolation = "inline"``) or in a child process (the default).
        self.dispatcher: Dispatcher | None = None
        self.dispatcher_process: DispatcherProcess | None = None

    @property
    def monitor(self) -> Monitor | None:
        """The monitor fed by this app: the one given to ``create_app``, or the one its
        lifespan runs (``None`` outside the lifespan or with ``[monitor] enabled = false``)."""
        return self._feed.monitor if self._feed is not None else None

    @property
    def monitor_process(self) -> MonitorProcess | None:
        """The monitor's child process while the lifespan runs one (``isolation =
        "process"``, the default), else ``None``."""
        process = self._feed.process if self._feed is not None else None
        return process if isinstance(process, MonitorProcess) else None

    async def drain_monitor(self) -> None:
        """Wait until the app's monitor (inline or child process) has evaluated every event
        acknowledged so far and carried out the outcomes."""
        if self._feed is not None:
            await self._feed.drain()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.webhook_path:
            await self.webhook(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] in self.platforms:
            await self.platforms[scope["path"]](scope, receive, send)
        else:
            await self._guarded(scope, receive, send)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def create_app(
    config: ReceiverConfig,
    *,
    store: Store | None = None,
    clock: Callable[[], int] = _now_ms,
    listeners: Sequence[IngestListener] = (),
    monitor: Monitor | None = None,
    monitor_sink: MonitorSink | None = None,
) -> ReceiverApp:
    """Build the receiver. Without ``store`` the app opens one on ``config.database_url``
    in its lifespan (migrating it) and closes it on shutdown; with one, the caller owns it.
    ``listeners`` are told of each stored event after its commit (see ``IngestListener``).

    Without ``monitor`` the lifespan runs the monitor of ``config.monitor`` (unless ``enabled =
    false``), its history in the store: in a ``MonitorProcess`` (``isolation = "process"``,
    on the wall clock) or as an inline ``Monitor`` on ``clock`` with a ``SqlAlertStore``.
    With ``monitor``, the caller owns it (enters and closes it) and should give it a
    ``SqlAlertStore``."""
    config.check()
    own = store is None
    relay = _relay(config) if config.relay.targets else None
    if relay is not None and store is not None:
        raise ValueError(
            "create_app(store=...) cannot relay: the relay writes in the store's "
            "transactions; let the app open the store (no store=)"
        )
    the_store = (
        store
        if store is not None
        else Store(
            config.database_url,
            max_batch=config.max_batch,
            max_depth=config.max_depth,
            hook=relay,
        )
    )
    metrics = ReceiverMetrics()
    live = LiveBus()
    feed = MonitorFeed(monitor)
    feed.process = monitor_sink  # serve --workers: the supervisor's monitor (_workers.py)
    metrics.registry.register(MonitorCollector(feed))
    register_delivery_metrics(metrics, the_store)
    ingest = IngestApp(
        the_store,
        metrics,
        max_depth=config.max_depth,
        clock=clock,
        listeners=(live, feed, *listeners),
    )
    door: ASGIApp = ingest
    limiter = FailureLimiter(config.auth_failure_limit)
    if config.redaction.enabled:
        door = RedactionMiddleware(ingest, Redactor(config.redaction))
    webhook = LimitsMiddleware(
        AuthMiddleware(door, mode=config.auth, secrets=config.secrets, limiter=limiter),
        max_body_bytes=config.max_body_bytes,
    )
    platforms = platform_endpoints(
        config,
        the_store,
        metrics,
        clock=clock,
        listeners=(live, feed, *listeners),
        redactor=Redactor(config.redaction) if config.redaction.enabled else None,
        limiter=limiter,
    )
    names = {config.vapi.path: "Vapi", config.retell.path: "Retell"}
    spec = openapi_document(config.webhook_path, {p: names[p] for p in platforms})

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
        headers = exc.headers if isinstance(exc, HTTPException) else None
        if status == 405:  # Allow: every method of every route of this path (GET and DELETE)
            headers = {"allow": ", ".join(_allowed(request))}
        body = error_body(code, str(detail))
        return Response(body, status, headers=headers, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with contextlib.AsyncExitStack() as stack:
                if own:
                    await stack.enter_async_context(the_store)
                if the_store.dialect == "postgresql":
                    fanout = await stack.enter_async_context(PgFanout(the_store.url, live.deliver))
                    live.route_through(fanout.publish)
                    stack.callback(live.route_through, None)
                if monitor is None and config.monitor.enabled:
                    if config.monitor.isolation == "process":
                        child = MonitorProcess(
                            config.monitor, the_store.url, log_format=config.log_format
                        )
                        feed.process = await stack.enter_async_context(child)
                        stack.callback(setattr, feed, "process", None)
                    else:
                        running = Monitor(
                            config.monitor, store=SqlAlertStore(the_store), clock=clock
                        )
                        feed.monitor = await stack.enter_async_context(running)
                        stack.callback(setattr, feed, "monitor", None)
                if config.retention.enabled:
                    task = RetentionTask(the_store, config.retention, clock=clock)
                    await stack.enter_async_context(task)
                if relay is not None and config.relay.deliver:
                    sender: Dispatcher | DispatcherProcess
                    if config.relay.isolation == "process":
                        sender = DispatcherProcess(
                            the_store.url,
                            log_format=config.log_format,
                            priority=config.relay.process_priority,
                        )
                        receiver.dispatcher_process = await stack.enter_async_context(sender)
                        stack.callback(setattr, receiver, "dispatcher_process", None)
                    else:
                        # On SQLite its transactions take the write lock from ingest: fewer
                        # and larger ones, as the child's (callhook.relay._child).
                        pace = 0.02 if the_store.dialect == "sqlite" else 0.0
                        sender = Dispatcher(the_store.url, create_tables=False, batch_interval=pace)
                        receiver.dispatcher = await stack.enter_async_context(sender)
                        stack.callback(setattr, receiver, "dispatcher", None)
                    relay.on_commit = _waker(sender)
                    stack.callback(setattr, relay, "on_commit", None)
                yield
        finally:
            live.close()

    routes = [
        *erase_routes(the_store, clock),
        *api_routes(the_store, metrics),
        *monitor_routes(the_store),
        *delivery_routes(the_store, config.relay.targets),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *dashboard_routes(the_store, live, recording_url=config.recording_url),
    ]
    other = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    guarded: ASGIApp = (
        ApiAuthMiddleware(other, config.api_tokens, config.token_names(), limiter=limiter)
        if config.api_tokens
        else other
    )
    media = RecordingTemplate(config.recording_url).media_source() if config.recording_url else None
    guarded = SecurityHeadersMiddleware(guarded, media_src=media)
    receiver = ReceiverApp(
        config.webhook_path, webhook, other, live, feed, guarded=guarded, platforms=platforms
    )
    receiver.relay = relay
    return receiver


def _relay(config: ReceiverConfig) -> Relay:
    scheme = config.database_url.split(":", 1)[0].split("+", 1)[0]
    return Relay(config.relay.targets, postgres=scheme in ("postgresql", "postgres"))


def _waker(dispatcher: Dispatcher | DispatcherProcess) -> Callable[[], None]:
    """Wake ``dispatcher`` from the store's writer thread (after a commit that queued rows)."""
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(dispatcher.wake)

    return wake
