"""The ``assistantServer`` delivery configuration (SPEC §6 plus the §7 extensions).

``ServerConfig.parse`` accepts the wire model (``events.AssistantServer``) or a plain mapping
and checks it, raising ``DeliveryConfigError`` that names the offending key. Keys callhook
adds beyond Interactly's six (all optional): ``maxRetries`` (0 = Interactly's single attempt)
and ``signingSecret`` (a Standard Webhooks secret ``whsec_...``, or a list of them during key
rotation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from callhook._exceptions import DeliveryConfigError
from callhook.delivery._signing import check_secret
from callhook.events import AssistantServer, EventType

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "RawServer", "ServerConfig"]

#: ``timeoutSeconds`` when the configuration leaves it out (SPEC §6).
DEFAULT_TIMEOUT_SECONDS = 20.0

#: An ``assistantServer`` as decoded JSON (values of any JSON type until checked).
RawServer = Mapping[str, Any]  # Any: unchecked JSON values

_EVENT_NAMES = ", ".join(t.value for t in EventType)
_PREFIX = "assistantServer"


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A checked ``assistantServer``: where and how one assistant's events are delivered.

    ``messages`` holds the subscribed event types; ``signing_secrets`` the Standard Webhooks
    secrets (several during rotation: every one signs each request). Stored with each outbox
    row, so that a restarted process sends with the configuration the event was accepted with.
    """

    url: str
    messages: frozenset[EventType]
    enabled: bool = True
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    secret: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    max_retries: int | None = None
    signing_secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:  # secrets and header values never reach logs
        return f"ServerConfig(url={self.url!r}, messages={sorted(self.messages)!r})"

    def subscribes(self, event_type: EventType) -> bool:
        """True when events of ``event_type`` are to be delivered."""
        return self.enabled and event_type in self.messages

    @classmethod
    def parse(cls, value: AssistantServer | RawServer) -> ServerConfig | None:
        """Check an ``assistantServer`` object; ``None`` when delivery is not enabled.

        Raises ``DeliveryConfigError`` naming the key: an enabled server needs a ``url`` and a
        non-empty ``messages`` list of known event types.
        """
        data = _as_mapping(value)
        enabled = data.get("enabled", False)
        if not isinstance(enabled, bool):
            raise _error("must be true or false", "enabled", enabled)
        if not enabled:
            return None
        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            raise _error("is required when delivery is enabled (an http(s) URL)", "url", url)
        if not url.startswith(("http://", "https://")):
            raise _error("must start with http:// or https://", "url", url)
        if _has_control(url, space=True):
            raise _error("must not contain spaces or control characters", "url", url)
        return cls(
            url=url,
            messages=_messages(data.get("messages"), url),
            timeout_seconds=_timeout(data.get("timeoutSeconds"), url),
            secret=_text(data.get("secret"), "secret", url),
            headers=_headers(data.get("headers"), url),
            max_retries=_max_retries(data.get("maxRetries"), url),
            signing_secrets=_signing_secrets(data.get("signingSecret"), url),
        )


def _as_mapping(value: AssistantServer | RawServer) -> RawServer:
    if isinstance(value, AssistantServer):
        data: dict[str, Any] = msgspec.to_builtins(value)  # Any: JSON values, wire names
        return data
    if isinstance(value, Mapping):
        return value
    raise DeliveryConfigError(f"must be an object, got {type(value).__name__}", _PREFIX)


def _error(reason: str, key: str, got: object, url: str | None = None) -> DeliveryConfigError:
    secret = key.split(".")[0].split("[")[0] in {"secret", "signingSecret", "headers"}
    shown = "" if secret else f", got {got!r}"
    return DeliveryConfigError(f"{_PREFIX}.{key} {reason}{shown}", f"{_PREFIX}.{key}", url=url)


def _messages(value: object, url: str) -> frozenset[EventType]:
    if not isinstance(value, list) or not value:
        raise _error(
            f"must be a non-empty list of event types when delivery is enabled ({_EVENT_NAMES})",
            "messages",
            value,
            url,
        )
    found: set[EventType] = set()
    for index, name in enumerate(value):
        try:
            found.add(EventType(name))
        except ValueError:
            raise _error(
                f"names an unknown event type; use one of: {_EVENT_NAMES}",
                f"messages[{index}]",
                name,
                url,
            ) from None
    return frozenset(found)


def _timeout(value: object, url: str) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error("must be a number of seconds", "timeoutSeconds", value, url)
    if not math.isfinite(value) or value <= 0:
        raise _error("must be a positive number of seconds", "timeoutSeconds", value, url)
    return float(value)


def _text(value: object, key: str, url: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _error("must be a string", key, value, url)
    return value


def _headers(value: object, url: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _error("must be an object of header names to string values", "headers", value, url)
    headers: dict[str, str] = {}
    for name, header in value.items():
        if not isinstance(name, str) or not name or not isinstance(header, str):
            raise _error("values must be strings", f"headers.{name}", header, url)
        if _has_control(name, space=True) or _has_control(header, space=False):
            raise _error("must not contain control characters", f"headers.{name}", None, url)
        headers[name] = header
    return headers


#: Control characters (and DEL): what an HTTP request line or header cannot carry, and a
#: database text column may refuse (NUL). ``_SPACED`` also refuses spaces and tabs (URLs,
#: header names).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SPACED = re.compile(r"[\x00-\x20\x7f]")


def _has_control(text: str, *, space: bool) -> bool:
    """Whether ``text`` holds a control character (or a space or tab, with ``space``)."""
    return (_SPACED if space else _CONTROL).search(text) is not None


def _max_retries(value: object, url: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _error("must be a whole number >= 0", "maxRetries", value, url)
    return value


def _signing_secrets(value: object, url: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise _error("must be a secret string or a list of them", "signingSecret", value, url)
    for index, secret in enumerate(items):
        key = "signingSecret" if isinstance(value, str) else f"signingSecret[{index}]"
        if not check_secret(secret):
            raise _error("is not a Standard Webhooks secret (whsec_<base64>)", key, None, url)
    return tuple(items)
