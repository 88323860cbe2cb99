"""Messages, the five events and the envelope around them (SPEC §1-3)."""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeAlias, TypeVar

import msgspec

from callhook.events._assistant import Assistant
from callhook.events._base import UNSET, Int64, Number, Opt, WireModel
from callhook.events._call import Call
from callhook.events._metrics import MessageMetrics

__all__ = [
    "Analysis",
    "ConversationUpdate",
    "Customer",
    "EndOfCallReport",
    "Envelope",
    "ErrorEvent",
    "ErrorInfo",
    "Event",
    "EventType",
    "HangEvent",
    "HangInfo",
    "Message",
    "Phone",
    "PhoneProvider",
    "SkippedMessage",
    "StatusUpdate",
]


class EventType(enum.StrEnum):
    """The five values of ``message.type``."""

    STATUS_UPDATE = "status-update"
    CONVERSATION_UPDATE = "conversation-update"
    END_OF_CALL_REPORT = "end-of-call-report"
    HANG = "hang"
    ERROR = "error"


class SkippedMessage(WireModel, frozen=True):
    """An assistant message the user did not (fully) hear because they barged in.

    callhook decision for the undocumented element shape; ``played_text`` / ``played_ms``
    are callhook extensions.
    """

    message_id: Opt[str] = UNSET
    text: Opt[str] = UNSET
    timestamp: Opt[Number] = UNSET
    played_text: Opt[str] = UNSET
    played_ms: Opt[Number] = UNSET


class Message(WireModel, frozen=True):
    """One element of ``messages``: the only required key is a string ``messageId``."""

    message_id: str
    role: Opt[str] = UNSET
    text: Opt[str] = UNSET
    timestamp: Opt[Number] = UNSET
    metrics: Opt[MessageMetrics] = UNSET
    skipped_assistant_messages: Opt[list[SkippedMessage]] = UNSET


class Analysis(WireModel, frozen=True):
    """Top-level ``message.analysis``: ``{}`` except in the end-of-call-report."""

    summary: Opt[str] = UNSET
    success_evaluation: Opt[str] = UNSET
    structured_data: Opt[dict[str, Any]] = UNSET
    outcome: Opt[str] = UNSET


class ErrorInfo(WireModel, frozen=True):
    """``message.error`` of an ``error`` event; ``type`` is ``llm_error`` or ``stt_error``."""

    type: Opt[str] = UNSET
    code: Opt[str] = UNSET
    message: Opt[str] = UNSET
    provider: Opt[str] = UNSET
    retryable: Opt[bool] = UNSET
    details: Opt[dict[str, Any]] = UNSET


class HangInfo(WireModel, frozen=True):
    """callhook extension ``message.hang`` on a ``hang`` event."""

    pending_message_id: Opt[str] = UNSET
    waited_ms: Opt[Number] = UNSET
    threshold_ms: Opt[Number] = UNSET
    #: Where the turn is stuck: ``llm``, ``tts``, ``tool`` or ``unknown``.
    stage: Opt[str] = UNSET


class PhoneProvider(WireModel, frozen=True):
    name: Opt[str] = UNSET


class Phone(WireModel, frozen=True):
    provider: Opt[PhoneProvider] = UNSET


class Customer(WireModel, frozen=True):
    number: Opt[str] = UNSET


class _EventBase(WireModel, frozen=True, tag_field="type"):
    """Keys every event may carry. ``call`` is absent only in trimmed documentation examples."""

    timestamp: Opt[Int64] = UNSET
    call: Opt[Call] = UNSET
    assistant: Opt[Assistant] = UNSET
    phone: Opt[Phone] = UNSET
    customer: Opt[Customer] = UNSET
    analysis: Opt[Analysis] = UNSET

    @property
    def type(self) -> EventType:
        """The event's ``message.type``."""
        return EventType(str(self.__struct_config__.tag))

    @property
    def call_id(self) -> str | None:
        """``call.id``, or ``None`` when the event carries no call."""
        return self.call.id if isinstance(self.call, Call) else None


class _HistoryEventBase(_EventBase, frozen=True):
    #: The complete conversation so far.
    messages: Opt[list[Message]] = UNSET


class StatusUpdate(_EventBase, frozen=True, tag=EventType.STATUS_UPDATE.value):
    """Sent on every call-status change; ``call.status`` is the new status."""


class ConversationUpdate(_HistoryEventBase, frozen=True, tag=EventType.CONVERSATION_UPDATE.value):
    """Sent once per message with the full history."""


class EndOfCallReport(_HistoryEventBase, frozen=True, tag=EventType.END_OF_CALL_REPORT.value):
    """Sent once per call after it ends: cost, callStats, recording and analysis."""


class HangEvent(_HistoryEventBase, frozen=True, tag=EventType.HANG.value):
    """The assistant stayed silent past the hang threshold after the user's turn."""

    hang: Opt[HangInfo] = UNSET


class ErrorEvent(_HistoryEventBase, frozen=True, tag=EventType.ERROR.value):
    """An LLM or STT failure."""

    error: Opt[ErrorInfo] = UNSET


Event: TypeAlias = StatusUpdate | ConversationUpdate | EndOfCallReport | HangEvent | ErrorEvent

E = TypeVar("E")


class Envelope(msgspec.Struct, Generic[E], frozen=True, dict=True):
    """The request body: ``{"message": <event>}``."""

    message: E
