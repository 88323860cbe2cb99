"""The user's side of a call (``_turns``): messages, barge-in, assistant behaviour."""

from __future__ import annotations

import re

import pytest

from callhook.engine import (
    EngineError,
    Segment,
)
from callhook.events import (
    LlmMetrics,
    MessageMetrics,
    PlayerMetrics,
    SkippedMessage,
    SttMetrics,
    TimelineMetrics,
    TtsMetrics,
)
from tests.engine.helpers import (
    START_MS,
    make_assistant,
    make_session,
    statuses,
    updates,
)

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
    welcome, user, answer = updates(sink)[-1].messages  # type: ignore[misc]
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
    first, second = (u.messages[-1] for u in updates(sink))  # type: ignore[index]
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
    got = updates(sink)[-1].messages[-1].metrics.stt  # type: ignore[index, union-attr]
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
    assert [len(u.messages) for u in updates(sink)] == [1, 2, 3, 4]  # type: ignore[arg-type]


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
    user = updates(sink)[-1].messages[-1]  # type: ignore[index]
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
    user = updates(sink)[-1].messages[-1]  # type: ignore[index]
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
    assert len(updates(sink)) == 2  # user-1 and the answer; user-2 waits
    scheduler.advance(1000)
    session.response_finished()
    last = updates(sink)[-1].messages[-1]  # type: ignore[index]
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
    assert statuses(sink)[-1] == "finished"
    assert session.ended_by == "bot"


def test_an_end_call_phrase_without_an_end_message_ends_at_once() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Goodbye!")
    assert statuses(sink)[-1] == "finished"


def test_end_call_phrases_match_whole_words_only() -> None:
    session, _, sink = make_session()
    session.user_turn_finalised("Can I bypass the queue? Goodbyes are sad.")
    assert session.ending is False
    assert statuses(sink)[-1] == "ongoing"


def test_max_call_duration_ends_the_call_by_the_system() -> None:
    session, scheduler, sink = make_session(make_assistant(max_call_duration=60))
    scheduler.advance(59_999)
    assert statuses(sink)[-1] == "ongoing"
    scheduler.advance(1)
    assert statuses(sink)[-1] == "finished"
    assert session.ended_by == "system"
