"""Per-message metrics groups (SPEC §3, "metrics groups"); every key is optional."""

from __future__ import annotations

import msgspec

from callhook.events._base import UNSET, Number, Opt, WireModel

__all__ = [
    "AudioMetrics",
    "EouMetrics",
    "HangMetrics",
    "LlmMetrics",
    "MessageMetrics",
    "PlayerMetrics",
    "SttMetrics",
    "TimelineMetrics",
    "TtsMetrics",
]


class TimelineMetrics(WireModel, frozen=True):
    """``metrics.timeline``: position of the message in the call."""

    total_elapsed_time_ms: Opt[Number] = UNSET
    offset_from_previous_turn_ms: Opt[Number] = UNSET


class AudioMetrics(WireModel, frozen=True):
    """``metrics.audio``: inbound audio stream health up to this message."""

    total_audio_received_ms: Opt[Number] = UNSET
    audio_delay_per_turn_ms: Opt[Number] = UNSET
    delayed_packets_per_turn_count: Opt[Number] = UNSET
    delayed_packets_cumulative_count: Opt[Number] = UNSET
    lost_packets_cumulative_count: Opt[Number] = UNSET
    audio_delay_cumulative_ms: Opt[Number] = UNSET
    offset_from_previous_turn_ms: Opt[Number] = UNSET


class SttMetrics(WireModel, frozen=True):
    """``metrics.stt`` (user messages): the speech-to-text result."""

    timestamp_ms: Opt[Number] = UNSET
    start_offset_ms: Opt[Number] = UNSET
    end_offset_ms: Opt[Number] = UNSET
    duration_ms: Opt[Number] = UNSET
    vad_ms: Opt[Number] = UNSET
    relative_latency_ms: Opt[Number] = UNSET
    confidence: Opt[Number] = UNSET


class EouMetrics(WireModel, frozen=True):
    """``metrics.interactlyEOU`` (user messages): end-of-utterance detection."""

    turn_detection_time_ms: Opt[Number] = UNSET
    queue_latency_ms: Opt[Number] = UNSET


class LlmMetrics(WireModel, frozen=True):
    """``metrics.llm`` (assistant messages; ``{}`` for the welcome message)."""

    timestamp_ms: Opt[Number] = UNSET
    response_latency_ms: Opt[Number] = UNSET
    queue_latency_ms: Opt[Number] = UNSET


class TtsMetrics(WireModel, frozen=True):
    """``metrics.tts`` (assistant messages): speech synthesis."""

    audio_duration_ms: Opt[Number] = UNSET
    generation_time_ms: Opt[Number] = UNSET
    queue_latency_ms: Opt[Number] = UNSET
    is_cache_playing: Opt[bool] = UNSET


class PlayerMetrics(WireModel, frozen=True):
    """``metrics.interactlyPlayer`` (assistant messages): wait before playback."""

    wait_time_ms: Opt[Number] = UNSET


class HangMetrics(WireModel, frozen=True):
    """callhook extension ``metrics.hang`` on a response that came after a hang."""

    waited_ms: Opt[Number] = UNSET


class MessageMetrics(WireModel, frozen=True):
    """``messages[].metrics``."""

    timeline: Opt[TimelineMetrics] = UNSET
    audio: Opt[AudioMetrics] = UNSET
    stt: Opt[SttMetrics] = UNSET
    interactly_eou: Opt[EouMetrics] = msgspec.field(default=UNSET, name="interactlyEOU")
    llm: Opt[LlmMetrics] = UNSET
    tts: Opt[TtsMetrics] = UNSET
    interactly_player: Opt[PlayerMetrics] = UNSET
    hang: Opt[HangMetrics] = UNSET
