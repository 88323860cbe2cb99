"""The Vapi and Retell webhook signatures: what they accept and why they refuse."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from callhook._exceptions import VerificationError
from callhook.platforms import (
    check_retell,
    check_vapi_hmac,
    check_vapi_token,
    sign_retell,
    sign_vapi_hmac,
)

BODY = b'{"event":"call_ended","call":{"call_id":"c1"}}'
NOW = 1_764_666_000_000


def test_a_retell_signature_is_the_hmac_of_body_and_milliseconds_keyed_by_the_api_key() -> None:
    digest = hmac.new(b"key_1", BODY + str(NOW).encode(), hashlib.sha256).hexdigest()
    assert sign_retell(BODY, "key_1", NOW) == f"v={NOW},d={digest}"
    check_retell(BODY, sign_retell(BODY, "key_1", NOW), ["other", "key_1"], NOW + 299_000)


@pytest.mark.parametrize(
    ("signature", "keys", "now", "reason"),
    [
        (None, ["key_1"], NOW, "Missing the x-retell-signature header"),
        ("sha256=abc", ["key_1"], NOW, "Malformed x-retell-signature"),
        (sign_retell(BODY, "wrong", NOW), ["key_1"], NOW, "does not match"),
        (sign_retell(BODY, "key_1", NOW), ["key_1"], NOW + 300_001, "more than 5 minutes"),
        (sign_retell(BODY, "key_1", NOW), ["key_1"], NOW - 300_001, "more than 5 minutes"),
    ],
)
def test_retell_refusals_say_why(
    signature: str | None, keys: list[str], now: int, reason: str
) -> None:
    with pytest.raises(VerificationError, match=reason) as caught:
        check_retell(BODY, signature, keys, now)
    assert "key_1" not in caught.value.reason


def test_a_retell_signature_does_not_cover_another_body() -> None:
    with pytest.raises(VerificationError, match="does not match"):
        check_retell(BODY + b" ", sign_retell(BODY, "key_1", NOW), ["key_1"], NOW)


def test_a_vapi_hmac_signs_timestamp_dot_body_in_hex() -> None:
    stamp = str(NOW // 1000)
    expected = hmac.new(b"h1", f"{stamp}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_vapi_hmac(BODY, "h1", stamp) == expected
    check_vapi_hmac(BODY, expected, stamp, ["h1"], NOW)  # seconds
    millis = str(NOW)
    check_vapi_hmac(BODY, "sha256=" + sign_vapi_hmac(BODY, "h1", millis), millis, ["h1"], NOW)


@pytest.mark.parametrize(
    ("signature", "stamp", "reason"),
    [
        (None, str(NOW), "Missing the x-signature"),
        ("ab" * 32, None, "Missing the x-timestamp"),
        ("ab" * 32, "soon", "Malformed x-timestamp"),
        ("zz", str(NOW), "Malformed x-signature"),
        ("ab" * 32, str(NOW), "does not match"),
        (sign_vapi_hmac(BODY, "h1", str(NOW - 400_000)), str(NOW - 400_000), "5 minutes"),
    ],
)
def test_vapi_hmac_refusals_say_why(signature: str | None, stamp: str | None, reason: str) -> None:
    with pytest.raises(VerificationError, match=reason):
        check_vapi_hmac(BODY, signature, stamp, ["h1"], NOW)


def test_a_vapi_token_is_accepted_in_the_secret_header_or_as_a_bearer() -> None:
    check_vapi_token("t-1", None, ["t-0", "t-1"])
    check_vapi_token(None, "Bearer t-1", ["t-1"])
    with pytest.raises(VerificationError, match="Missing the x-vapi-secret"):
        check_vapi_token(None, "Basic dTpw", ["t-1"])
    with pytest.raises(VerificationError, match="does not match"):
        check_vapi_token("t-2", None, ["t-1"])
