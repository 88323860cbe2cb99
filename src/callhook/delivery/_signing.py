"""Request headers of one delivery attempt, Standard Webhooks signatures included (SPEC §7).

Signatures come from the ``standardwebhooks`` package: ``v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, one per configured secret, space-separated during key rotation.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

__all__ = [
    "ATTEMPT_HEADER",
    "SECRET_HEADER",
    "SEQUENCE_HEADER",
    "check_secret",
    "request_headers",
    "sign",
]

SECRET_HEADER = "x-interactly-secret"
SEQUENCE_HEADER = "x-callhook-call-sequence"
ATTEMPT_HEADER = "x-callhook-attempt"


@lru_cache(maxsize=256)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def check_secret(secret: str) -> bool:
    """True when ``secret`` is a Standard Webhooks secret: ``whsec_`` and non-empty base64."""
    if not secret.startswith("whsec_"):
        return False
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        _webhook(secret)
    except (binascii.Error, ValueError, RuntimeError, EmptyWebhookSecretError):
        return False
    return bool(key)


def sign(secrets: tuple[str, ...], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,...`` per secret, space-separated."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    text = body.decode()
    return " ".join(_webhook(s).sign(webhook_id, when, text) for s in secrets)


def request_headers(
    *,
    custom: dict[str, str],
    secret: str,
    signing_secrets: tuple[str, ...],
    webhook_id: str,
    timestamp: int,
    body: bytes,
    sequence: int,
    attempt: int,
) -> dict[str, str]:
    """Every header of one attempt; callhook's own headers win over custom ones."""
    headers = {name.lower(): value for name, value in custom.items()}
    headers["content-type"] = "application/json"
    if secret:
        headers[SECRET_HEADER] = secret
    headers["webhook-id"] = webhook_id
    if signing_secrets:
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = sign(signing_secrets, webhook_id, timestamp, body)
    headers[SEQUENCE_HEADER] = str(sequence)
    headers[ATTEMPT_HEADER] = str(attempt)
    return headers
