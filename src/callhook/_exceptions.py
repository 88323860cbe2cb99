"""The exceptions callhook raises.

Every error is a ``CallhookError``; catch the branch you can act on::

    CallhookError
     ├── DecodeError          a payload is not a valid event (names the JSON path)
     ├── VerificationError    a webhook request failed authentication (names the reason)
     ├── StorageError         the database refused or could not be reached (names the URL, call id)
     ├── ConfigError          the receiver's configuration is unusable (names the setting)
     ├── EngineError          a call session was told something impossible (names the call id)
     └── DeliveryError        delivering an event failed (names the call, event type and URL)
          └── DeliveryConfigError   an ``assistantServer`` configuration is invalid (names the key)

Each carries the call id, event type, URL, setting or JSON path it concerns.
"""

from __future__ import annotations

__all__ = [
    "CallhookError",
    "ConfigError",
    "DecodeError",
    "DeliveryConfigError",
    "DeliveryError",
    "EngineError",
    "StorageError",
    "VerificationError",
]


class CallhookError(Exception):
    """Root of every exception callhook raises on purpose."""


class DecodeError(CallhookError):
    """A payload is not a valid callhook / Interactly event.

    ``path`` is the JSON path of the problem (``$.message.messages[3].messageId``), ``reason``
    says what was expected there, and ``source`` names the input (a file name) when known.
    """

    def __init__(self, reason: str, path: str = "$", *, source: str | None = None) -> None:
        self.reason = reason
        self.path = path
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{reason} - at `{path}`")


class VerificationError(CallhookError):
    """A webhook request is not authenticated: missing or wrong secret, or a bad signature.

    ``reason`` is safe to send back to the caller; it never contains a secret.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class StorageError(CallhookError):
    """The store could not do what was asked (bad URL, database unreachable, closed store).

    ``url`` is the database URL with any password hidden; ``call_id`` the call concerned.
    """

    def __init__(self, message: str, *, url: str | None = None, call_id: str | None = None) -> None:
        self.url = url
        self.call_id = call_id
        super().__init__(message)


class ConfigError(CallhookError):
    """A setting is missing or invalid; ``setting`` names it, the message says how to fix it."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(message)


class EngineError(CallhookError):
    """A ``CallSession`` was driven out of order or misconfigured.

    ``call_id`` names the call concerned (``None`` when the problem is not tied to one call).
    """

    def __init__(self, reason: str, *, call_id: str | None = None) -> None:
        self.reason = reason
        self.call_id = call_id
        where = f"call {call_id}: " if call_id else ""
        super().__init__(f"{where}{reason}")


class DeliveryError(CallhookError):
    """Delivering events failed or cannot start.

    ``call_id``, ``event_type`` and ``url`` name the event and endpoint concerned when known
    (never a secret: URLs are shown as configured, without credentials added by callhook).
    """

    def __init__(
        self,
        reason: str,
        *,
        call_id: str | None = None,
        event_type: str | None = None,
        url: str | None = None,
    ) -> None:
        self.reason = reason
        self.call_id = call_id
        self.event_type = event_type
        self.url = url
        context = [
            f"{name} {value}"
            for name, value in (("call", call_id), ("event", event_type), ("url", url))
            if value
        ]
        super().__init__(f"{reason} ({', '.join(context)})" if context else reason)


class DeliveryConfigError(DeliveryError):
    """An ``assistantServer`` configuration is invalid; ``key`` is the offending key's path
    (``assistantServer.messages[1]``)."""

    def __init__(self, reason: str, key: str, *, url: str | None = None) -> None:
        self.key = key
        super().__init__(f"{reason} - at `{key}`", url=url)
