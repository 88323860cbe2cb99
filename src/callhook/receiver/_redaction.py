"""``RedactionMiddleware``: the webhook's body redacted before anything reads it.

It sits after authentication (a signature covers the body as sent) and before the ingest:
the ingest then parses, stores, logs, streams and hands to the monitor only the redacted
body, so the received personal data exists nowhere but in this request's memory. Installed
only when ``[redaction] enabled = true``: without it the ingest path is unchanged.
"""

from __future__ import annotations

from callhook.receiver._asgi import ASGIApp, Message, Receive, Scope, Send
from callhook.receiver._auth import read_body
from callhook.redaction import Redactor

__all__ = ["RedactionMiddleware"]


class RedactionMiddleware:
    """Hands ``app`` the body of each ``POST`` as ``redactor.body`` returns it."""

    def __init__(self, app: ASGIApp, redactor: Redactor) -> None:
        self.app = app
        self.redactor = redactor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            data = await read_body(receive)
        except ConnectionAbortedError:
            return
        await self.app(scope, _once(self.redactor.body(data)), send)


def _once(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
