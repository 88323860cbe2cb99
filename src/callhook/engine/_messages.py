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
from callhook.engine._ledger import UserTurnRecord
from callhook.events import (
    UNSET,
    AssistantOverrides,
    AudioMetrics,
    Call,
    CallAnalysis,
    EouMetrics,
    Message,
    MessageMetrics,
    Monitor,
    Recording,
    SkippedMessage,
    SttMetrics,
    TimelineMetrics,
    TtsMetrics,
)

__all__ = [
    "AudioHealth",
    "CallStatus",
    "History",
    "base_call",
    "iso",
    "merge",
    "status_call",
    "user_turn",
]


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
    overrides = _with_validations(params.assistant_overrides or AssistantOverrides())
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


def _with_validations(overrides: AssistantOverrides) -> AssistantOverrides:
    """``overrides`` with a ``variablesValidations`` entry (``"none"``) for every dynamic
    variable that has none (SPEC §3); given entries are kept."""
    variables = overrides.dynamic_variables
    if not isinstance(variables, dict) or not variables:
        return overrides
    given = overrides.variables_validations
    validations = dict.fromkeys(variables, "none")
    if isinstance(given, dict):
        validations.update(given)
    return msgspec.structs.replace(overrides, variables_validations=validations)


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


@dataclass(frozen=True, slots=True)
class AudioHealth:
    """Inbound audio problems the platform reported, for the ``audio`` group of a user turn."""

    delayed_in_turn: int
    delayed_total: int
    delay_in_turn_ms: float
    delay_total_ms: float
    lost_total: int


def user_turn(
    message_id: str,
    *,
    text: str,
    now: float,
    call_start: float,
    previous: float | None,
    health: AudioHealth,
    skipped: list[SkippedMessage],
    stt: SttMetrics | None,
    audio: AudioMetrics | None,
    eou: EouMetrics | None,
    speech_started_at: float | None,
    speech_ended_at: float | None,
    eou_probability: float | None,
) -> tuple[Message, UserTurnRecord]:
    """A finalised user message and its turn record; reported figures win over computed ones.

    Computed: timeline; stt timestamp, offsets, duration, relative latency (from the speech
    start/end, else ``stt.durationMs``); audio from the reported chunk delays and losses; EOU
    turn detection time (finalised - end of speech). ``confidence`` and ``vadMs`` only when
    reported. Two rules hold whatever was reported: ``stt.timestampMs`` (transcript done) is
    never later than ``now``, the finalisation that emits the message; a computed offset or
    duration is derived from the other two, so ``durationMs == endOffsetMs - startOffsetMs``.
    """
    elapsed = round(now - call_start)
    offset = round(now - previous) if previous is not None else elapsed
    until = speech_ended_at if speech_ended_at is not None else now
    stt = stt or SttMetrics()
    since = speech_started_at
    if since is None and isinstance(stt.duration_ms, int | float):
        since = until - stt.duration_ms
    since = since if since is not None else until
    stt = merge(stt, end_offset_ms=round(until - call_start))
    if isinstance(stt.duration_ms, int | float) and isinstance(stt.end_offset_ms, int | float):
        stt = merge(stt, start_offset_ms=round(stt.end_offset_ms - stt.duration_ms))
    stt = merge(stt, start_offset_ms=round(since - call_start))
    if isinstance(stt.start_offset_ms, int | float) and isinstance(stt.end_offset_ms, int | float):
        stt = merge(stt, duration_ms=round(stt.end_offset_ms - stt.start_offset_ms))
    done = stt.timestamp_ms
    if isinstance(done, int | float) and done > now:
        stt = msgspec.structs.replace(stt, timestamp_ms=round(now))
    stt = merge(stt, timestamp_ms=round(now), relative_latency_ms=round(now - until))
    audio = merge(
        audio or AudioMetrics(),
        delayed_packets_per_turn_count=health.delayed_in_turn,
        delayed_packets_cumulative_count=health.delayed_total,
        lost_packets_cumulative_count=health.lost_total,
        audio_delay_per_turn_ms=round(health.delay_in_turn_ms),
        audio_delay_cumulative_ms=round(health.delay_total_ms),
        offset_from_previous_turn_ms=offset,
        total_audio_received_ms=elapsed,
    )
    eou = merge(eou or EouMetrics(), turn_detection_time_ms=round(now - until), queue_latency_ms=0)
    message = Message(
        message_id=message_id,
        role="user",
        text=text,
        timestamp=round(now),
        metrics=MessageMetrics(
            timeline=TimelineMetrics(
                offset_from_previous_turn_ms=offset, total_elapsed_time_ms=elapsed
            ),
            audio=audio,
            stt=stt,
            interactly_eou=eou,
        ),
        skipped_assistant_messages=skipped,
    )
    record = UserTurnRecord(
        message_id,
        start=since - call_start,
        end=now - call_start,
        stt_latency_ms=_number(stt.timestamp_ms, minus=until),
        stt_relative_latency_ms=_number(stt.relative_latency_ms),
        confidence=_number(stt.confidence),
        eou_probability=eou_probability,
    )
    return message, record


def _number(value: Any, *, minus: float = 0.0) -> float | None:  # Any: an optional wire number
    return float(value) - minus if isinstance(value, int | float) else None
