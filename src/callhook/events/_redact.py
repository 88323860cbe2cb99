"""Secrets in an echoed ``assistantServer``: what replaces them, and where they are.

The payload echoes the assistant's delivery configuration (SPEC §6); callhook replaces the
values of its secrets (``secret``, the ``signingSecret`` extension, every header value) by
``REDACTED`` wherever it shows them: emitted payloads, delivered bodies, the query API.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REDACTED", "SECRET_KEYS", "redact_server"]

#: What replaces a secret value.
REDACTED = "[REDACTED]"
#: ``assistantServer`` keys whose values are secrets (header values are secrets too).
SECRET_KEYS = ("secret", "signingSecret")


def redact_server(server: dict[str, Any]) -> None:  # Any: an assistantServer JSON object
    """Replace, in place, the secret values of an ``assistantServer`` JSON object; header
    names and every other key are kept."""
    for key in SECRET_KEYS:
        value = server.get(key)
        if isinstance(value, list):
            server[key] = [REDACTED] * len(value)
        elif value:
            server[key] = REDACTED
    headers = server.get("headers")
    if isinstance(headers, dict):
        server["headers"] = dict.fromkeys(headers, REDACTED)
