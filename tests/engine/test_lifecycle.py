"""``CallSession`` status changes, the end of a call and its report (``_lifecycle``)."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from callhook import events
from callhook.engine import (
    AnalysisInput,
    CallSession,
    EngineConfig,
    EngineError,
    FakeScheduler,
    ListSink,
)
from callhook.events import (
    Analysis,
    AssistantOverrides,
    Call,
    EndOfCallReport,
    Recording,
    StatusUpdate,
)
from tests.engine.helpers import (
    START_MS,
    make_assistant,
    make_params,
    make_session,
    statuses,
    types,
)

# -- lifecycle ---------------------------------------------------------------------------


def test_a_call_goes_initiated_queued_ongoing_forwarded_finished() -> None:
    session, scheduler, sink = make_session(answered=False)
    session.initiated()
    session.queued()
    scheduler.advance(400)
    session.answered()
    session.forwarded()
    session.ended("bot")
    assert statuses(sink) == ["initiated", "queued", "ongoing", "forwarded", "finished"]
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
    assert statuses(sink) == ["initiated", "failed"]
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
    assert statuses(sink).count("finished") == 1
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
