"""The webhook signatures of Vapi and Retell: signing (the simulator) and checking (the receiver).

- **Retell**: ``x-retell-signature: v=<epoch ms>,d=<hex HMAC-SHA256 of body + ms>``, keyed by
  the Retell API key; a timestamp more than 5 minutes from now is refused.
- **Vapi HMAC credential**: ``x-signature`` = hex HMAC-SHA256 of ``{timestamp}.{body}`` (Vapi's
  default payload format), with the timestamp in ``x-timestamp``; accepted in seconds or
  milliseconds, refused beyond 5 minutes.
- **Vapi secret or bearer credential**: the token verbatim in ``x-vapi-secret`` or as
  ``Authorization: Bearer <token>``, compared in constant time.

Every check compares with each configured key in constant time; the reasons raised
(``VerificationError``) never contain a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from callhook._exceptions import VerificationError

__all__ = [
    "TOLERANCE_MS",
    "check_retell",
    "check_vapi_hmac",
    "check_vapi_token",
    "sign_retell",
    "sign_vapi_hmac",
]

#: How far a signed timestamp may be from the receiver's clock.
TOLERANCE_MS = 5 * 60 * 1000

_RETELL = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")
_HEX64 = re.compile(r"(?:sha256=)?([0-9a-fA-F]{64})")


def _hmac_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sign_retell(body: bytes, api_key: str, now_ms: int) -> str:
    """The ``x-retell-signature`` value of ``body`` at ``now_ms``."""
    return f"v={now_ms},d={_hmac_hex(api_key, body + str(now_ms).encode())}"


def check_retell(body: bytes, signature: str | None, api_keys: Sequence[str], now_ms: int) -> None:
    """Raise ``VerificationError`` unless ``signature`` signs ``body`` with one of ``api_keys``
    within ``TOLERANCE_MS`` of ``now_ms``."""
    if signature is None:
        raise VerificationError("Missing the x-retell-signature header")
    match = _RETELL.fullmatch(signature.strip())
    if match is None:
        raise VerificationError("Malformed x-retell-signature header (expected v=<ms>,d=<hex>)")
    stamp = int(match[1])
    if abs(now_ms - stamp) > TOLERANCE_MS:
        raise VerificationError("The x-retell-signature timestamp is more than 5 minutes off")
    message = body + match[1].encode()
    matched = False
    for key in api_keys:
        matched |= hmac.compare_digest(_hmac_hex(key, message), match[2])
    if not matched:
        raise VerificationError("The x-retell-signature does not match the body")


def sign_vapi_hmac(body: bytes, secret: str, timestamp: str) -> str:
    """The ``x-signature`` value of ``body`` with the ``x-timestamp`` value ``timestamp``."""
    return _hmac_hex(secret, timestamp.encode() + b"." + body)


def check_vapi_hmac(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[str],
    now_ms: int,
) -> None:
    """Raise ``VerificationError`` unless ``signature`` is the HMAC of ``{timestamp}.{body}``
    with one of ``secrets`` and ``timestamp`` is within ``TOLERANCE_MS`` of ``now_ms``."""
    if signature is None:
        raise VerificationError("Missing the x-signature header (Vapi HMAC credential)")
    if timestamp is None:
        raise VerificationError("Missing the x-timestamp header (Vapi HMAC credential)")
    digits = timestamp.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 16:
        raise VerificationError("Malformed x-timestamp header (expected epoch seconds or ms)")
    stamp = int(digits)
    stamp_ms = stamp * 1000 if stamp < 10**11 else stamp
    if abs(now_ms - stamp_ms) > TOLERANCE_MS:
        raise VerificationError("The x-timestamp is more than 5 minutes off")
    match = _HEX64.fullmatch(signature.strip())
    if match is None:
        raise VerificationError("Malformed x-signature header (expected a hex HMAC-SHA256)")
    given = match[1].lower()
    message = digits.encode() + b"." + body
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(_hmac_hex(secret, message), given)
    if not matched:
        raise VerificationError("The x-signature does not match the body")


def check_vapi_token(
    secret_header: str | None, authorization: str | None, tokens: Sequence[str]
) -> None:
    """Raise ``VerificationError`` unless ``x-vapi-secret`` or ``Authorization: Bearer``
    carries one of ``tokens``."""
    given = secret_header
    if given is None and authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value:
            given = value.strip()
    if given is None:
        raise VerificationError("Missing the x-vapi-secret header or an Authorization bearer token")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given.encode(), token.encode())
    if not matched:
        raise VerificationError("The Vapi secret or bearer token does not match")
