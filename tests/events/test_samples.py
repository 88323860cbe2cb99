"""Every sample payload decodes with its right type and round-trips to equal JSON."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from callhook import events
from tests.conftest import REPO, sample_files, sample_params, sample_path


def _expected_type(path: Path) -> str:
    return path.name.split(".", 1)[0]


@pytest.mark.parametrize("path", sample_params())
def test_sample_decodes_with_its_type(path: Path) -> None:
    event = events.decode(path.read_bytes()).message
    assert event.type == _expected_type(path)
    assert type(event) is events.EVENT_CLASSES[events.EventType(_expected_type(path))]


@pytest.mark.parametrize("path", sample_params())
def test_sample_round_trips_to_equal_json(path: Path) -> None:
    data = path.read_bytes()
    assert json.loads(events.encode(events.decode(data))) == json.loads(data)


@pytest.mark.parametrize("path", sample_params())
def test_lazy_decode_yields_the_same_messages(path: Path) -> None:
    data = path.read_bytes()
    full = events.decode(data).message
    lazy = events.decode_lazy(data)
    assert lazy.type == full.type
    assert lazy.timestamp == full.timestamp
    assert lazy.call == (full.call or None)
    full_messages = getattr(full, "messages", None) or []
    lazy_messages = lazy.messages or []
    assert [m.message_id for m in lazy_messages] == [m.message_id for m in full_messages]
    decoded = [events.decode_message(m.raw) for m in lazy_messages]
    assert decoded == full_messages
    assert [json.loads(bytes(m.raw)) for m in lazy_messages] == json.loads(data)["message"].get(
        "messages", []
    )


@pytest.mark.parametrize("path", sample_params())
def test_lazy_decode_keeps_other_objects_raw(path: Path) -> None:
    data = path.read_bytes()
    body = json.loads(data)["message"]
    lazy = events.decode_lazy(data)
    for key in ("assistant", "analysis", "error", "phone", "customer"):
        raw = getattr(lazy, key)
        if body.get(key) is None:
            assert raw is None
        else:
            assert msgspec.json.decode(raw) == body[key]


def test_typed_access_to_a_full_report() -> None:
    """The models expose the wire keys as typed snake_case attributes."""
    event = events.decode(sample_path("end-of-call-report.full.json").read_bytes()).message
    assert isinstance(event, events.EndOfCallReport)
    assert isinstance(event.call, events.Call)
    assert isinstance(event.call.cost, events.Cost)
    assert event.call.cost.call_duration == pytest.approx(38.866)
    assert isinstance(event.call.metrics, events.CallMetrics)
    stats = event.call.metrics.call_stats
    assert isinstance(stats, events.CallStats)
    assert isinstance(stats.turns_stats, events.TurnsStats)
    assert stats.turns_stats.bot_response_time == [3430, 1630]
    assert isinstance(stats.llm_stats, events.LlmStats)
    assert stats.llm_stats.response_time_distribution == {
        "0": 0,
        "100": 0,
        "300": 0,
        "600": 0,
        "1000": 1,
        "1500": 0,
        "2000": 1,
        "5000": 0,
        "10000": 0,
    }
    assert isinstance(event.analysis, events.Analysis)
    structured = {"Name": "Lena", "phone number": "", "serial_number": 0}
    assert event.analysis.structured_data == structured
    assert event.analysis.success_evaluation == "Good"


def test_typed_access_to_message_metrics() -> None:
    """Every metrics group decodes, including the oddly cased ``interactlyEOU``."""
    event = events.decode(sample_path("conversation-update.full.json").read_bytes()).message
    assert isinstance(event, events.ConversationUpdate)
    assert isinstance(event.messages, list)
    user = event.messages[1].metrics
    assert isinstance(user, events.MessageMetrics)
    assert isinstance(user.interactly_eou, events.EouMetrics)
    assert user.interactly_eou.turn_detection_time_ms == 800
    assert isinstance(user.audio, events.AudioMetrics)
    assert user.audio.delayed_packets_cumulative_count == -3
    assert isinstance(user.stt, events.SttMetrics)
    assert user.stt.confidence == pytest.approx(0.8912354)
    bot = event.messages[4]
    assert bot.message_id == "user-3-Kp4vT9qLzA-1778776341850"
    assert isinstance(bot.metrics, events.MessageMetrics)
    assert isinstance(bot.metrics.interactly_player, events.PlayerMetrics)
    assert bot.metrics.interactly_player.wait_time_ms == 291
    assert isinstance(bot.metrics.tts, events.TtsMetrics)
    assert bot.metrics.tts.is_cache_playing is False


def test_samples_cover_every_event_type_and_the_trimmed_variants() -> None:
    """All five events, plus a payload without ``call``, one with empty ``messages`` and one
    with ``assistant: {}`` (shapes real deliveries show)."""
    bodies = {p.name: json.loads(p.read_bytes())["message"] for p in sample_files()}
    assert {body["type"] for body in bodies.values()} == {t.value for t in events.EventType}
    assert [n for n, b in bodies.items() if "call" not in b]
    assert [n for n, b in bodies.items() if b.get("messages") == []]
    assert [n for n, b in bodies.items() if b.get("assistant") == {}]


def test_samples_stay_inside_the_repository() -> None:
    assert all(p.resolve().is_relative_to(REPO) for p in sample_files())
