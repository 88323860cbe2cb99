"""``ApiAuthMiddleware``: API tokens for everything but the webhook (query API, live stream,
dashboard, ``/metrics``).

A request is let through when it carries one of the configured tokens: ``Authorization:
Bearer <token>`` (API clients, Prometheus), the ``callhook_api_token`` cookie (the dashboard
and its live stream), or ``?token=<token>`` once in the address, which sets that cookie so the
browser sends it from then on. Tokens are compared in constant time. ``/healthz`` (load
balancers), the API docs and the dashboard's static files stay open: they hold no call data.
Anything else without a valid token is 401 ``{"error": {"code": "unauthorized", ...}}``.
A request let through carries the matching token's configured name in its scope
(``TOKEN_NAME``), for the audit record of what it does; the token itself goes nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from callhook.receiver._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    error_body,
    header,
    send_json,
)
from callhook.receiver._auth import matches_any
from callhook.receiver._ratelimit import FailureLimiter

__all__ = ["COOKIE", "TOKEN_NAME", "ApiAuthMiddleware"]

#: The cookie the dashboard keeps its token in.
COOKIE = "callhook_api_token"
#: The scope key holding the name of the API token a request was let through with.
TOKEN_NAME = "callhook.api_token_name"
_OPEN = frozenset(("/healthz", "/docs", "/openapi.json"))
_OPEN_PREFIXES = ("/static/",)


class ApiAuthMiddleware:
    """Lets requests with a valid API token (or to an open path) through to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: Sequence[str],
        names: Sequence[str] = (),
        *,
        limiter: FailureLimiter | None = None,
    ) -> None:
        if not tokens:
            raise ValueError("ApiAuthMiddleware needs at least one token")
        self.app = app
        #: Counts wrong tokens per address; over its limit, 429 without checking.
        self.limiter = limiter
        self._tokens = [token.encode() for token in tokens]
        self._names = [names[i] if i < len(names) else f"token-{i + 1}" for i in range(len(tokens))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in _OPEN or path.startswith(_OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        if limiter is not None and (wait := limiter.retry_after(scope)) is not None:
            await limiter.refuse(send, wait)
            return
        bearer, cookie, from_query = _bearer(scope), _cookie(scope), _query_token(scope)
        name = self._name(bearer) or self._name(cookie)
        if name is not None:
            scope[TOKEN_NAME] = name
            await self.app(scope, receive, send)
        elif (name := self._name(from_query)) is not None:
            assert from_query is not None
            scope[TOKEN_NAME] = name
            await self.app(scope, receive, _setting_cookie(send, from_query))
        else:
            presented = any(t is not None for t in (bearer, cookie, from_query))
            if presented and limiter is not None and (wait := limiter.failed(scope)) is not None:
                await limiter.refuse(send, wait)
                return
            reason = (
                "Invalid API token"
                if presented
                else "This endpoint needs the API token: send `Authorization: Bearer <token>`, "
                "or open the dashboard once with ?token=<token>"
            )
            body = error_body("unauthorized", reason)
            await send_json(send, 401, body, [(b"www-authenticate", b'Bearer realm="callhook"')])

    def _name(self, candidate: str | None) -> str | None:
        """The name of the token ``candidate`` is (every token compared, in constant time)."""
        if candidate is None:
            return None
        given = candidate.encode()
        found = None
        for token, name in zip(self._tokens, self._names, strict=True):
            if matches_any(given, [token]):
                found = name
        return found


def _bearer(scope: Scope) -> str | None:
    value = (header(scope, b"authorization") or b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _cookie(scope: Scope) -> str | None:
    raw = header(scope, b"cookie")
    if raw is None:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw.decode("latin-1"))
    except Exception:  # http.cookies raises CookieError and others on malformed headers
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def _query_token(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query).get("token")
    return values[0] if values else None


def _setting_cookie(send: Send, token: str) -> Send:
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

    async def with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"set-cookie", cookie)]
            message = {**message, "headers": headers}
        await send(message)

    return with_cookie
