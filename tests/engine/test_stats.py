"""callStats and cost arithmetic on a scripted call (SPEC §3-4 units)."""

from __future__ import annotations

import pytest

from callhook.engine import EngineConfig, Prices, Segment
from callhook.engine._ledger import LLM_LATENCY_BUCKETS, histogram
from callhook.events import (
    BotTurn,
    CallStats,
    Cost,
    EndOfCallReport,
    LatencyInterval,
    SpeechConfig,
    SttConfig,
    SttMetrics,
    TtsConfig,
    TtsMetrics,
    TurnCounts,
    UserTurn,
    VoiceConfig,
)
from tests.engine.helpers import START_MS, make_assistant, make_session

PRICES = Prices(
    platform_per_minute=0.01,
    stt_per_minute={"deepgram": 0.0077},
    tts_per_character={"eleven-labs": 0.00009},
    llm_per_input_token={"openai": 0.0000005},
    llm_per_output_token={"openai": 0.0000015},
)
FIRST = "Hi there! How can I help you today?"
SECOND = "Your appointment is booked."


def _report() -> EndOfCallReport:
    """Answer at 0 ms; welcome at 223; two exchanges, the second one hangs; bot ends at 20 s."""
    speech = SpeechConfig(
        stt=SttConfig(vendor="deepgram"), tts_data=[TtsConfig(vendor="eleven-labs", default=True)]
    )
    session, scheduler, sink = make_session(
        make_assistant(config=VoiceConfig(speech=speech)), config=EngineConfig(prices=PRICES)
    )
    scheduler.advance(223)
    session.welcome_played(
        tts=TtsMetrics(audio_duration_ms=1442, generation_time_ms=7, is_cache_playing=True)
    )
    scheduler.advance(777)
    session.audio_chunk_delayed(100)  # at 1000 ms
    scheduler.advance(2861)
    session.user_turn_finalised(
        "Hello.", stt=SttMetrics(confidence=0.74), speech_started_at=START_MS + 3000
    )
    scheduler.advance(2557)
    session.response_started()
    scheduler.advance(352)
    session.response_audio_started(
        FIRST, tts=TtsMetrics(audio_duration_ms=3207), input_tokens=485, output_tokens=32
    )  # at 6770
    scheduler.advance(2230)
    session.audio_chunk_delayed(300)  # at 9000 ms
    scheduler.advance(500)
    session.audio_chunk_delayed(50)  # at 9500 ms
    session.audio_chunk_dropped()
    scheduler.advance(477)
    session.response_finished([Segment(FIRST[:9], 1200, 1300), Segment(FIRST[10:], 2007, 1907)])
    scheduler.advance(2023)
    session.user_turn_finalised("Book me for Monday.", stt=SttMetrics(confidence=0.2))  # 12000
    scheduler.advance(4000)
    session.response_started()
    scheduler.advance(1055)  # the hang fired at 17000
    session.response_audio_started(SECOND, tts=TtsMetrics(audio_duration_ms=1303))  # at 17055
    scheduler.advance(1303)
    session.response_finished()
    scheduler.advance(1642)
    session.ended("bot")  # at 20000
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    return report


@pytest.fixture(scope="module")
def stats() -> CallStats:
    stats = _report().call.metrics.call_stats  # type: ignore[union-attr]
    assert isinstance(stats, CallStats)
    return stats


def test_bot_response_time_is_bot_turn_start_minus_user_turn_end(stats: CallStats) -> None:
    assert stats.turns_stats.bot_response_time == [6770 - 3861, 17055 - 12000]  # type: ignore[union-attr]


def test_turns_are_counted_with_each_segment_a_bot_turn(stats: CallStats) -> None:
    assert stats.turns == TurnCounts(user=2, bot=4, played=4, interrupted=0, skipped=0)


def test_user_turns_are_ms_from_the_call_start(stats: CallStats) -> None:
    assert stats.turns_stats.user_turns == [  # type: ignore[union-attr]
        UserTurn(start=3000, end=3861, message_id="user-1"),
        UserTurn(start=12000, end=12000, message_id="user-2"),
    ]


def test_bot_turns_have_ms_positions_and_second_durations(stats: CallStats) -> None:
    welcome, first, second, last = stats.turns_stats.bot_turns  # type: ignore[misc, union-attr]
    assert welcome == BotTurn(
        start=223,
        end=1665,
        interrupted=False,
        played_duration=1.442,
        audio_duration=1.442,
        user_message_id="welcome-1",
        stop_speaking_reason=None,
    )
    assert (first.start, first.end, first.played_duration, first.audio_duration) == (
        6770,
        8070,
        1.3,
        1.2,
    )
    assert (second.start, second.end, second.user_message_id) == (8070, 9977, "user-1")
    assert (last.start, last.end, last.played_duration, last.audio_duration) == (
        17055,
        18358,
        1.303,
        1.303,
    )


def test_llm_stats_count_latencies_tokens_and_hangs(stats: CallStats) -> None:
    llm = stats.llm_stats
    assert llm.response_count == 2  # type: ignore[union-attr]
    assert llm.response_latency_total == 2557 + 4000  # type: ignore[union-attr]
    assert llm.response_latency_avg == (2557 + 4000) / 2  # type: ignore[union-attr]
    assert llm.hangups == 1  # type: ignore[union-attr]
    assert llm.response_time_distribution == {  # type: ignore[union-attr]
        "0": 0, "100": 0, "300": 0, "600": 0, "1000": 0, "1500": 0, "2000": 2, "5000": 0,
        "10000": 0,
    }  # fmt: skip
    assert (llm.input_tokens, llm.output_tokens, llm.input_tokens_avg) == (485, 32, 242.5)  # type: ignore[union-attr]


def test_tts_stats_split_api_and_cache_requests(stats: CallStats) -> None:
    tts = stats.tts_stats
    assert tts.total_requests == 3  # type: ignore[union-attr]
    assert (tts.cache_requests, tts.cache_latency_total) == (1, 7)  # type: ignore[union-attr]
    assert (tts.api_requests, tts.api_latency_total) == (2, 352 + 1055)  # type: ignore[union-attr]
    assert tts.response_time_distribution == {  # type: ignore[union-attr]
        "0": 1, "100": 0, "200": 0, "300": 1, "600": 0, "1000": 1, "3000": 0, "5000": 0,
        "10000": 0,
    }  # fmt: skip


def test_stt_stats_average_confidence_into_buckets(stats: CallStats) -> None:
    stt = stats.stt_stats
    assert stt.response_count == 2  # type: ignore[union-attr]
    assert stt.confidence_avg == pytest.approx(0.47)  # type: ignore[union-attr]
    assert stt.confidence_distribution == {  # type: ignore[union-attr]
        "0": 0, "0.1": 1, "0.3": 0, "0.5": 0, "0.7": 1, "0.9": 0,
    }  # fmt: skip


def test_user_audio_groups_delayed_chunks_in_8_second_windows(stats: CallStats) -> None:
    audio = stats.user_audio
    assert (audio.delayed_chunks_count, audio.latency_total, audio.latency_avg) == (3, 450, 150)  # type: ignore[union-attr]
    assert audio.dropped_chunks_count == 1  # type: ignore[union-attr]
    assert audio.latency_intervals == [  # type: ignore[union-attr]
        LatencyInterval(max=100, count=1, avg=100, duration=8000, cumulative_duration=8000),
        LatencyInterval(max=300, count=2, avg=175, duration=8000, cumulative_duration=16000),
        LatencyInterval(max=0, count=0, avg=0, duration=4000, cumulative_duration=20000),
    ]


def test_cost_prices_each_vendor_and_total_is_the_sum_of_the_five() -> None:
    cost = _report().call.cost  # type: ignore[union-attr]
    assert isinstance(cost, Cost)
    minutes = 20_000 / 60_000
    characters = len(FIRST) + len(SECOND)  # the cached welcome is not synthesised
    assert cost.call_duration == 20.0
    assert cost.tts_gen_chars_total == characters
    assert cost.interactly_cost == pytest.approx(0.01 * minutes)
    assert cost.phone_cost == 0  # a web call
    assert cost.stt_vendor_cost == pytest.approx(0.0077 * minutes)
    assert cost.tts_vendor_cost == pytest.approx(0.00009 * characters)
    assert cost.llm_vendor_cost == pytest.approx(485 * 0.0000005 + 32 * 0.0000015)
    parts = [
        cost.interactly_cost,
        cost.phone_cost,
        cost.tts_vendor_cost,
        cost.stt_vendor_cost,
        cost.llm_vendor_cost,
    ]
    assert cost.total_cost == sum(parts)  # type: ignore[arg-type]
    assert (cost.input_tokens_total, cost.output_tokens_total) == (485, 32)


def test_histogram_counts_each_value_under_its_largest_lower_bound() -> None:
    counts = histogram([-300, 0, 99, 100, 2557, 10_000, 99_999], LLM_LATENCY_BUCKETS)
    assert counts == {
        "0": 3, "100": 1, "300": 0, "600": 0, "1000": 0, "1500": 0, "2000": 1, "5000": 0,
        "10000": 2,
    }  # fmt: skip
