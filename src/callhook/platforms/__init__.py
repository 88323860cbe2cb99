"""Calls from other voice platforms, as callhook events: Vapi and Retell.

Each ``normalize_*`` function is pure: it turns one delivery of the platform (the request
body) into callhook's own events (Interactly's shape, SPEC §1-§3), which the receiver stores
through the same path as ``POST /webhook``. The ``*_sign`` / ``check_*`` functions are the
platforms' webhook signatures. The mappings are documented in ``docs/vapi.md`` and
``docs/retell.md``.
"""

from callhook.platforms._common import Normalized, Platform
from callhook.platforms._retell import DEFAULT_HANG_THRESHOLD_MS, normalize_retell
from callhook.platforms._signing import (
    TOLERANCE_MS,
    check_retell,
    check_vapi_hmac,
    check_vapi_token,
    sign_retell,
    sign_vapi_hmac,
)
from callhook.platforms._vapi import normalize_vapi

__all__ = [
    "DEFAULT_HANG_THRESHOLD_MS",
    "TOLERANCE_MS",
    "Normalized",
    "Platform",
    "check_retell",
    "check_vapi_hmac",
    "check_vapi_token",
    "normalize_retell",
    "normalize_vapi",
    "sign_retell",
    "sign_vapi_hmac",
]
