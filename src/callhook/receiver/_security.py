"""``SecurityHeadersMiddleware``: the browser-facing protections on every dashboard and API
response.

- ``Content-Security-Policy``: scripts, styles, images and connections from this origin only; no
  inline script, no ``eval``, no plugins, no ``<base>`` rewriting; style *attributes* are allowed
  (the dashboard's bars set their widths that way) but not inline ``<style>`` elements;
  ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY`` for older browsers): the pages
  cannot be framed (click-jacking);
- ``X-Content-Type-Options: nosniff``: a JSON or text response is never run as script or HTML;
- ``Referrer-Policy: no-referrer``: a dashboard address (which may carry ``?token=``) never
  leaks to another site.
"""

from __future__ import annotations

from callhook.receiver._asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeadersMiddleware"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-elem 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP response of ``app`` (replacing any it set).

    ``media_src``: where audio may load from (the dashboard's recordings, ``[dashboard]
    recording_url``), added to the policy as ``media-src``; none by default."""

    def __init__(self, app: ASGIApp, *, media_src: str | None = None) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS
        if media_src is not None:
            policy = f"{CONTENT_SECURITY_POLICY}; media-src {media_src}".encode()
            self.headers = tuple(
                (k, policy if k == b"content-security-policy" else v) for k, v in SECURITY_HEADERS
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _NAMES]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, secured)
