"""The live bus: stored events pushed to dashboard subscribers as server-sent events.

``LiveBus`` is an ``IngestListener``: after each commit it turns the event into one small
JSON notice (call id, type, status, counts, and the newest messages as they were sent) and
offers it to every subscriber without waiting. Each subscriber has a bounded queue; one that
falls behind loses its queue and gets a ``reset`` notice (the dashboard reloads what it shows)
instead of slowing ingest or growing memory. ``LiveStream`` is the pure ASGI endpoint
``GET /api/stream?callId=``: it sends the notices, a heartbeat comment while idle, and ends
when the client goes away or the bus closes (server shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import msgspec

from callhook.receiver._asgi import Receive, Scope, Send
from callhook.store import Incoming, Outcome

__all__ = ["EventRate", "LiveBus", "LiveStream", "Subscription"]

logger = logging.getLogger("callhook.receiver")

#: Most messages carried in one notice; with more new ones the client fetches the page.
MAX_NOTICE_MESSAGES = 20
_RESET = b'{"type":"reset"}'


class _CallId(msgspec.Struct):
    callId: str | None = None


_CALL_ID = msgspec.json.Decoder(_CallId)
_CLOSED = b""


@dataclass(eq=False, slots=True)
class Subscription:
    """One subscriber's bounded queue of encoded notices; ``call_id`` filters (``None``: all)."""

    call_id: str | None
    queue: asyncio.Queue[bytes]
    dropped: int = 0
    overflowed: bool = field(default=False)

    def offer(self, notice: bytes) -> None:
        if self.overflowed:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            # Too slow: drop what it has not read and tell it to reload instead.
            self.dropped += self.queue.qsize() + 1
            self.overflowed = True
            _drain(self.queue)
            self.queue.put_nowait(_RESET)

    def take_reset(self) -> None:
        """The reset notice was delivered: accept notices again."""
        self.overflowed = False


def _drain(queue: asyncio.Queue[bytes]) -> None:
    while not queue.empty():
        queue.get_nowait()


def notice(incoming: Incoming, outcome: Outcome) -> bytes:
    """The JSON notice of one stored event (what the dashboard needs to update in place)."""
    raw = incoming.messages or []
    fresh = min(outcome.new_messages, MAX_NOTICE_MESSAGES)
    return msgspec.json.encode(
        {
            "type": incoming.type.value,
            "callId": outcome.call_id,
            "timestamp": incoming.ts,
            "receivedAt": incoming.received_at,
            "outcome": outcome.outcome,
            "late": outcome.late,
            "status": incoming.status,
            "assistantId": incoming.assistant_id,
            "newMessages": outcome.new_messages,
            "messageCount": len(raw),
            # The newest messages as sent (raw JSON); the client de-duplicates by messageId.
            "messages": [msgspec.Raw(m.raw) for m in raw[len(raw) - fresh :]] if fresh else [],
            "hang": msgspec.Raw(incoming.hang_raw) if incoming.hang_raw else None,
            "error": msgspec.Raw(incoming.error_raw) if incoming.error_raw else None,
        }
    )


class EventRate:
    """Events counted per second of the monotonic clock over the last ``span_s`` seconds."""

    def __init__(self, span_s: int = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self.span_s = span_s
        self._clock = clock
        self._counts = [0] * (span_s + 1)
        self._second = int(clock())

    def _advance(self) -> int:
        now = int(self._clock())
        gap = now - self._second
        if gap > 0:
            for step in range(1, min(gap, len(self._counts)) + 1):
                self._counts[(self._second + step) % len(self._counts)] = 0
            self._second = now
        return now

    def add(self, n: int = 1) -> None:
        self._counts[self._advance() % len(self._counts)] += n

    def last(self, seconds: int, *, current: bool = True) -> int:
        """Events in the current second and the ``seconds - 1`` before it (at most
        ``span_s``); with ``current=False``, in the ``seconds`` complete seconds before it."""
        now = self._advance()
        size = len(self._counts)
        first = 0 if current else 1
        last = min(seconds, self.span_s) + first
        return sum(self._counts[(now - k) % size] for k in range(first, last))


class LiveBus:
    """Fans stored events out to subscribers; never blocks and never raises on ingest.

    ``rate`` counts the events heard (stored here, or by any process when notices are routed
    through the PostgreSQL fan-out), re-deliveries excluded."""

    def __init__(self, *, queue_size: int = 1024, heartbeat_s: float = 15.0) -> None:
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.rate = EventRate()
        self._subscribers: set[Subscription] = set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._route: Callable[[bytes], None] | None = None
        self.published = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, call_id: str | None = None) -> Subscription:
        if self._closed:
            raise RuntimeError("The live bus is closed (the server is shutting down)")
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(call_id, asyncio.Queue(self.queue_size))
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def ingested(self, incoming: Incoming, outcome: Outcome) -> None:
        if self._closed or outcome.outcome == "duplicate":
            return
        if self._route is None:
            self.rate.add()
        if not self._subscribers and self._route is None:  # routed: other processes may listen
            return
        try:
            encoded = notice(incoming, outcome)
        except (msgspec.EncodeError, ValueError, TypeError) as exc:  # never fail the ingest
            logger.warning("receiver.live_notice_failed %s", exc)
            return
        self.published += 1
        if self._route is not None:
            self._route(encoded)
        else:
            self._offer(encoded, outcome.call_id)

    def route_through(self, route: Callable[[bytes], None] | None) -> None:
        """Send notices through ``route`` (the PostgreSQL fan-out, which calls ``deliver``
        with every notice heard) instead of delivering them here; ``None`` restores that."""
        self._route = route

    def deliver(self, encoded: bytes, call_id: str | None = None) -> None:
        """Offer one encoded notice (heard through the fan-out) to the subscribers of its
        call (read from it if not given) and to those of every call."""
        if self._closed:
            return
        self.rate.add()
        self._offer(encoded, call_id)

    def _offer(self, encoded: bytes, call_id: str | None) -> None:
        if not self._subscribers:
            return
        if call_id is None:
            try:
                call_id = _CALL_ID.decode(encoded).callId
            except msgspec.DecodeError:
                logger.warning("receiver.live_notice_unreadable")
                return
        for subscription in self._subscribers:
            if subscription.call_id is None or subscription.call_id == call_id:
                subscription.offer(encoded)

    def close(self) -> None:
        """End every stream (each gets the end marker); later subscriptions are refused.
        Safe to call from any thread (a signal handler, a test): the queues are touched on
        the event loop that serves the streams."""
        self._closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self._end_streams)
                return
        self._end_streams()

    def close_soon(self) -> None:
        """``close`` from a signal handler: always deferred to the event loop's next turn."""
        self._closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._end_streams)

    def _end_streams(self) -> None:
        for subscription in self._subscribers:
            _drain(subscription.queue)
            subscription.queue.put_nowait(_CLOSED)
        self._subscribers.clear()


class LiveStream:
    """``GET /api/stream[?callId=]``: ``text/event-stream`` of the bus's notices."""

    def __init__(self, bus: LiveBus) -> None:
        self.bus = bus

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        call_id = query.get("callId", [None])[0] or None
        if self.bus.closed:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        subscription = self.bus.subscribe(call_id)
        gone = asyncio.create_task(_wait_disconnect(receive), name="callhook-live-disconnect")
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await _body(send, b"retry: 1000\n: connected\n\n")
            await self._pump(subscription, send, gone)
        except OSError:  # the client went away mid-write
            pass
        finally:
            self.bus.unsubscribe(subscription)
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone

    async def _pump(self, subscription: Subscription, send: Send, gone: asyncio.Task[None]) -> None:
        queue = subscription.queue
        while not gone.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, gone}, timeout=self.bus.heartbeat_s, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                if not gone.done():
                    await _body(send, b": heartbeat\n\n")
                continue
            item = getter.result()
            if item == _CLOSED:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if item == _RESET:
                subscription.take_reset()
            await _body(send, b"data: " + item + b"\n\n")


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
