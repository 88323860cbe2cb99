"""What a streaming voice pipeline tells a session beyond the simulator: the heard text of a
cut-off response, a response's audio start learned late, and provider-reported usage."""

from __future__ import annotations

import pytest

from callhook.engine import EngineConfig, Prices
from callhook.events import (
    UNSET,
    ConversationUpdate,
    Cost,
    EndOfCallReport,
    HangEvent,
    SkippedMessage,
    SpeechConfig,
    SttConfig,
    TtsConfig,
    TtsMetrics,
    VoiceConfig,
)
from tests.engine.helpers import START_MS, make_assistant, make_session


def test_the_heard_text_a_pipeline_reports_replaces_the_proportional_guess() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("When are you open?")
    scheduler.advance(800)
    answer_id = session.response_audio_started(
        "We are open from eight to five daily.", tts=TtsMetrics(audio_duration_ms=2000)
    )
    scheduler.advance(1000)
    assert session.user_barged_in(heard_text="We are open") is True
    scheduler.advance(700)
    session.user_turn_finalised("Sorry, on Sundays?")
    user = sink.events[-1].messages[-1]  # type: ignore[union-attr, index]
    assert user.skipped_assistant_messages == [
        SkippedMessage(
            message_id=answer_id,
            text="We are open from eight to five daily.",
            timestamp=START_MS + 800,
            played_text="We are open",
            played_ms=1000,
        )
    ]


def test_a_late_known_text_is_stamped_with_the_audio_start_it_reports() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(300)
    session.response_started()
    scheduler.advance(400)
    audio_at = scheduler.now_ms()  # the first sentence plays; the LLM is still streaming
    scheduler.advance(900)
    session.response_audio_started("Hi! How can I help you today?", started_at=audio_at)
    update = sink.events[-1]
    assert isinstance(update, ConversationUpdate)
    message = update.messages[-1]  # type: ignore[index]
    assert message.timestamp == round(audio_at)
    assert message.metrics.interactly_player.wait_time_ms == 400  # type: ignore[union-attr]
    assert message.metrics.hang is UNSET  # no hang
    assert not any(isinstance(event, HangEvent) for event in sink.events)


def test_audio_that_started_after_the_hang_threshold_is_a_hang_even_when_reported_late() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(4990)
    session.response_started()
    scheduler.advance(10)
    audio_at = scheduler.now_ms()  # the deadline itself
    session.response_audio_started("Sorry for the wait.", started_at=audio_at)
    hangs = [event for event in sink.events if isinstance(event, HangEvent)]
    assert len(hangs) == 1
    message = sink.events[-1].messages[-1]  # type: ignore[union-attr, index]
    assert message.metrics.hang.waited_ms == 5000  # type: ignore[union-attr]


def _report_with_usage(*, report_usage: bool) -> Cost:
    speech = SpeechConfig(
        stt=SttConfig(vendor="deepgram"), tts_data=[TtsConfig(vendor="cartesia", default=True)]
    )
    prices = Prices(
        platform_per_minute=0.0,
        stt_per_minute={"deepgram": 0.006},
        tts_per_character={"cartesia": 0.00004},
        llm_per_input_token={"openai": 0.000001},
        llm_per_output_token={"openai": 0.000002},
    )
    session, scheduler, sink = make_session(
        make_assistant(config=VoiceConfig(speech=speech)), config=EngineConfig(prices=prices)
    )
    session.user_turn_finalised("Hello")
    scheduler.advance(500)
    session.response_audio_started("Hi there.", input_tokens=100, output_tokens=4)
    if report_usage:
        session.usage(input_tokens=20, output_tokens=6, tts_characters=40, stt_audio_ms=30_000)
        session.usage(tts_characters=2)
    scheduler.advance(59_500)
    session.response_finished()
    session.ended("user")
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    cost = report.call.cost  # type: ignore[union-attr]
    assert isinstance(cost, Cost)
    return cost


def test_reported_usage_prices_tokens_characters_and_stt_audio() -> None:
    cost = _report_with_usage(report_usage=True)
    assert (cost.input_tokens_total, cost.output_tokens_total) == (120, 10)
    assert cost.tts_gen_chars_total == 42
    assert cost.llm_vendor_cost == pytest.approx(120 * 0.000001 + 10 * 0.000002)
    assert cost.tts_vendor_cost == pytest.approx(42 * 0.00004)
    assert cost.stt_vendor_cost == pytest.approx(0.5 * 0.006)  # 30 s of audio, not the call


def test_without_reported_usage_cost_comes_from_text_and_call_length() -> None:
    cost = _report_with_usage(report_usage=False)
    assert cost.tts_gen_chars_total == len("Hi there.")
    assert cost.stt_vendor_cost == pytest.approx(1.0 * 0.006)  # the one-minute call


def test_audio_playing_before_the_text_is_known_stops_the_hang_timer() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Tell me everything about your services.")
    scheduler.advance(1200)
    session.response_started()
    scheduler.advance(300)
    audio_at = scheduler.now_ms()
    session.response_playing()  # the first sentence plays; the LLM is still writing
    scheduler.advance(9000)  # well past the threshold: no hang, the bot is speaking
    assert not any(isinstance(event, HangEvent) for event in sink.events)
    session.response_audio_started("We offer cleanings, fillings and more.", started_at=audio_at)
    message = sink.events[-1].messages[-1]  # type: ignore[union-attr, index]
    assert message.timestamp == round(audio_at)
    assert message.metrics.hang is UNSET  # type: ignore[union-attr]


def test_audio_that_starts_after_the_threshold_still_hangs_once() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(6000)  # the timer fires at 5000
    session.response_playing()
    session.response_audio_started("Sorry!", started_at=scheduler.now_ms())
    assert sum(isinstance(event, HangEvent) for event in sink.events) == 1
    message = sink.events[-1].messages[-1]  # type: ignore[union-attr, index]
    assert message.metrics.hang.waited_ms == 6000  # type: ignore[union-attr]
