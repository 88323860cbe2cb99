"""Retell webhooks → callhook events (``normalize_retell``), on the repository's samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callhook import events
from callhook._exceptions import DecodeError
from callhook.platforms import normalize_retell
from callhook.store import parse_event
from tests.platforms.samples import sample, sample_names

START = 1764666000000
CALL_ID = "call_6b1f0c2e9d8a47b3a5c4e2f1d0b9a8c7"


def _events(name: str, **options: Any) -> list[dict[str, Any]]:
    bodies = normalize_retell(sample("retell", name), **options).events
    return [json.loads(body)["message"] for body in bodies]


@pytest.mark.parametrize("name", sample_names("retell"))
def test_every_sample_gives_valid_callhook_events_the_same_each_time(name: str) -> None:
    first = normalize_retell(sample("retell", name))
    assert first == normalize_retell(sample("retell", name))
    for body in first.events:
        events.decode(body)
        assert parse_event(body, received_at=0).call_id == CALL_ID


def test_event_types_and_times() -> None:
    assert [(e["type"], e["timestamp"]) for e in _events("call_started")] == [
        ("status-update", START)
    ]
    assert [(e["type"], e["timestamp"]) for e in _events("transcript_updated")] == [
        ("conversation-update", START + 13_860)  # the end of its last word
    ]
    ended = [(e["type"], e["timestamp"]) for e in _events("call_ended")]
    assert ended == [
        ("conversation-update", START + 29_400),
        ("status-update", START + 29_400),
        ("hang", START + 13_860 + 5000),
        ("end-of-call-report", START + 29_400),
    ]
    analyzed = [(e["type"], e["timestamp"]) for e in _events("call_analyzed")]
    assert analyzed[-1] == ("end-of-call-report", START + 29_401)
    assert _events("transfer_started") == []


def test_utterances_become_messages_with_ids_from_role_and_first_word() -> None:
    (update,) = _events("transcript_updated")
    assert [m["messageId"] for m in update["messages"]] == [
        "retell-assistant-600",
        "retell-user-5100",
        "retell-assistant-8400",
        "retell-user-12300",
    ]
    user = update["messages"][1]
    assert user["timestamp"] == START + 5100
    assert user["metrics"]["stt"] == {
        "startOffsetMs": 5100,
        "endOffsetMs": 7620,
        "durationMs": 2520,
    }
    (ended, *_) = _events("call_ended")
    assert ended["messages"][:4] == update["messages"]  # identical in every event


def test_the_end_maps_status_trigger_cost_latency_and_analysis() -> None:
    *_, report = _events("call_analyzed")
    call = report["call"]
    assert (call["status"], call["platformStatus"]) == ("finished", "ended")
    assert (call["callEndTriggerBy"], call["phoneCallStatusReason"]) == ("user", "user_hangup")
    assert (call["userNumber"], call["assistantNumber"]) == ("+12125550147", "+12125550100")
    assert call["assistantCallDuration"] == 29_400
    cost = call["cost"]
    assert cost["totalCost"] == pytest.approx(0.1119)  # combined_cost is in cents
    assert cost["ttsVendorCost"] == pytest.approx(0.0572)
    assert cost["phoneCost"] == pytest.approx(0.0123)
    assert cost["llmVendorCost"] == pytest.approx(0.0016)
    parts = ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost")
    assert sum(cost[k] for k in parts) == pytest.approx(cost["totalCost"])
    stats = call["metrics"]["callStats"]
    assert stats["turnsStats"]["botResponseTime"] == [1100, 6180, 1620]
    assert stats["turnsStats"]["replyLatencies"][1] == {
        "userMessageId": "retell-user-12300",
        "messageId": "retell-assistant-20900",
        "e2eLatencyMs": 6180,
        "llmLatencyMs": 4200,
        "ttsLatencyMs": 310,
    }
    assert stats["latencyPercentiles"]["e2e"]["p95"] == 5830
    assert stats["llmStats"]["responseCount"] == 3
    assert report["analysis"] == {
        "summary": "Sam moved the Friday appointment to Monday at nine.",
        "successEvaluation": "true",
        "structuredData": {"new_day": "Monday", "new_time": "09:00"},
        "outcome": "",
        "userSentiment": "Positive",
        "inVoicemail": False,
    }
    assert report["assistant"] == {
        "_id": "agent_3e9a1b2c4d5f6a7b8c9d0e1f",
        "name": "Lakeside Clinic - reschedule line",
    }
    assert "transcript_object" not in report["platform"]["event"]
    assert report["platform"]["event"]["public_log_url"].endswith(".log")


def test_a_slow_turn_is_a_hang_of_its_user_message() -> None:
    hangs = [e for e in _events("call_ended") if e["type"] == "hang"]
    assert [h["hang"] for h in hangs] == [
        {
            "pendingMessageId": "retell-user-12300",
            "waitedMs": 6180,
            "thresholdMs": 5000,
            "stage": "unknown",
        }
    ]
    assert hangs[0]["messages"][-1]["messageId"] == "retell-user-12300"
    assert [e["type"] for e in _events("call_ended", hang_threshold_ms=7000)].count("hang") == 0


@pytest.mark.parametrize(
    ("reason", "status"),
    [("dial_no_answer", "failed"), ("agent_hangup", "finished"), ("error_asr", "finished")],
)
def test_calls_that_never_connected_failed(reason: str, status: str) -> None:
    body = json.loads(sample("retell", "call_ended"))
    body["call"]["disconnection_reason"] = reason
    found = normalize_retell(json.dumps(body).encode()).events
    assert json.loads(found[-1])["message"]["call"]["status"] == status


@pytest.mark.parametrize(
    ("body", "reason", "path"),
    [
        (b'{"call": {}}', "missing required field `event`", "$"),
        (b'{"event": "call_ended"}', "missing required field `call`", "$"),
        (b'{"event": "call_ended", "call": {"call_id": ""}}', "non-empty", "$.call.call_id"),
        (
            b'{"event": "call_ended", "call": {"call_id": "c", "start_timestamp": "x"}}',
            "Expected `int | float`, got `str`",
            "$.call.start_timestamp",
        ),
    ],
)
def test_a_body_that_is_no_retell_webhook_is_refused_with_its_path(
    body: bytes, reason: str, path: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        normalize_retell(body)
    assert reason in caught.value.reason
    assert caught.value.path == path
