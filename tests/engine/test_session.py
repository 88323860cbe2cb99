"""``CallSession``: lifecycle, messages and their metrics, barge-in and assistant behaviour."""

from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest

from callhook import events
from callhook.engine import (
    REDACTED,
    AnalysisInput,
    CallSession,
    EngineConfig,
    EngineError,
    FakeScheduler,
    ListSink,
    Segment,
)
from callhook.events import (
    UNSET,
    Analysis,
    AssistantOverrides,
    AssistantServer,
    AudioMetrics,
    Call,
    ConversationUpdate,
    EndOfCallReport,
    ErrorInfo,
    LlmMetrics,
    MessageMetrics,
    PlayerMetrics,
    Recording,
    SkippedMessage,
    SpeechConfig,
    StatusUpdate,
    SttConfig,
    SttMetrics,
    TimelineMetrics,
    TtsMetrics,
    VoiceConfig,
)
from tests.engine.helpers import START_MS, make_assistant, make_params, make_session, types


def _statuses(sink: object) -> list[str]:
    return [
        str(e.call.status)  # type: ignore[union-attr]
        for e in sink.events  # type: ignore[attr-defined]
        if isinstance(e, StatusUpdate)
    ]


def _updates(sink: object) -> list[ConversationUpdate]:
    return [e for e in sink.events if isinstance(e, ConversationUpdate)]  # type: ignore[attr-defined]


# -- lifecycle ---------------------------------------------------------------------------


def test_a_call_goes_initiated_queued_ongoing_forwarded_finished() -> None:
    session, scheduler, sink = make_session(answered=False)
    session.initiated()
    session.queued()
    scheduler.advance(400)
    session.answered()
    session.forwarded()
    session.ended("bot")
    assert _statuses(sink) == ["initiated", "queued", "ongoing", "forwarded", "finished"]
    assert types(sink)[-1] == "end-of-call-report"


def test_answering_rewrites_start_at() -> None:
    session, scheduler, sink = make_session(answered=False)
    session.initiated()
    scheduler.advance(436)
    session.answered()
    starts = [e.call.start_at for e in sink.events]  # type: ignore[union-attr]
    assert starts == ["2026-03-05T09:21:19.627Z", "2026-03-05T09:21:20.063Z"]


def test_a_call_rejected_before_it_starts_is_failed_and_reported() -> None:
    session, _, sink = make_session(answered=False)
    session.initiated()
    session.failed_to_start("Concurrency limit reached")
    assert _statuses(sink) == ["initiated", "failed"]
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    assert report.call.status == "failed"  # type: ignore[union-attr]
    assert report.call.call_end_trigger_by == "system"  # type: ignore[union-attr]
    assert report.call.assistant_call_duration == 0  # type: ignore[union-attr]
    assert report.analysis.outcome == "Call failed to start"  # type: ignore[union-attr]
    assert sink.events[1].call.phone_call_status_reason == "Concurrency limit reached"  # type: ignore[union-attr]


def test_ending_twice_sends_one_finished_status_and_one_report() -> None:
    session, _, sink = make_session()
    session.ended("user")
    session.ended("bot")
    assert types(sink).count("end-of-call-report") == 1
    assert _statuses(sink).count("finished") == 1
    assert session.ended_by == "user"


def test_speech_before_the_answer_is_refused_with_a_sentence() -> None:
    session, _, _ = make_session(answered=False)
    session.initiated()
    with pytest.raises(EngineError, match="has not been answered yet"):
        session.user_turn_finalised("Hello")


def test_use_after_the_end_is_refused_naming_the_call() -> None:
    session, _, _ = make_session()
    session.ended("user")
    with pytest.raises(EngineError, match=r"call WC-.*: the call has finished"):
        session.user_turn_finalised("Hello?")


def test_an_impossible_status_change_is_refused() -> None:
    session, _, _ = make_session()
    with pytest.raises(EngineError, match="cannot go from ongoing to queued"):
        session.queued()


class _TickingScheduler(FakeScheduler):
    """A clock that moves 1 ms at every read, as a real one may between two reads."""

    def now_ms(self) -> float:
        self.advance(1)
        return super().now_ms()


def test_the_finished_status_and_the_report_carry_one_end_time() -> None:
    """One clock read ends the call (issue 21 item 12)."""
    scheduler = _TickingScheduler(START_MS)
    sink = ListSink()
    session = CallSession(make_assistant(), make_params(), scheduler=scheduler, sink=sink)
    session.initiated()
    session.answered()
    scheduler.advance(30_000)
    session.ended("user")
    finished, report = sink.events[-2:]
    assert isinstance(finished, StatusUpdate) and isinstance(report, EndOfCallReport)
    assert isinstance(finished.call, Call) and isinstance(report.call, Call)
    assert finished.call.end_at == report.call.end_at
    assert finished.call.assistant_call_duration == report.call.assistant_call_duration
    assert finished.call.start_at == report.call.start_at
    ended_at = datetime.fromisoformat(str(report.call.end_at)).timestamp() * 1000
    assert finished.timestamp == round(ended_at)  # the status change is the end itself
    assert report.call.cost.call_duration * 1000 == pytest.approx(  # type: ignore[union-attr]
        report.call.assistant_call_duration, abs=1
    )


def test_the_report_fills_the_recording_by_default() -> None:
    """SPEC §2: the report carries a filled recording (issue 21 item 15)."""
    session, _, sink = make_session()
    session.ended("user")
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport) and isinstance(report.call, Call)
    assert report.call.recording == Recording(
        s3_bucket="callhook-recordings",
        path="67c0231ae6880fe48ef929ee/WC-82015760-c3bd-427d-a23b-ba9b07e4ab85.mp3",
    )
    # During the call it stays the empty shape.
    assert sink.events[0].call.recording == Recording(s3_bucket="", path="")  # type: ignore[union-attr]


def test_every_dynamic_variable_gets_a_validation_entry() -> None:
    """SPEC §3: ``{dynamicVariables: {name: value}, variablesValidations: {name: "none"}}``."""
    overrides = AssistantOverrides(
        dynamic_variables={"clinic": "Apollo", "date": "Monday"},
        variables_validations={"clinic": "required"},
    )
    session, _, sink = make_session(assistant_overrides=overrides)
    session.ended("user")
    for event in sink.events:
        assert event.call.assistant_overrides == AssistantOverrides(  # type: ignore[union-attr]
            dynamic_variables={"clinic": "Apollo", "date": "Monday"},
            variables_validations={"clinic": "required", "date": "none"},
        )


def test_calls_without_variables_carry_empty_overrides() -> None:
    _, _, sink = make_session(assistant_overrides=None)
    assert events.encode(sink.envelopes[0]).count(b'"assistantOverrides":{}') == 1


def test_the_report_carries_duration_trigger_and_recording_path() -> None:
    config = EngineConfig(recording_bucket="recordings")
    session, scheduler, sink = make_session(config=config)
    scheduler.advance(41_683)
    session.ended("bot")
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    call = report.call
    assert call.assistant_call_duration == 41_683  # type: ignore[union-attr]
    assert call.end_at == "2026-03-05T09:22:01.310Z"  # type: ignore[union-attr]
    assert call.call_end_trigger_by == "bot"  # type: ignore[union-attr]
    assert call.recording.s3_bucket == "recordings"  # type: ignore[union-attr]
    assert call.recording.path == (  # type: ignore[union-attr]
        "67c0231ae6880fe48ef929ee/WC-82015760-c3bd-427d-a23b-ba9b07e4ab85.mp3"
    )
    assert call.analysis.guardrails == "DISABLED"  # type: ignore[union-attr]


# -- messages ------------------------------------------------------------------------------


def test_messages_carry_spec_ids_and_clock_derived_metrics() -> None:
    session, scheduler, sink = make_session()
    scheduler.advance(223)
    session.welcome_played(tts=TtsMetrics(audio_duration_ms=1442), player_wait_ms=7)
    scheduler.advance(3638)
    session.user_turn_finalised(
        "Hello.", stt=SttMetrics(confidence=0.74), speech_started_at=START_MS + 2800
    )
    scheduler.advance(2557)
    message_id = session.response_started()
    scheduler.advance(352)
    session.response_audio_started("Hi there!", tts=TtsMetrics(audio_duration_ms=3207))
    welcome, user, answer = _updates(sink)[-1].messages  # type: ignore[misc]
    assert welcome.message_id == "welcome-1"
    assert welcome.text == "Welcome to Apollo clinic!!"
    assert welcome.metrics.llm == LlmMetrics()  # type: ignore[union-attr]
    assert welcome.metrics.interactly_player == PlayerMetrics(wait_time_ms=7)  # type: ignore[union-attr]
    assert user.message_id == "user-1"
    assert user.timestamp == START_MS + 3861
    assert user.metrics.timeline == TimelineMetrics(  # type: ignore[union-attr]
        offset_from_previous_turn_ms=3638, total_elapsed_time_ms=3861
    )
    assert user.metrics.stt.start_offset_ms == 2800  # type: ignore[union-attr]
    assert user.metrics.stt.duration_ms == 1061  # type: ignore[union-attr]
    assert user.metrics.stt.confidence == 0.74  # type: ignore[union-attr]
    assert user.skipped_assistant_messages == []
    assert re.fullmatch(rf"user-1-[A-Za-z0-9]{{10}}-{START_MS + 6418}", message_id)
    assert answer.message_id == message_id
    assert answer.timestamp == START_MS + 6770
    metrics = answer.metrics
    assert isinstance(metrics, MessageMetrics)
    assert metrics.llm == LlmMetrics(
        timestamp_ms=START_MS + 6418, queue_latency_ms=0, response_latency_ms=2557
    )
    assert metrics.interactly_player == PlayerMetrics(wait_time_ms=352)
    assert metrics.tts.audio_duration_ms == 3207  # type: ignore[union-attr]
    assert metrics.timeline == TimelineMetrics(total_elapsed_time_ms=6770)


def test_the_transcript_is_never_done_after_the_message_is_finalised() -> None:
    """``stt.timestampMs`` is clamped to the finalisation (issue 21 item 13)."""
    session, scheduler, sink = make_session()
    scheduler.advance(3000)
    session.user_turn_finalised("Hello.", stt=SttMetrics(timestamp_ms=START_MS + 3198))
    scheduler.advance(1000)
    session.user_turn_finalised("Again.", stt=SttMetrics(timestamp_ms=START_MS + 3500))
    first, second = (u.messages[-1] for u in _updates(sink))  # type: ignore[index]
    assert first.metrics.stt.timestamp_ms == first.timestamp == START_MS + 3000  # type: ignore[union-attr]
    assert second.metrics.stt.timestamp_ms == START_MS + 3500  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("started", "ended", "stt"),
    [
        (START_MS + 100.5, START_MS + 1200.5, SttMetrics()),
        (START_MS + 100.4, START_MS + 1200.6, SttMetrics(duration_ms=1100)),
        (None, START_MS + 1999.5, SttMetrics(duration_ms=1499)),
        (START_MS + 100.5, None, SttMetrics()),
    ],
)
def test_stt_duration_is_always_end_offset_minus_start_offset(
    started: float | None, ended: float | None, stt: SttMetrics
) -> None:
    """Offsets and duration agree whatever mix was reported (issue 21 item 14)."""
    session, scheduler, sink = make_session()
    scheduler.advance(2500)
    session.user_turn_finalised("Hello.", stt=stt, speech_started_at=started, speech_ended_at=ended)
    got = _updates(sink)[-1].messages[-1].metrics.stt  # type: ignore[index, union-attr]
    assert isinstance(got, SttMetrics)
    assert got.duration_ms == got.end_offset_ms - got.start_offset_ms  # type: ignore[operator]
    if isinstance(stt.duration_ms, int):
        assert got.duration_ms == stt.duration_ms


def test_every_update_carries_the_whole_history() -> None:
    session, scheduler, sink = make_session()
    session.welcome_played(tts=TtsMetrics(audio_duration_ms=1000))
    for text in ("One.", "Two.", "Three."):
        scheduler.advance(1000)
        session.user_turn_finalised(text)
    assert [len(u.messages) for u in _updates(sink)] == [1, 2, 3, 4]  # type: ignore[arg-type]


def test_split_responses_become_bot_turns_of_the_same_user_message() -> None:
    session, scheduler, _ = make_session()
    session.user_turn_finalised("Book me in.")
    scheduler.advance(1000)
    session.response_audio_started("Sure. Which day?", tts=TtsMetrics(audio_duration_ms=2500))
    scheduler.advance(2600)
    session.response_finished([Segment("Sure.", 800, 900), Segment("Which day?", 1700, 1700)])
    turns = session.ledger.bot_turns
    assert [(t.start, t.end, t.audio_ms, t.user_message_id) for t in turns] == [
        (1000, 1900, 800, "user-1"),
        (1900, 3600, 1700, "user-1"),
    ]


# -- barge-in ------------------------------------------------------------------------------


def test_barging_in_over_playing_audio_makes_a_skipped_message_on_the_next_user_turn() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("When are you open?")
    scheduler.advance(800)
    answer_id = session.response_audio_started(
        "We are open from eight to five daily.", tts=TtsMetrics(audio_duration_ms=2000)
    )
    scheduler.advance(1000)
    assert session.user_barged_in() is True
    scheduler.advance(700)
    session.user_turn_finalised("Sorry, on Sundays?")
    user = _updates(sink)[-1].messages[-1]  # type: ignore[index]
    assert user.skipped_assistant_messages == [
        SkippedMessage(
            message_id=answer_id,
            text="We are open from eight to five daily.",
            timestamp=START_MS + 800,
            played_text="We are open from",  # half the audio, whole words only
            played_ms=1000,
        )
    ]
    (turn,) = session.ledger.bot_turns
    assert (turn.interrupted, turn.played_ms, turn.stop_reason) == (True, 1000, "barge-in")
    assert session.ledger.barge_ins == 1


def test_speech_over_a_response_not_yet_playing_skips_it_unheard() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(500)
    answer_id = session.response_started(text="Hi! How can I")
    scheduler.advance(500)
    session.user_turn_finalised("Can you hear me?")  # an implicit barge-in
    user = _updates(sink)[-1].messages[-1]  # type: ignore[index]
    assert user.skipped_assistant_messages == [
        SkippedMessage(
            message_id=answer_id,
            text="Hi! How can I",
            timestamp=START_MS + 500,
            played_text="",
            played_ms=0,
        )
    ]
    assert session.ledger.skipped_responses == 1
    assert session.ledger.bot_turns == []


def test_without_barge_in_the_users_speech_waits_for_the_response_to_finish() -> None:
    session, scheduler, sink = make_session(make_assistant(barge_in_enabled=False))
    session.user_turn_finalised("Hello")
    scheduler.advance(500)
    session.response_audio_started("Hi! Welcome.", tts=TtsMetrics(audio_duration_ms=1500))
    scheduler.advance(500)
    assert session.user_barged_in() is False
    assert session.user_turn_finalised("Hi") == "user-2"
    assert len(_updates(sink)) == 2  # user-1 and the answer; user-2 waits
    scheduler.advance(1000)
    session.response_finished()
    last = _updates(sink)[-1].messages[-1]  # type: ignore[index]
    assert (last.message_id, last.timestamp, last.skipped_assistant_messages) == (
        "user-2",
        START_MS + 2000,
        [],
    )
    assert session.ledger.barge_ins == 0
    assert [t.interrupted for t in session.ledger.bot_turns] == [False]


# -- assistant behaviour ---------------------------------------------------------------------


def test_variables_fill_the_welcome_and_system_prompt_but_not_the_emitted_assistant() -> None:
    session, _, sink = make_session()
    assert session.welcome_message == "Welcome to Apollo clinic!!"
    assert session.system_prompt == "You are Rachel at Apollo clinic. Serial 42."
    status = sink.events[0]
    assert status.assistant.welcome_message == "Welcome to {{clinic}}!!"  # type: ignore[union-attr]


def test_an_assistant_that_waits_for_the_user_plays_no_welcome_first() -> None:
    assistant = make_assistant(welcome_message_mode="assistant-waits-for-user")
    session, _, _ = make_session(assistant)
    assert session.speaks_first is False
    with pytest.raises(EngineError, match="waits for the user"):
        session.welcome_played()
    assert make_session()[0].speaks_first is True


def test_an_end_call_phrase_ends_the_call_after_the_end_call_message() -> None:
    assistant = make_assistant(end_call_message="Thank you for calling. Goodbye!")
    session, scheduler, sink = make_session(assistant)
    session.user_turn_finalised("Okay, bye.")
    assert session.ending is True
    assert session.end_call_message == "Thank you for calling. Goodbye!"
    scheduler.advance(400)
    session.response_audio_started(session.end_call_message)
    scheduler.advance(1500)
    session.response_finished()
    assert _statuses(sink)[-1] == "finished"
    assert session.ended_by == "bot"


def test_an_end_call_phrase_without_an_end_message_ends_at_once() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Goodbye!")
    assert _statuses(sink)[-1] == "finished"


def test_end_call_phrases_match_whole_words_only() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Can I bypass the queue? Goodbyes are sad.")
    assert session.ending is False
    assert _statuses(sink)[-1] == "ongoing"


def test_max_call_duration_ends_the_call_by_the_system() -> None:
    session, scheduler, sink = make_session(make_assistant(max_call_duration=60))
    scheduler.advance(59_999)
    assert _statuses(sink)[-1] == "ongoing"
    scheduler.advance(1)
    assert _statuses(sink)[-1] == "finished"
    assert session.ended_by == "system"


# -- security --------------------------------------------------------------------------------


def test_emitted_payloads_redact_the_server_secret_and_header_values() -> None:
    session, _, sink = make_session()
    server = sink.events[0].assistant.assistant_server  # type: ignore[union-attr]
    assert server == AssistantServer(
        enabled=True,
        url="https://example.test/events",
        secret=REDACTED,
        headers={"Authorization": REDACTED},
        messages=["status-update"],
    )
    assert session.assistant.assistant_server.secret == "s3cret"  # type: ignore[union-attr]


def test_redaction_can_be_turned_off() -> None:
    _, _, sink = make_session(config=EngineConfig(redact_secrets=False))
    server = sink.events[0].assistant.assistant_server  # type: ignore[union-attr]
    assert server.secret == "s3cret"  # type: ignore[union-attr]
    assert server.headers == {"Authorization": "Bearer abc"}  # type: ignore[union-attr]


def test_events_other_than_status_carry_a_truncated_assistant() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Hello")
    assistant = sink.events[-1].assistant
    assert assistant.assistant_server is UNSET  # type: ignore[union-attr]
    assert assistant.name == "Mary Dental - main"  # type: ignore[union-attr]


# -- failures --------------------------------------------------------------------------------


def test_errors_name_the_configured_provider_when_the_platform_does_not() -> None:
    speech = SpeechConfig(stt=SttConfig(vendor="deepgram"))
    session, _, sink = make_session(make_assistant(config=VoiceConfig(speech=speech)))
    session.user_turn_finalised("Hello")
    session.stt_failed("audio_quality_insufficient", "too noisy")
    session.llm_failed("quota_exceeded", "no credit", retryable=False, details={"plan": "free"})
    stt_error, llm_error = (e.error for e in sink.events[-2:])  # type: ignore[union-attr]
    assert stt_error == ErrorInfo(
        type="stt_error",
        code="audio_quality_insufficient",
        message="too noisy",
        provider="deepgram",
        retryable=False,
        details={},
    )
    assert (llm_error.type, llm_error.provider, llm_error.details) == (  # type: ignore[union-attr]
        "llm_error",
        "openai",
        {"plan": "free"},
    )
    assert [m.message_id for m in sink.events[-1].messages] == ["user-1"]  # type: ignore[union-attr]
    assert (session.ledger.stt_errors, session.ledger.llm_errors) == (1, 1)


class _BrokenAnalyzer:
    async def analyze(self, call: AnalysisInput) -> Analysis:
        raise RuntimeError("model exploded")


def test_the_report_goes_out_with_empty_analysis_when_the_analyzer_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = FakeScheduler(START_MS)
    sink = ListSink()
    session = CallSession(
        make_assistant(), make_params(), scheduler=scheduler, sink=sink, analyzer=_BrokenAnalyzer()
    )
    session.initiated()
    session.answered()
    with caplog.at_level(logging.ERROR, logger="callhook.engine"):
        session.ended("user")
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    assert report.analysis == Analysis(
        summary="", success_evaluation="", structured_data={}, outcome=""
    )
    assert "engine.analysis_failed WC-" in caplog.records[0].getMessage()


def test_the_audio_group_counts_delayed_and_lost_chunks_per_turn_and_in_total() -> None:
    session, scheduler, sink = make_session()
    session.audio_chunk_delayed(120)
    session.audio_chunk_delayed(80)
    scheduler.advance(1000)
    session.user_turn_finalised("One.")
    session.audio_chunk_delayed(30)
    session.audio_chunk_dropped()
    scheduler.advance(1000)
    session.user_turn_finalised("Two.")
    first, second = (u.messages[-1].metrics.audio for u in _updates(sink))  # type: ignore[index, union-attr]
    assert first == AudioMetrics(
        total_audio_received_ms=1000,
        audio_delay_per_turn_ms=200,
        delayed_packets_per_turn_count=2,
        delayed_packets_cumulative_count=2,
        lost_packets_cumulative_count=0,
        audio_delay_cumulative_ms=200,
        offset_from_previous_turn_ms=1000,
    )
    assert (second.delayed_packets_per_turn_count, second.audio_delay_cumulative_ms) == (1, 230)  # type: ignore[union-attr]
    assert second.lost_packets_cumulative_count == 1  # type: ignore[union-attr]


def test_figures_that_cannot_be_computed_are_left_out_unless_reported() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Hello")
    stt = _updates(sink)[-1].messages[-1].metrics.stt  # type: ignore[index, union-attr]
    assert stt.confidence is UNSET  # type: ignore[union-attr]
    assert stt.vad_ms is UNSET  # type: ignore[union-attr]
    assert stt.relative_latency_ms == 0  # type: ignore[union-attr]


def test_a_final_llm_error_releases_user_turns_waiting_without_barge_in() -> None:
    session, scheduler, sink = make_session(make_assistant(barge_in_enabled=False))
    session.user_turn_finalised("Hello")
    session.response_started()
    session.user_turn_finalised("Hello?")  # waits for the response
    scheduler.advance(2000)
    session.llm_failed("authentication_failed", "bad key", retryable=False)
    last = _updates(sink)[-1].messages[-1]  # type: ignore[index]
    assert (last.message_id, last.timestamp) == ("user-2", START_MS + 2000)
    session.response_started()  # the new turn can be answered
