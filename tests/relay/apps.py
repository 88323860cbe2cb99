"""Forward targets for the relay tests: small aiohttp apps on loopback that record every request.

``TargetApp`` records each request that reaches it (headers, body bytes, arrival order, what it
answered) and, when it has a ``signing_secret``, verifies the Standard Webhooks signature with
the ``standardwebhooks`` library. Two behaviours besides a healthy app:

- *flaky* (``flaky_seed``): about 30 % of requests are answered 503 and some connections are
  dropped, some before the body is read and some after the request was recorded (so the
  sender retries an event the app already has: duplicates under one ``webhook-id``). The choice
  is a function of the seed, the ``webhook-id`` and how many times the app saw that id before,
  so a run is deterministic whatever the arrival order; from the third sight of an id on, the
  app answers 200, which bounds the retry delays a test waits for.
- *late* (``late_seconds``): the port is reserved (bound, not listening: connections are
  refused) for that long after ``start()``, then the app listens and is healthy.
"""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import NoReturn

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["Arrival", "TargetApp"]

#: Share of first and second sights of a ``webhook-id`` answered 503 by a flaky app.
FAIL_RATE = 0.30
#: Shares dropped before reading the body, and after recording the request.
DROP_BEFORE_RATE = 0.06
DROP_AFTER_RATE = 0.06
#: From this sight of a ``webhook-id`` on (0-based), a flaky app answers 200.
HEALTHY_FROM = 2


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as the app saw it."""

    #: Position among all requests the app received (0-based).
    order: int
    #: Header names lowercased (the last value wins for a repeated name).
    headers: dict[str, str]
    #: The body bytes, ``None`` when the connection was dropped before reading it.
    body: bytes | None
    #: Status answered, ``None`` when the connection was dropped.
    status: int | None
    #: Why the signature did not verify, ``None`` when it did (or the app has no secret).
    signature_error: str | None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class TargetApp:
    """A recording aiohttp app on ``127.0.0.1``; an async context manager."""

    path: str = "/hooks"
    signing_secret: str | None = None
    flaky_seed: int | None = None
    late_seconds: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    _sights: dict[str, int] = field(default_factory=dict)
    _socket: socket.socket | None = None
    _runner: web.AppRunner | None = None
    _opening: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None, "start() the app first"
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # reserved: bound, not listening, so connects are refused
        self._socket = sock
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        if self.late_seconds > 0:
            self._opening = asyncio.create_task(self._open_later(), name="target-app-late-open")
        else:
            await self._open()

    async def _open_later(self) -> None:
        await asyncio.sleep(self.late_seconds)  # the outage the late target simulates
        await self._open()

    async def _open(self) -> None:
        assert self._runner is not None and self._socket is not None
        await web.SockSite(self._runner, self._socket).start()

    async def aclose(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
            await asyncio.gather(self._opening, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._socket is not None:
            self._socket.close()

    async def __aenter__(self) -> TargetApp:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _fate(self, webhook_id: str) -> str:
        """``ok``, ``fail``, ``drop-before`` or ``drop-after`` for this sight of the id."""
        sight = self._sights.get(webhook_id, 0)
        self._sights[webhook_id] = sight + 1
        if self.flaky_seed is None or sight >= HEALTHY_FROM:
            return "ok"
        draw = random.Random(f"{self.flaky_seed}/{webhook_id}/{sight}").random()
        if draw < FAIL_RATE:
            return "fail"
        if draw < FAIL_RATE + DROP_BEFORE_RATE:
            return "drop-before"
        if draw < FAIL_RATE + DROP_BEFORE_RATE + DROP_AFTER_RATE:
            return "drop-after"
        return "ok"

    def _record(self, headers: dict[str, str], body: bytes | None, status: int | None) -> None:
        error = None
        if self.signing_secret is not None and body is not None:
            try:
                Webhook(self.signing_secret).verify(body, headers, json_parse=False)
            except WebhookVerificationError as exc:
                error = str(exc) or type(exc).__name__
        order = len(self.arrivals)
        self.arrivals.append(Arrival(order, headers, body, status, error))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        fate = self._fate(headers.get("webhook-id", ""))
        if fate == "drop-before":
            self._record(headers, None, None)
            return _drop(request)
        body = await request.read()
        if fate == "drop-after":
            self._record(headers, body, None)
            return _drop(request)
        status = 503 if fate == "fail" else 200
        self._record(headers, body, status)
        if status == 503:
            return web.Response(status=503, headers={"retry-after": "1"}, text="try later")
        return web.Response(status=200, text="ok")

    # What the tests read.

    def accepted_ids(self) -> set[str]:
        """The ``webhook-id`` of every request answered 2xx."""
        return {a.webhook_id for a in self.arrivals if a.accepted}

    def first_arrivals(self) -> dict[str, Arrival]:
        """Each ``webhook-id``'s first request, in arrival order."""
        first: dict[str, Arrival] = {}
        for arrival in self.arrivals:
            first.setdefault(arrival.webhook_id, arrival)
        return first

    def bodies_by_id(self) -> dict[str, set[bytes]]:
        """Each ``webhook-id``'s distinct bodies (retries of one event send the same bytes)."""
        bodies: dict[str, set[bytes]] = {}
        for arrival in self.arrivals:
            if arrival.body is not None:
                bodies.setdefault(arrival.webhook_id, set()).add(arrival.body)
        return bodies


def _drop(request: web.Request) -> NoReturn:
    """Close the connection without an answer (the sender sees a reset or a disconnect)."""
    transport = request.transport
    assert transport is not None
    transport.abort()
    # What aiohttp's own handler task gets when a peer goes away: it ends the request
    # without writing to the closed transport or logging an error.
    raise asyncio.CancelledError
