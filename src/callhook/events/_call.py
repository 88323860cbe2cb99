"""The ``call`` object and what it carries at the end of a call (SPEC §3)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from callhook.events._base import UNSET, Number, Opt, WireModel

__all__ = [
    "AssistantOverrides",
    "BotTurn",
    "Call",
    "CallAnalysis",
    "CallMetrics",
    "CallStats",
    "Cost",
    "CostAnalysis",
    "LatencyInterval",
    "LlmStats",
    "Monitor",
    "Recording",
    "SttStats",
    "TtsStats",
    "TurnCounts",
    "TurnsStats",
    "UserAudioStats",
    "UserTurn",
]

#: Histogram: bucket lower bound as a string ("0", "100", "0.1", ...) to a count.
Histogram = dict[str, Number]


class CallAnalysis(WireModel, frozen=True):
    """``call.analysis``: the in-call shape; results live in the top-level ``analysis``."""

    summary: Opt[str] = UNSET
    success_evaluation: Opt[str] = UNSET
    guardrails: Opt[str | dict[str, Any]] = UNSET


class Recording(WireModel, frozen=True):
    """``call.recording``: empty strings until the end; path ``<teamId>/<callId>.mp3``."""

    s3_bucket: Opt[str] = UNSET
    path: Opt[str] = UNSET


class AssistantOverrides(WireModel, frozen=True):
    """``call.assistantOverrides``: values for ``{{variable}}`` placeholders."""

    dynamic_variables: Opt[dict[str, Any]] = UNSET
    variables_validations: Opt[dict[str, Any]] = UNSET


class Monitor(WireModel, frozen=True):
    """``call.monitor``: live call control, when the platform offers it."""

    control_url: Opt[str] = UNSET


class CostAnalysis(WireModel, frozen=True):
    total: Opt[Number] = UNSET


class Cost(WireModel, frozen=True):
    """``call.cost`` (end-of-call-report), USD; ``callDuration`` is in seconds."""

    call_duration: Opt[Number] = UNSET
    interactly_cost: Opt[Number] = UNSET
    phone_cost: Opt[Number] = UNSET
    tts_vendor_cost: Opt[Number] = UNSET
    stt_vendor_cost: Opt[Number] = UNSET
    llm_vendor_cost: Opt[Number] = UNSET
    total_cost: Opt[Number] = UNSET
    analysis: Opt[CostAnalysis] = UNSET
    tts_gen_chars_total: Opt[Number] = UNSET
    input_tokens_total: Opt[Number] = UNSET
    output_tokens_total: Opt[Number] = UNSET


class LatencyInterval(WireModel, frozen=True):
    """One ~8 s window of inbound audio latency."""

    max: Opt[Number] = UNSET
    count: Opt[Number] = UNSET
    avg: Opt[Number] = UNSET
    duration: Opt[Number] = UNSET
    cumulative_duration: Opt[Number] = UNSET


class UserAudioStats(WireModel, frozen=True):
    delayed_chunks_count: Opt[Number] = UNSET
    dropped_chunks_count: Opt[Number] = UNSET
    latency_avg: Opt[Number] = UNSET
    latency_total: Opt[Number] = UNSET
    latency_intervals: Opt[list[LatencyInterval]] = UNSET
    cumulative_duration: Opt[Number] = UNSET


class TurnCounts(WireModel, frozen=True):
    user: Opt[Number] = UNSET
    bot: Opt[Number] = UNSET
    played: Opt[Number] = UNSET
    interrupted: Opt[Number] = UNSET
    skipped: Opt[Number] = UNSET


class UserTurn(WireModel, frozen=True):
    """A user turn; ``start``/``end`` in ms from call start."""

    start: Opt[Number] = UNSET
    end: Opt[Number] = UNSET
    message_id: Opt[str] = UNSET


class BotTurn(WireModel, frozen=True):
    """A bot turn; ``start``/``end`` in ms from call start, durations in **seconds**."""

    start: Opt[Number] = UNSET
    end: Opt[Number] = UNSET
    interrupted: Opt[bool] = UNSET
    played_duration: Opt[Number] = UNSET
    audio_duration: Opt[Number] = UNSET
    user_message_id: Opt[str] = UNSET
    stop_speaking_reason: Opt[str] = UNSET


class TurnsStats(WireModel, frozen=True):
    user_turns: Opt[list[UserTurn]] = UNSET
    bot_turns: Opt[list[BotTurn]] = UNSET
    #: bot turn start - end of the user turn it answers, ms (welcome excluded).
    bot_response_time: Opt[list[Number]] = UNSET
    barge_in_count: Opt[Number] = UNSET
    barge_in_time_avg: Opt[Number] = UNSET


class LlmStats(WireModel, frozen=True):
    response_count: Opt[Number] = UNSET
    response_latency_total: Opt[Number] = UNSET
    response_latency_avg: Opt[Number] = UNSET
    errors: Opt[Number] = UNSET
    hangups: Opt[Number] = UNSET
    response_time_distribution: Opt[Histogram] = UNSET
    input_tokens: Opt[Number] = UNSET
    output_tokens: Opt[Number] = UNSET
    input_tokens_avg: Opt[Number] = UNSET
    output_tokens_avg: Opt[Number] = UNSET


class TtsStats(WireModel, frozen=True):
    response_time_distribution: Opt[Histogram] = UNSET
    total_requests: Opt[Number] = UNSET
    latency_avg: Opt[Number] = UNSET
    latency_total: Opt[Number] = UNSET
    errors: Opt[Number] = UNSET
    retries: Opt[Number] = UNSET
    api_requests: Opt[Number] = UNSET
    api_latency_total: Opt[Number] = UNSET
    api_latency_avg: Opt[Number] = UNSET
    cache_requests: Opt[Number] = UNSET
    cache_latency_total: Opt[Number] = UNSET
    cache_latency_avg: Opt[Number] = UNSET


class SttStats(WireModel, frozen=True):
    response_time_distribution: Opt[Histogram] = UNSET
    response_count: Opt[Number] = UNSET
    response_latency_avg: Opt[Number] = UNSET
    relative_latency_avg: Opt[Number] = UNSET
    response_latency_total: Opt[Number] = UNSET
    confidence_avg: Opt[Number] = UNSET
    connection_retries: Opt[Number] = UNSET
    errors: Opt[Number] = UNSET
    confidence_distribution: Opt[Histogram] = UNSET
    eou_probability_distribution: Opt[Histogram] = UNSET


class CallStats(WireModel, frozen=True):
    """``call.metrics.callStats`` (end-of-call-report)."""

    user_audio: Opt[UserAudioStats] = UNSET
    turns: Opt[TurnCounts] = UNSET
    turns_stats: Opt[TurnsStats] = UNSET
    llm_stats: Opt[LlmStats] = UNSET
    tts_stats: Opt[TtsStats] = UNSET
    stt_stats: Opt[SttStats] = UNSET


class CallMetrics(WireModel, frozen=True):
    call_stats: Opt[CallStats] = UNSET


class Call(WireModel, frozen=True):
    """``message.call``. ``id`` is the only required key and must be non-empty."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    team_id: Opt[str] = UNSET
    assistant_id: Opt[str] = UNSET
    call_type: Opt[str] = UNSET
    direction: Opt[str] = UNSET
    start_at: Opt[str] = UNSET
    end_at: Opt[str] = UNSET
    user_number: Opt[str] = UNSET
    assistant_number: Opt[str] = UNSET
    status: Opt[str] = UNSET
    phone_call_status: Opt[str] = UNSET
    phone_call_status_reason: Opt[str] = UNSET
    call_end_trigger_by: Opt[str] = UNSET
    assistant_call_duration: Opt[Number] = UNSET
    analysis: Opt[CallAnalysis] = UNSET
    recording: Opt[Recording] = UNSET
    assistant_overrides: Opt[AssistantOverrides] = UNSET
    metadata: Opt[dict[str, Any]] = UNSET
    cost: Opt[Cost] = UNSET
    metrics: Opt[CallMetrics] = UNSET
    monitor: Opt[Monitor] = UNSET
