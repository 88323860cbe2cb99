"""``call.metrics.callStats`` and ``call.cost`` from a call's ``Ledger`` (SPEC §3-4).

Units: turn ``start``/``end`` and latencies in ms, ``playedDuration``/``audioDuration`` and
``cost.callDuration`` in seconds, prices in USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callhook.engine._config import Prices
from callhook.engine._ledger import (
    CONFIDENCE_BUCKETS,
    LLM_LATENCY_BUCKETS,
    TTS_STT_LATENCY_BUCKETS,
    Ledger,
    histogram,
)
from callhook.events import (
    BotTurn,
    CallStats,
    Cost,
    CostAnalysis,
    LatencyInterval,
    LlmStats,
    SttStats,
    TtsStats,
    TurnCounts,
    TurnsStats,
    UserAudioStats,
    UserTurn,
)

__all__ = ["LATENCY_WINDOW_MS", "CostInputs", "build_call_stats", "build_cost"]

#: Width of a ``userAudio.latencyIntervals`` window.
LATENCY_WINDOW_MS = 8000


def _ms(value: float) -> int:
    return round(value)


def _seconds(ms: float) -> float:
    return round(ms / 1000.0, 3)


def _avg(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0


def build_call_stats(ledger: Ledger, duration_ms: float) -> CallStats:
    """The whole ``callStats`` object for a call that lasted ``duration_ms``."""
    return CallStats(
        user_audio=_user_audio(ledger, duration_ms),
        turns=TurnCounts(
            user=len(ledger.user_turns),
            bot=len(ledger.bot_turns),
            played=sum(1 for turn in ledger.bot_turns if not turn.interrupted),
            interrupted=sum(1 for turn in ledger.bot_turns if turn.interrupted),
            skipped=ledger.skipped_responses,
        ),
        turns_stats=TurnsStats(
            user_turns=[
                UserTurn(start=_ms(t.start), end=_ms(t.end), message_id=t.message_id)
                for t in ledger.user_turns
            ],
            bot_turns=[
                BotTurn(
                    start=_ms(t.start),
                    end=_ms(t.end),
                    interrupted=t.interrupted,
                    played_duration=_seconds(t.played_ms),
                    audio_duration=_seconds(t.audio_ms),
                    user_message_id=t.user_message_id,
                    stop_speaking_reason=t.stop_reason,
                )
                for t in ledger.bot_turns
            ],
            bot_response_time=[_ms(v) for v in ledger.bot_response_times],
            barge_in_count=ledger.barge_ins,
            barge_in_time_avg=_avg(ledger.barge_in_after_ms),
        ),
        llm_stats=_llm_stats(ledger),
        tts_stats=_tts_stats(ledger),
        stt_stats=_stt_stats(ledger),
    )


def _user_audio(ledger: Ledger, duration_ms: float) -> UserAudioStats:
    latencies = [latency for _, latency in ledger.delayed_chunks]
    intervals: list[LatencyInterval] = []
    window_start = 0.0
    while window_start < duration_ms or not intervals:
        window_end = min(window_start + LATENCY_WINDOW_MS, duration_ms)
        inside = [lat for at, lat in ledger.delayed_chunks if window_start <= at < window_end]
        intervals.append(
            LatencyInterval(
                max=max(inside, default=0),
                count=len(inside),
                avg=_avg(inside),
                duration=_ms(window_end - window_start),
                cumulative_duration=_ms(window_end),
            )
        )
        if window_end >= duration_ms:
            break
        window_start = window_end
    return UserAudioStats(
        delayed_chunks_count=len(latencies),
        latency_avg=_avg(latencies),
        latency_total=sum(latencies),
        latency_intervals=intervals,
        cumulative_duration=_ms(duration_ms),
        dropped_chunks_count=ledger.dropped_chunks,
    )


def _llm_stats(ledger: Ledger) -> LlmStats:
    count = len(ledger.llm_latencies)
    return LlmStats(
        response_count=count,
        response_latency_total=sum(ledger.llm_latencies),
        response_latency_avg=_avg(ledger.llm_latencies),
        errors=ledger.llm_errors,
        hangups=ledger.hangs,
        response_time_distribution=histogram(ledger.llm_latencies, LLM_LATENCY_BUCKETS),
        input_tokens=ledger.input_tokens,
        output_tokens=ledger.output_tokens,
        input_tokens_avg=ledger.input_tokens / count if count else 0,
        output_tokens_avg=ledger.output_tokens / count if count else 0,
    )


def _tts_stats(ledger: Ledger) -> TtsStats:
    latencies = [r.latency_ms for r in ledger.tts]
    api = [r.latency_ms for r in ledger.tts if not r.cached]
    cache = [r.latency_ms for r in ledger.tts if r.cached]
    return TtsStats(
        response_time_distribution=histogram(latencies, TTS_STT_LATENCY_BUCKETS),
        total_requests=len(latencies),
        latency_avg=_avg(latencies),
        latency_total=sum(latencies),
        errors=0,
        retries=0,
        api_requests=len(api),
        api_latency_total=sum(api),
        api_latency_avg=_avg(api),
        cache_requests=len(cache),
        cache_latency_total=sum(cache),
        cache_latency_avg=_avg(cache),
    )


def _stt_stats(ledger: Ledger) -> SttStats:
    turns = ledger.user_turns
    latencies = [t.stt_latency_ms for t in turns if t.stt_latency_ms is not None]
    relative = [t.stt_relative_latency_ms for t in turns if t.stt_relative_latency_ms is not None]
    confidences = [t.confidence for t in turns if t.confidence is not None]
    eou = [t.eou_probability for t in turns if t.eou_probability is not None]
    return SttStats(
        response_time_distribution=histogram(latencies, TTS_STT_LATENCY_BUCKETS),
        response_count=len(turns),
        response_latency_avg=_avg(latencies),
        relative_latency_avg=_avg(relative),
        response_latency_total=sum(latencies),
        confidence_avg=_avg(confidences),
        connection_retries=0,
        errors=ledger.stt_errors,
        confidence_distribution=histogram(confidences, CONFIDENCE_BUCKETS),
        eou_probability_distribution=histogram(eou, CONFIDENCE_BUCKETS),
    )


@dataclass(frozen=True, slots=True)
class CostInputs:
    """Who served the call, to look prices up."""

    duration_ms: float
    phone_provider: str
    stt_vendor: str
    tts_vendor: str
    llm_provider: str
    analysis_cost: float = 0.0


def build_cost(ledger: Ledger, prices: Prices, inputs: CostInputs) -> Cost:
    """``call.cost``; ``totalCost`` is the sum of the five vendor and platform costs."""
    minutes = inputs.duration_ms / 60_000.0
    characters = ledger.tts_characters
    if characters is None:
        characters = sum(r.characters for r in ledger.tts if not r.cached)
    stt_minutes = minutes if ledger.stt_audio_ms is None else ledger.stt_audio_ms / 60_000.0
    platform = prices.platform_per_minute * minutes
    phone = prices.phone_per_minute.get(inputs.phone_provider, 0.0) * minutes
    tts = prices.tts_per_character.get(inputs.tts_vendor, 0.0) * characters
    stt = prices.stt_per_minute.get(inputs.stt_vendor, 0.0) * stt_minutes
    llm = (
        prices.llm_per_input_token.get(inputs.llm_provider, 0.0) * ledger.input_tokens
        + prices.llm_per_output_token.get(inputs.llm_provider, 0.0) * ledger.output_tokens
    )
    return Cost(
        analysis=CostAnalysis(total=inputs.analysis_cost),
        call_duration=inputs.duration_ms / 1000.0,
        tts_gen_chars_total=characters,
        input_tokens_total=ledger.input_tokens,
        output_tokens_total=ledger.output_tokens,
        interactly_cost=platform,
        phone_cost=phone,
        tts_vendor_cost=tts,
        stt_vendor_cost=stt,
        llm_vendor_cost=llm,
        total_cost=platform + phone + tts + stt + llm,
    )
