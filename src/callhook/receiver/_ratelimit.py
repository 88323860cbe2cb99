"""``FailureLimiter``: failed authentications are rate-limited per client address.

Every refused credential (a wrong ``x-interactly-secret``, a Standard Webhooks signature that
does not verify, a wrong API token) is counted against the client's address in a moving window
(the ``limits`` library, in memory: one count per process). When an address reaches the limit
(``[auth] failure_limit``, default ``30/minute``), every request from it that needs a credential
is answered ``429`` with ``Retry-After`` until the window has room again, *without* checking the
credential, so secrets and tokens cannot be guessed at line rate. Requests that carry no
credential at all (a browser opening the dashboard for the first time) are not counted.

The address is the one uvicorn reports: behind a reverse proxy on the same host it is the
``X-Forwarded-For`` client (uvicorn trusts that header from 127.0.0.1 only).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from callhook.receiver._asgi import Scope, Send, error_body, send_json

__all__ = ["FailureLimiter", "parse_limit"]


def parse_limit(text: str) -> RateLimitItem:
    """``"30/minute"``, ``"5 per second"``...: raises ``ValueError`` when not a rate."""
    return parse(text)


class FailureLimiter:
    """Counts failed authentications per address; ``blocked`` says when to refuse at once."""

    def __init__(self, limit: str) -> None:
        self.item = parse_limit(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        #: address → wall-clock second until which it is refused (only addresses over the limit)
        self._blocked: dict[str, float] = {}
        #: Requests refused with 429 so far.
        self.refused = 0

    def retry_after(self, scope: Scope) -> int | None:
        """Seconds the client of ``scope`` must wait, or ``None`` when it may try."""
        if not self._blocked:
            return None
        address = _address(scope)
        until = self._blocked.get(address)
        if until is None:
            return None
        left = until - time.time()
        if left <= 0:
            del self._blocked[address]
            return None
        return max(1, math.ceil(left))

    def failed(self, scope: Scope) -> int | None:
        """Count one failed authentication; the ``Retry-After`` seconds once over the limit."""
        address = _address(scope)
        if self._limiter.hit(self.item, address):
            return None
        reset = self._limiter.get_window_stats(self.item, address).reset_time
        self._blocked[address] = max(reset, time.time() + 1)
        return self.retry_after(scope)

    async def refuse(self, send: Send, seconds: int) -> None:
        self.refused += 1
        message = (
            "Too many failed authentications from this address; "
            f"retry after {seconds} s with a valid credential"
        )
        headers = [(b"retry-after", str(seconds).encode())]
        await send_json(send, 429, error_body("too_many_failures", message), headers)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
