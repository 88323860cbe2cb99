"""The exceptions callhook raises.

Every error is a ``CallhookError``; catch the branch you can act on::

    CallhookError
     ├── DecodeError            a payload is not a valid event (names the JSON path)
     └── DeliveryError          delivering an event failed (names the call, event type and URL)
          └── DeliveryConfigError   an ``assistantServer`` configuration is invalid (names the key)

Later parts of callhook add their branches here (verification, storage), each carrying the
call id, event type, URL or JSON path it concerns.
"""

from __future__ import annotations

__all__ = ["CallhookError", "DecodeError", "DeliveryConfigError", "DeliveryError"]


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
