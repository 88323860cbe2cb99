"""Building the wire objects a session emits: messages with their metrics, and the call.

Each event type carries the history in the shape of the published captures: conversation-update
the full messages with every metrics group, hang a compact metrics subset, error and
end-of-call-report the bare ``messageId``/``role``/``text``/``timestamp``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from callhook.engine._config import CallParams
from callhook.events import (
    UNSET,
    AssistantOverrides,
    Call,
    CallAnalysis,
    Message,
    MessageMetrics,
    Monitor,
    Recording,
    SttMetrics,
    TtsMetrics,
)

__all__ = ["CallStatus", "History", "base_call", "iso", "merge", "status_call"]


class CallStatus(enum.StrEnum):
    INITIATED = "initiated"
    QUEUED = "queued"
    ONGOING = "ongoing"
    FORWARDED = "forwarded"
    FINISHED = "finished"
    FAILED = "failed"


#: ``phoneCallStatus`` and ``phoneCallStatusReason`` for each status.
_PHONE_STATUS = {
    CallStatus.INITIATED: ("ringing", "Call is ringing"),
    CallStatus.QUEUED: ("in-progress", "Call is in progress"),
    CallStatus.ONGOING: ("in-progress", "Call is in progress"),
    CallStatus.FORWARDED: ("in-progress", "Call is forwarded"),
    CallStatus.FINISHED: ("completed", "Call is completed"),
    CallStatus.FAILED: ("", "Call failed to start"),
}


def iso(epoch_ms: float) -> str:
    """ISO-8601 with milliseconds and ``Z``, as ``startAt``/``endAt`` are written."""
    text = datetime.fromtimestamp(round(epoch_ms) / 1000.0, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def base_call(params: CallParams, assistant_id: str) -> Call:
    """The parts of ``call`` that do not change during the call."""
    overrides = params.assistant_overrides or AssistantOverrides()
    return Call(
        id=params.id,
        team_id=params.team_id,
        assistant_id=assistant_id,
        call_type=params.call_type,
        direction=params.direction,
        user_number=params.user_number,
        assistant_number=params.assistant_number or assistant_id,
        call_end_trigger_by="",
        assistant_call_duration=0,
        analysis=CallAnalysis(summary="", success_evaluation=""),
        recording=Recording(s3_bucket="", path=""),
        assistant_overrides=overrides,
        metadata=dict(params.metadata),
        monitor=Monitor(control_url=params.monitor_url) if params.monitor_url else UNSET,
    )


def status_call(base: Call, status: CallStatus, start_at_ms: float, reason: str = "") -> Call:
    phone_status, default_reason = _PHONE_STATUS[status]
    return msgspec.structs.replace(
        base,
        start_at=iso(start_at_ms),
        status=status.value,
        phone_call_status=phone_status,
        phone_call_status_reason=reason or default_reason,
    )


def merge(reported: Any, **computed: Any) -> Any:  # Any: one of the metrics Structs
    """``reported`` with each still-unset field filled from ``computed``."""
    fill = {key: value for key, value in computed.items() if getattr(reported, key) is UNSET}
    return msgspec.structs.replace(reported, **fill) if fill else reported


@dataclass(slots=True)
class History:
    """The messages so far. Only the full shape is kept: a session holds few objects, and the
    shorter shapes (hang, error, report: rare events) are derived when needed."""

    full: list[Message] = field(default_factory=list)

    def append(self, message: Message) -> None:
        self.full.append(message)

    def compact(self) -> list[Message]:
        """The messages as hang events carry them."""
        return [_compact(message) for message in self.full]

    def bare(self) -> list[Message]:
        """The messages as error events and the end-of-call report carry them."""
        return [
            Message(message_id=m.message_id, role=m.role, text=m.text, timestamp=m.timestamp)
            for m in self.full
        ]

    @property
    def last_timestamp(self) -> float | None:
        if not self.full:
            return None
        stamp = self.full[-1].timestamp
        return float(stamp) if isinstance(stamp, int | float) else None


def _compact(message: Message) -> Message:
    """The message as hang events carry it: only the TTS or STT figures that matter most."""
    metrics = message.metrics
    compact: MessageMetrics | None = None
    if isinstance(metrics, MessageMetrics):
        if message.role == "user" and isinstance(metrics.stt, SttMetrics):
            compact = MessageMetrics(
                stt=SttMetrics(
                    confidence=metrics.stt.confidence, duration_ms=metrics.stt.duration_ms
                )
            )
        elif isinstance(metrics.tts, TtsMetrics):
            tts = metrics.tts
            compact = MessageMetrics(
                tts=TtsMetrics(
                    audio_duration_ms=tts.audio_duration_ms,
                    generation_time_ms=tts.generation_time_ms,
                    is_cache_playing=tts.is_cache_playing,
                )
            )
    return msgspec.structs.replace(message, metrics=compact if compact else UNSET)
