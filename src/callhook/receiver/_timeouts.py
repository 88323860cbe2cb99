"""Read timeouts for ``callhook serve``: a client that stalls while sending a request is cut off.

uvicorn times out idle keep-alive connections but not a request being read: a client that sends
part of its headers, or its headers and part of the body, and then nothing, would hold its
connection (a file descriptor and a parser) for ever. ``timed_protocol`` returns uvicorn's
httptools protocol with two deadlines added:

- ``header_timeout``: the whole request line and headers must arrive within this many seconds
  of the connection opening (or of the request's first byte on a kept-alive connection);
  otherwise the server answers ``408`` and closes the connection;
- ``body_timeout``: while a body is being read, at most this many seconds may pass without a
  byte of it; otherwise the connection is closed (the request is abandoned; nothing of it is
  stored). Time the server itself is not reading (the app has not asked for more yet) does not
  count.

One timer per connection, re-armed only when it fires: the deadlines cost nothing per byte.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["timed_protocol"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)
_TIMEOUT_BODY = (
    b'{"error":{"code":"request_timeout","message":"The request headers did not arrive in '
    b'time","path":null}}'
)


def timed_protocol(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the two read deadlines (seconds, both > 0)."""
    if header_timeout <= 0 or body_timeout <= 0:
        raise ValueError("read timeouts must be positive")

    class TimedProtocol(_Timed):
        pass

    TimedProtocol.header_timeout = header_timeout
    TimedProtocol.body_timeout = body_timeout
    return TimedProtocol


class _Timed(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    # uvicorn's constructor arguments are passed through unchanged.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = ""  # "headers", "body" or "" (nothing being read)
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def _expect(self, phase: str, seconds: float) -> None:
        self._phase = phase
        self._deadline = self.loop.time() + seconds
        if self._timer is not None and self._timer.when() > self._deadline:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._phase or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase == "body" and self.flow.read_paused:
            # The app is not reading yet: the client cannot be late.
            self._deadline = now + self.body_timeout
        if now < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._check)
            return
        if self._phase == "headers":
            self.transport.write(_TIMEOUT_RESPONSE % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))
        self._phase = ""
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = ""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "headers":
            self._expect("headers", self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._expect("body", self.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._deadline = self.loop.time() + self.body_timeout

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = ""
