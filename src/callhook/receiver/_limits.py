"""``LimitsMiddleware``: content type and body size, checked before anything is read or stored."""

from __future__ import annotations

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

__all__ = ["LimitsMiddleware"]


class _TooLarge(Exception):
    pass


class LimitsMiddleware:
    """415 unless the body is JSON; 413 when it exceeds ``max_body_bytes`` (header or stream)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        content_type = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if content_type != b"application/json" and not content_type.endswith(b"+json"):
            shown = content_type.decode("latin-1") or "none"
            message = f"Content-Type must be application/json (got {shown})"
            await send_json(send, 415, error_body("unsupported_media_type", message))
            return
        limit = self.max_body_bytes
        length = header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_json(send, 413, _too_large(limit))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _TooLarge:
            if not started:
                await send_json(send, 413, _too_large(limit))


def _too_large(limit: int) -> bytes:
    return error_body("payload_too_large", f"The request body exceeds the limit of {limit} bytes")
