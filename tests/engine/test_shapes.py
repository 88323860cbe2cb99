"""A scripted call emits events whose keys match the sample payloads (the published shapes)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from callhook import events
from callhook.engine import CallSession, FakeScheduler, ListSink
from callhook.events import AudioMetrics, EouMetrics, SttMetrics, TtsMetrics
from tests.conftest import sample_path
from tests.engine.helpers import START_MS, as_json, key_problems, make_params

# Content that is free-form or differs between the captures of one call.
FREE = frozenset(
    {
        "$.message.call.metadata",
        "$.message.call.assistantOverrides",
        "$.message.error.details",
    }
)


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sample_path(name).read_bytes())
    return data


def _scripted_call() -> tuple[CallSession, ListSink]:
    """welcome, a user turn that hangs, an LLM error, the late answer, a second exchange, bye."""
    assistant = events.decode(sample_path("status-update.full.json").read_bytes()).message
    assert isinstance(assistant.assistant, events.Assistant)
    scheduler = FakeScheduler(START_MS)
    sink = ListSink()
    session = CallSession(
        assistant.assistant,
        make_params(),
        scheduler=scheduler,
        sink=sink,
        rng=random.Random(3),
    )
    session.initiated()
    session.queued()
    scheduler.advance(436)
    session.answered()
    scheduler.advance(223)
    session.welcome_played(
        tts=TtsMetrics(audio_duration_ms=1442, generation_time_ms=7, is_cache_playing=True),
        player_wait_ms=7,
    )
    scheduler.advance(3638)
    full_user = dict(
        stt=SttMetrics(confidence=0.74, vad_ms=520),
        audio=AudioMetrics(delayed_packets_per_turn_count=12, audio_delay_per_turn_ms=194),
        eou=EouMetrics(turn_detection_time_ms=1000),
    )
    session.user_turn_finalised(
        "Hello, my name is Ramesh Naik.", speech_started_at=START_MS + 436, **full_user
    )
    scheduler.advance(5000)  # hang
    session.llm_failed(
        "rate_limit_exceeded", "Rate limit exceeded", retryable=True, details={"limit": 100}
    )
    scheduler.advance(1000)
    session.response_started()
    scheduler.advance(350)
    session.response_audio_started(
        "Hi Ramesh! How can I help?",
        tts=TtsMetrics(audio_duration_ms=2100, generation_time_ms=350),
        input_tokens=485,
        output_tokens=32,
    )
    scheduler.advance(2100)
    session.response_finished()
    scheduler.advance(3000)
    session.user_turn_finalised("My phone number is 7706258801.", **full_user)
    scheduler.advance(2500)
    session.response_started()
    scheduler.advance(300)
    session.response_audio_started("Thanks!", tts=TtsMetrics(audio_duration_ms=900))
    scheduler.advance(900)
    session.response_finished()
    scheduler.advance(2000)
    session.user_turn_finalised("Thanks, see you soon.", **full_user)  # an end-call phrase
    return session, sink


@pytest.fixture(scope="module")
def emitted() -> list[dict[str, Any]]:
    _, sink = _scripted_call()
    return [as_json(envelope) for envelope in sink.envelopes]


def test_the_scripted_call_emits_the_events_in_spec_order(emitted: list[dict[str, Any]]) -> None:
    kinds = [(e["message"]["type"], e["message"]["call"]["status"]) for e in emitted]
    assert kinds == [
        ("status-update", "initiated"),
        ("status-update", "queued"),
        ("status-update", "ongoing"),
        ("conversation-update", "ongoing"),  # welcome-1
        ("conversation-update", "ongoing"),  # user-1
        ("hang", "ongoing"),
        ("error", "ongoing"),
        ("conversation-update", "ongoing"),  # late answer to user-1
        ("conversation-update", "ongoing"),  # user-2
        ("conversation-update", "ongoing"),  # answer to user-2
        ("conversation-update", "ongoing"),  # user-3: see you soon
        ("status-update", "finished"),
        ("end-of-call-report", "finished"),
    ]


def test_status_updates_have_the_keys_of_the_published_status_update(
    emitted: list[dict[str, Any]],
) -> None:
    fixture = _fixture("status-update.full.json")
    statuses = [e for e in emitted if e["message"]["type"] == "status-update"]
    for event in statuses[:-1]:
        assert key_problems(event, fixture, free=FREE) == []
    # SPEC §3: endAt is absent until the end.
    finished = {"$.message.call": {"endAt"}}
    assert key_problems(statuses[-1], fixture, free=FREE, extensions=finished) == []


def test_conversation_updates_have_the_keys_of_the_published_one(
    emitted: list[dict[str, Any]],
) -> None:
    fixture = _fixture("conversation-update.full.json")
    updates = [e for e in emitted if e["message"]["type"] == "conversation-update"]
    late = {"$.message.messages[].metrics": {"hang"}}  # callhook extension on a late answer
    for event in updates:
        assert key_problems(event, fixture, free=FREE, extensions=late) == []
    assert [m["messageId"] for m in updates[-1]["message"]["messages"]][:3] == [
        "welcome-1",
        "user-1",
        updates[2]["message"]["messages"][2]["messageId"],
    ]


def test_the_hang_event_has_the_keys_of_the_published_hang(emitted: list[dict[str, Any]]) -> None:
    (hang,) = [e for e in emitted if e["message"]["type"] == "hang"]
    extension = {"$.message": {"hang"}}
    assert key_problems(hang, _fixture("hang.full.json"), free=FREE, extensions=extension) == []


def test_the_error_event_has_the_keys_of_the_published_error(
    emitted: list[dict[str, Any]],
) -> None:
    (error,) = [e for e in emitted if e["message"]["type"] == "error"]
    assert key_problems(error, _fixture("error.full.json"), free=FREE) == []


def test_the_report_has_the_keys_of_the_published_report(emitted: list[dict[str, Any]]) -> None:
    report = emitted[-1]
    fixture = _fixture("end-of-call-report.full.json")
    assert key_problems(report, fixture, free=FREE) == []


def test_the_comparison_catches_a_missing_key() -> None:
    """Guard for the helper itself: a dropped nested key is reported with its path."""
    ours = {"message": {"call": {"id": "x"}, "messages": [{"messageId": "user-1"}]}}
    theirs = {
        "message": {
            "call": {"id": "y", "cost": {}},
            "messages": [{"messageId": "user-2", "role": "user"}],
        }
    }
    assert sorted(key_problems(ours, theirs)) == [
        "$.message.call: extra [], missing ['cost']",
        "$.message.messages[]: extra [], missing ['role']",
    ]
