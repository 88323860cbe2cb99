"""Posting simulated calls in Vapi's or Retell's format, signed as the platform signs them.

``PlatformSender`` is an ``EventSink``: each event of a ``CallSession`` is rendered into the
platform's bodies (``_formats.py``) and posted to ``url`` in the order of its call, with the
platform's signature when a secret is given (Retell: ``x-retell-signature`` keyed by the API
key; Vapi: the HMAC credential's ``x-signature`` / ``x-timestamp``). Like the platforms, it
retries a delivery that failed on the network, a 5xx, 408 or 429 a few times (Retell: up to
3), then gives up on that body; any other refusal is given up at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from callhook.delivery import AiohttpTransport, OutboxStats, SendFailure, Transport
from callhook.events import Envelope, Event
from callhook.platforms import sign_retell, sign_vapi_hmac
from callhook.sim._formats import SimFormat, renderer_for

__all__ = ["PlatformSender"]

logger = logging.getLogger("callhook.sim")

_RETRIES = 3


class PlatformSender:
    """Renders and posts events in ``format``; ``await drain()`` once the calls are over."""

    def __init__(
        self,
        url: str,
        format: SimFormat,
        *,
        secret: str = "",
        concurrency: int = 32,
        timeout_s: float = 10.0,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.format = format
        self.secret = secret
        self._renderer = renderer_for(format)
        self._transport = transport or AiohttpTransport(limit=concurrency, per_host=concurrency)
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._last: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._clock = clock
        self.delivered = self.attempts = self.failed_attempts = self.dead = 0
        #: Every body sent, in the order each was first attempted (tests read it).
        self.bodies: list[bytes] = []

    def emit(self, envelope: Envelope[Event]) -> None:
        call_id = envelope.message.call_id or ""
        for body in self._renderer.render(envelope):
            previous = self._last.get(call_id)
            task = asyncio.get_running_loop().create_task(
                self._send_after(previous, body), name=f"callhook.sim.{self.format}.{call_id}"
            )
            self._last[call_id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_after(self, previous: asyncio.Task[None] | None, body: bytes) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # this call's earlier bodies first
        async with self._slots:
            self.bodies.append(body)
            for attempt in range(_RETRIES + 1):
                self.attempts += 1
                try:
                    reply = await self._transport.post(
                        self.url, body, self._headers(body), self._timeout_s
                    )
                except SendFailure as exc:
                    logger.debug("sim.platform_send_failed %s", exc)
                else:
                    if 200 <= reply.status < 300:
                        self.delivered += 1
                        return
                    logger.debug("sim.platform_send_status %d", reply.status)
                    if reply.status < 500 and reply.status not in (408, 429):
                        self.failed_attempts += 1
                        break  # refused: sending it again cannot help
                self.failed_attempts += 1
                if attempt < _RETRIES:
                    await asyncio.sleep(0.05 * 2**attempt)
            self.dead += 1

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if not self.secret:
            return headers
        now = self._clock()
        if self.format is SimFormat.RETELL:
            headers["x-retell-signature"] = sign_retell(body, self.secret, round(now * 1000))
        else:
            stamp = str(int(now))
            headers["x-timestamp"] = stamp
            headers["x-signature"] = sign_vapi_hmac(body, self.secret, stamp)
        return headers

    async def drain(self, wait_s: float = 60.0) -> None:
        """Wait up to ``wait_s`` seconds for every body to be delivered or given up."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)

    async def aclose(self) -> None:
        for task in set(self._tasks):
            task.cancel()
        await self._transport.aclose()

    @property
    def stats(self) -> OutboxStats:
        """The figures ``summary_table`` prints, as the dispatcher's outbox gives them."""
        pending = sum(1 for task in self._tasks if not task.done())
        return OutboxStats(
            pending=pending,
            delivered=self.delivered,
            dead=self.dead,
            attempts=self.attempts,
            failed_attempts=self.failed_attempts,
            retries=self.attempts - len(self.bodies),
        )
