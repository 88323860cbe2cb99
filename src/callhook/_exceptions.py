"""The exceptions callhook raises.

Every error is a ``CallhookError``; catch the branch you can act on::

    CallhookError
     ├── DecodeError        a payload is not a valid event (names the JSON path)
     └── EngineError        a call session was told something impossible (names the call id)

Later parts of callhook add their branches here (verification, delivery, storage), each
carrying the call id, event type, URL or JSON path it concerns.
"""

from __future__ import annotations

__all__ = ["CallhookError", "DecodeError", "EngineError"]


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


class EngineError(CallhookError):
    """A ``CallSession`` was driven out of order or misconfigured.

    ``call_id`` names the call concerned (``None`` when the problem is not tied to one call).
    """

    def __init__(self, reason: str, *, call_id: str | None = None) -> None:
        self.reason = reason
        self.call_id = call_id
        where = f"call {call_id}: " if call_id else ""
        super().__init__(f"{where}{reason}")
