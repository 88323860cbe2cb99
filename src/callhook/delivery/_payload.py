"""The request body: the encoded envelope, with ``assistantServer`` secrets redacted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from callhook.events import (
    REDACTED,
    SECRET_KEYS,
    Assistant,
    AssistantServer,
    Envelope,
    Event,
    encode,
    redact_server,
)

__all__ = ["REDACTED", "SECRET_KEYS", "encode_body", "safe_url"]


def encode_body(envelope: Envelope[Event], *, redact: bool = True) -> bytes:
    """SPEC §1 body bytes; with ``redact``, the echoed ``assistantServer`` keeps its keys but
    its ``secret``, ``signingSecret`` and header values become ``[REDACTED]`` (SPEC §6)."""
    body = encode(envelope)
    if not redact or not _has_secrets(envelope.message):
        return body
    tree: dict[str, Any] = msgspec.json.decode(body)  # Any: arbitrary JSON
    redact_server(tree["message"]["assistant"]["assistantServer"])
    return msgspec.json.encode(tree)


def _has_secrets(event: Event) -> bool:
    assistant = event.assistant
    if not isinstance(assistant, Assistant):
        return False
    server = assistant.assistant_server
    if not isinstance(server, AssistantServer):
        return False
    if server.secret and server.secret != REDACTED:
        return True
    if server.headers and any(value != REDACTED for value in server.headers.values()):
        return True
    signing = server.signing_secret
    secrets = signing if isinstance(signing, list) else [signing]
    return any(isinstance(value, str) and value and value != REDACTED for value in secrets)


def safe_url(url: str) -> str:
    """``url`` without credentials, query or fragment (which may hold tokens), for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
