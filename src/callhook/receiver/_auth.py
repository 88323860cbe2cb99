"""``AuthMiddleware``: who may post events. Failures are 401 with the reason, never a secret.

- shared secret: ``x-interactly-secret`` (also ``X-INTERACTLY.AI-SECRET``, any case; ASGI
  servers lowercase header names), compared in constant time with every configured secret;
- Standard Webhooks: ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` verified
  with ``standardwebhooks`` (5-minute tolerance; any of several signatures, any of several
  secrets, for rotation). The body is read here and handed on unchanged.
"""

from __future__ import annotations

import binascii
import hmac
import logging
from collections.abc import Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callhook._exceptions import VerificationError
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
from callhook.receiver._config import AuthMode
from callhook.receiver._ratelimit import FailureLimiter

__all__ = ["AuthMiddleware", "matches_any", "read_body"]

logger = logging.getLogger("callhook.receiver")

_SECRET_HEADERS = (b"x-interactly-secret", b"x-interactly.ai-secret")
_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("the client went away before sending the body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class AuthMiddleware:
    """Authenticates ``POST`` requests to the wrapped app according to ``mode``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        mode: AuthMode,
        secrets: tuple[str, ...],
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.app = app
        self.mode = mode
        #: Counts refused credentials per address; over its limit, 429 without checking.
        self.limiter = limiter
        self._secrets = tuple(s.encode() for s in secrets)
        self._hooks = (
            tuple(Webhook(s) for s in secrets) if mode is AuthMode.STANDARD_WEBHOOKS else ()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or self.mode is AuthMode.NONE:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        if limiter is not None and (wait := limiter.retry_after(scope)) is not None:
            await limiter.refuse(send, wait)
            return
        try:
            if self.mode is AuthMode.SECRET:
                self._check_secret(scope)
            else:
                body = await read_body(receive)
                self._check_signature(scope, body)
                receive = _replay(body)
        except VerificationError as exc:
            logger.info("receiver.unauthorized %s", exc.reason)
            if limiter is not None and self._presented(scope):
                wait = limiter.failed(scope)
                if wait is not None:
                    await limiter.refuse(send, wait)
                    return
            await send_json(
                send,
                401,
                error_body("unauthorized", exc.reason),
                [(b"www-authenticate", b'Secret realm="callhook"')],
            )
            return
        await self.app(scope, receive, send)

    def _presented(self, scope: Scope) -> bool:
        """Whether the request carried a credential (a missing one guesses nothing)."""
        if self.mode is AuthMode.SECRET:
            return any(header(scope, name) is not None for name in _SECRET_HEADERS)
        return header(scope, b"webhook-signature") is not None

    def _check_secret(self, scope: Scope) -> None:
        given = None
        for name in _SECRET_HEADERS:
            given = header(scope, name)
            if given is not None:
                break
        if given is None:
            raise VerificationError("Missing the x-interactly-secret header")
        if not matches_any(given, self._secrets):
            raise VerificationError("The x-interactly-secret header does not match")

    def _check_signature(self, scope: Scope, body: bytes) -> None:
        headers = {}
        for name in _SIGNATURE_HEADERS:
            value = header(scope, name.encode())
            if value is None:
                raise VerificationError(f"Missing the {name} header (Standard Webhooks)")
            headers[name] = value.decode("latin-1")
        reason = "No matching signature"
        for hook in self._hooks:
            try:
                hook.verify(body, headers, json_parse=False)
                return
            except WebhookVerificationError as exc:
                reason = str(exc)
                if "timestamp" in reason.lower():
                    break
            except (ValueError, binascii.Error, UnicodeDecodeError):
                reason = "Malformed webhook-signature header"
                break
        raise VerificationError(f"Standard Webhooks verification failed: {reason}")


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def matches_any(given: bytes, secrets: Sequence[bytes]) -> bool:
    """Whether ``given`` equals one of ``secrets``: each compared in constant time, and every
    one compared (no early exit that would time which one matched)."""
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, secret)
    return matched
