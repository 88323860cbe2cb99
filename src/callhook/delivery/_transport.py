"""How a delivery request goes out: the ``Transport`` boundary and its aiohttp implementation.

The dispatcher needs one operation, "POST these bytes with these headers, within this many
seconds", and four things from the answer (status, reason, ``Retry-After``, ``Location``).
``AiohttpTransport`` does it with one pooled ``aiohttp.ClientSession``; tests inject a fake.

Why aiohttp rather than httpx: posting 12 KB bodies to a loopback no-op receiver, one process,
32 in flight, on a 2-CPU machine, aiohttp took about a tenth of httpx's CPU per request
(issue 14's figures; encode/httpx#3215). ``bench/delivery.py`` measures the sender as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from callhook import __version__

__all__ = ["AiohttpTransport", "Reply", "SendFailure", "Transport"]

#: Bytes of a response body read (to keep the connection); past that, the connection closes.
_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """What a delivery attempt needs from an HTTP response."""

    status: int
    reason: str = ""
    retry_after: str | None = None
    location: str | None = None


class SendFailure(Exception):
    """No response: ``retryable`` for a timeout or a network error, not for an unusable URL.
    The message says what happened, for the delivery log."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Transport(Protocol):
    """Sends one delivery request: ``post`` sends ``body`` to ``url`` with ``headers`` within
    ``seconds``, and returns the ``Reply`` or raises ``SendFailure``."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` with a pooled connector: at most ``limit`` connections,
    ``per_host`` to one endpoint; redirects are not followed, proxies from the environment
    are ignored. Create it inside the event loop that uses it."""

    def __init__(self, *, limit: int = 256, per_host: int = 32) -> None:
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": f"callhook/{__version__}"},
            trust_env=False,
            auto_decompress=False,
        )
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> Reply:
        limit = self._timeouts.get(seconds)
        if limit is None:
            limit = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False, timeout=limit
            ) as response:
                await _drain(response)
                return Reply(
                    response.status,
                    response.reason or "",
                    response.headers.get("Retry-After"),
                    response.headers.get("Location"),
                )
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise SendFailure(f"timeout after {seconds:g} s ({type(exc).__name__})") from None
        except aiohttp.InvalidURL as exc:
            raise SendFailure(f"unusable URL: {exc}", retryable=False) from None
        except (aiohttp.ClientError, OSError) as exc:
            text = str(exc)
            raise SendFailure(
                f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            ) from None

    async def aclose(self) -> None:
        await self._session.close()


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read a small body so that the connection goes back to the pool; close it otherwise."""
    read = 0
    while chunk := await response.content.readany():
        read += len(chunk)
        if read > _BODY_LIMIT:
            response.close()
            return
