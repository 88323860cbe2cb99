"""The hang timer (SPEC §2 callhook decision), ``_hang``."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from callhook import events
from callhook.engine import EngineConfig, FakeScheduler, TimerHandle
from callhook.events import UNSET, HangEvent, HangInfo, Message, MessageMetrics, TtsMetrics
from tests.engine.helpers import make_assistant, make_session, types


def _hangs(sink_events: list[object]) -> list[HangInfo]:
    return [
        e.hang for e in sink_events if isinstance(e, HangEvent) and isinstance(e.hang, HangInfo)
    ]


def _last_message(session_sink: object) -> Message:
    event = session_sink.events[-1]  # type: ignore[attr-defined]
    return event.messages[-1]  # type: ignore[no-any-return]


def test_a_response_playing_at_4999_ms_is_not_a_hang() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(4999)
    session.response_audio_started("Hi!", tts=TtsMetrics(audio_duration_ms=500))
    scheduler.advance(60_000)
    assert _hangs(sink.events) == []
    assert scheduler.pending == 0


def test_no_response_by_5000_ms_is_exactly_one_hang() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(5000)
    scheduler.advance(60_000)
    (hang,) = _hangs(sink.events)
    assert hang == HangInfo(
        pending_message_id="user-1", waited_ms=5000, threshold_ms=5000, stage="llm"
    )
    assert sink.events[-1].timestamp == 1_772_702_479_627 + 5000


def test_two_quick_user_turns_leave_one_timer_for_the_latest() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(3000)
    session.user_turn_finalised("Are you there?")
    assert scheduler.pending == 1
    scheduler.advance(4999)  # 7999 ms after user-1, 4999 after user-2
    assert _hangs(sink.events) == []
    scheduler.advance(1)
    (hang,) = _hangs(sink.events)
    assert hang.pending_message_id == "user-2"
    assert hang.waited_ms == 5000


def test_a_late_response_after_a_hang_carries_the_total_wait() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(6000)
    session.response_started()
    scheduler.advance(1300)
    session.response_audio_started("Sorry for the wait.", tts=TtsMetrics(audio_duration_ms=900))
    message = _last_message(sink)
    assert isinstance(message.metrics, MessageMetrics)
    assert message.metrics.hang is not None
    assert message.metrics.hang.waited_ms == 7300  # type: ignore[union-attr]
    assert len(_hangs(sink.events)) == 1


def test_a_response_in_time_carries_no_hang_metrics() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(1200)
    session.response_audio_started("Hi!")
    message = _last_message(sink)
    assert isinstance(message.metrics, MessageMetrics)
    assert message.metrics.hang is UNSET


def test_a_hang_then_an_llm_error_emits_both_in_that_order() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(5200)
    session.llm_failed("service_unavailable", "upstream 503", retryable=True)
    scheduler.advance(30_000)
    assert types(sink)[-2:] == ["hang", "error"]
    assert len(_hangs(sink.events)) == 1
    assert session.ledger.llm_errors == 1


def test_no_hang_fires_after_the_call_ended() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(1000)
    session.ended("user")
    scheduler.advance(60_000)
    assert _hangs(sink.events) == []
    assert types(sink)[-2:] == ["status-update", "end-of-call-report"]
    assert scheduler.pending == 0


def test_the_stage_is_tts_once_the_llm_has_started_answering() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(2000)
    session.response_started()
    scheduler.advance(3000)
    (hang,) = _hangs(sink.events)
    assert hang.stage == "tts"


def test_the_threshold_is_configurable_per_assistant() -> None:
    assistant = make_assistant()
    config = EngineConfig(hang_thresholds={str(assistant.id): 2000})
    session, scheduler, sink = make_session(assistant, config=config)
    session.user_turn_finalised("Hello")
    scheduler.advance(1999)
    assert _hangs(sink.events) == []
    scheduler.advance(1)
    (hang,) = _hangs(sink.events)
    assert (hang.threshold_ms, hang.waited_ms) == (2000, 2000)


class _LateScheduler(FakeScheduler):
    """Timers run ``lag_ms`` after they are due, like a busy event loop."""

    lag_ms = 200.0

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
        return super().call_later(delay_ms + self.lag_ms, callback)


def test_a_response_after_the_deadline_counts_as_a_hang_even_before_a_late_timer_runs() -> None:
    from callhook.engine import CallSession, ListSink
    from tests.engine.helpers import make_params

    scheduler = _LateScheduler()
    sink = ListSink()
    session = CallSession(make_assistant(), make_params(), scheduler=scheduler, sink=sink)
    session.initiated()
    session.answered()
    session.user_turn_finalised("Hello")
    scheduler.advance(5050)  # past the deadline; the late timer has not run
    session.response_audio_started("Here I am.")
    scheduler.advance(10_000)
    (hang,) = _hangs(sink.events)
    assert hang.waited_ms == 5050
    message = _last_message(sink)
    assert message.metrics.hang.waited_ms == 5050  # type: ignore[union-attr]


def test_an_early_timer_is_rearmed_for_the_rest_of_the_threshold() -> None:
    class Early(FakeScheduler):
        def call_later(self, delay_ms: float, callback: Callable[[], None]) -> TimerHandle:
            return super().call_later(delay_ms - 3 if delay_ms > 3 else delay_ms, callback)

    from callhook.engine import CallSession, ListSink
    from tests.engine.helpers import make_params

    scheduler = Early()
    sink = ListSink()
    session = CallSession(make_assistant(), make_params(), scheduler=scheduler, sink=sink)
    session.initiated()
    session.answered()
    session.user_turn_finalised("Hello")
    scheduler.advance(4999)
    assert _hangs(sink.events) == []
    scheduler.advance(1)
    assert [h.waited_ms for h in _hangs(sink.events)] == [5000]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 9000)), min_size=1, max_size=6))
def test_a_turn_hangs_exactly_when_its_response_comes_at_or_after_the_threshold(
    delays: list[int | None],
) -> None:
    """None is a turn never answered; every emitted event still decodes."""
    session, scheduler, sink = make_session()
    expected = []
    for number, delay in enumerate(delays, start=1):
        session.user_turn_finalised(f"Turn {number}")
        if delay is None:
            scheduler.advance(7000)
            expected.append(f"user-{number}")
            continue
        scheduler.advance(delay)
        session.response_audio_started("Answer.", tts=TtsMetrics(audio_duration_ms=300))
        scheduler.advance(300)
        session.response_finished()
        if delay >= 5000:
            expected.append(f"user-{number}")
    session.ended("user")
    assert [h.pending_message_id for h in _hangs(sink.events)] == expected
    for envelope in sink.envelopes:
        assert events.decode(events.encode(envelope)) == envelope


def test_a_barge_in_before_the_response_plays_keeps_the_hang_timer() -> None:
    """SPEC §2: only a response starting to play cancels the timer (issue 21 item 11)."""
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(1000)
    session.response_started(text="Hi! How")
    scheduler.advance(1000)
    assert session.user_barged_in() is True
    scheduler.advance(8000)
    (hang,) = _hangs(sink.events)
    assert (hang.pending_message_id, hang.waited_ms) == ("user-1", 5000)
    assert hang.stage == "llm"  # the interrupted response is gone; none is being answered


def test_after_a_barge_in_before_playback_the_same_turn_can_still_be_answered() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(1000)
    session.response_started()
    scheduler.advance(500)
    session.user_barged_in()
    scheduler.advance(5000)
    session.response_started()
    scheduler.advance(500)
    session.response_audio_started("Sorry, go on.")
    message = _last_message(sink)
    assert message.metrics.hang.waited_ms == 7000  # type: ignore[union-attr]
    assert len(_hangs(sink.events)) == 1
    assert scheduler.pending == 0


def test_a_new_user_message_after_a_barge_in_restarts_the_timer_for_it() -> None:
    session, scheduler, sink = make_session()
    session.user_turn_finalised("Hello")
    scheduler.advance(1000)
    session.response_started()
    scheduler.advance(1000)
    session.user_barged_in()
    scheduler.advance(1000)
    session.user_turn_finalised("Can you hear me?")
    scheduler.advance(4999)
    assert _hangs(sink.events) == []
    scheduler.advance(1)
    (hang,) = _hangs(sink.events)
    assert (hang.pending_message_id, hang.waited_ms) == ("user-2", 5000)
