"""``CallSession``'s own methods and what every event carries: secrets, failures, audio health."""

from __future__ import annotations

from callhook.engine import (
    REDACTED,
    EngineConfig,
)
from callhook.events import (
    UNSET,
    AssistantServer,
    AudioMetrics,
    ErrorInfo,
    SpeechConfig,
    SttConfig,
    VoiceConfig,
)
from tests.engine.helpers import (
    START_MS,
    make_assistant,
    make_session,
    updates,
)

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
    first, second = (u.messages[-1].metrics.audio for u in updates(sink))  # type: ignore[index, union-attr]
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
    stt = updates(sink)[-1].messages[-1].metrics.stt  # type: ignore[index, union-attr]
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
    last = updates(sink)[-1].messages[-1]  # type: ignore[index]
    assert (last.message_id, last.timestamp) == ("user-2", START_MS + 2000)
    session.response_started()  # the new turn can be answered
