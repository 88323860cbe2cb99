"""Vapi server messages → callhook events (``normalize_vapi``), on the repository's samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callhook import events
from callhook._exceptions import DecodeError
from callhook.platforms import normalize_vapi
from callhook.store import parse_event
from tests.platforms.samples import sample, sample_names


def _events(name: str) -> list[dict[str, Any]]:
    return [json.loads(body)["message"] for body in normalize_vapi(sample("vapi", name)).events]


@pytest.mark.parametrize("name", sample_names("vapi"))
def test_every_sample_gives_valid_callhook_events_the_same_each_time(name: str) -> None:
    first = normalize_vapi(sample("vapi", name))
    assert first == normalize_vapi(sample("vapi", name))  # byte for byte: re-sends dedupe
    for body in first.events:
        events.decode(body)
        incoming = parse_event(body, received_at=0)
        assert incoming.call_id == "3f1c2a7e-5b8d-4e21-9c4a-7d2e9b1f0a55"


@pytest.mark.parametrize("name", ["speech-update", "transcript", "user-interrupted"])
def test_types_without_a_counterpart_give_no_event(name: str) -> None:
    normalized = normalize_vapi(sample("vapi", name))
    assert (normalized.native_type, normalized.events) == (name, ())


@pytest.mark.parametrize(
    ("name", "status", "native"),
    [
        ("status-update.queued", "queued", "queued"),
        ("status-update.in-progress", "ongoing", "in-progress"),
        ("status-update.ended", "finished", "ended"),
    ],
)
def test_statuses_map_to_the_lifecycle_keeping_the_native_one(
    name: str, status: str, native: str
) -> None:
    (event,) = _events(name)
    assert (event["type"], event["call"]["status"]) == ("status-update", status)
    assert event["call"]["platformStatus"] == native
    assert event["call"]["platform"] == "vapi"
    assert "messages" not in event


def test_an_ended_call_that_never_started_failed() -> None:
    body = json.loads(sample("vapi", "status-update.ended"))
    del body["message"]["call"]["startedAt"]
    (normalized,) = normalize_vapi(json.dumps(body).encode()).events
    assert json.loads(normalized)["message"]["call"]["status"] == "failed"


def test_conversation_messages_get_ids_from_role_and_time_without_system_or_tools() -> None:
    (event,) = _events("conversation-update")
    assert [(m["messageId"], m["role"]) for m in event["messages"]] == [
        ("vapi-assistant-1764662400820", "assistant"),
        ("vapi-user-1764662405200", "user"),
        ("vapi-assistant-1764662408900", "assistant"),
        ("vapi-user-1764662413100", "user"),
    ]
    user = event["messages"][1]
    assert user["text"] == "Hi, I'd like to book a cleaning next week."
    assert user["timestamp"] == 1764662405200
    assert user["metrics"] == {
        "timeline": {"totalElapsedTimeMs": 5200},
        "stt": {"startOffsetMs": 5200, "endOffsetMs": 7650, "durationMs": 2450},
    }
    # The same message in the report (artifact.messages) is byte-identical.
    (report,) = _events("end-of-call-report")
    assert report["messages"][:4] == event["messages"]


def test_a_hang_names_the_last_user_message() -> None:
    (event,) = _events("hang")
    assert event["hang"] == {"pendingMessageId": "vapi-user-1764662413100", "stage": "unknown"}
    assert event["messages"][-1]["messageId"] == "vapi-user-1764662413100"


def test_the_report_maps_reason_cost_analysis_recording_and_turn_latencies() -> None:
    (event,) = _events("end-of-call-report")
    call = event["call"]
    assert (call["status"], call["callEndTriggerBy"]) == ("finished", "user")
    assert call["phoneCallStatusReason"] == "customer-ended-call"
    assert (call["startAt"], call["endAt"]) == (
        "2025-12-02T08:00:00.000Z",
        "2025-12-02T08:01:01.250Z",
    )
    assert call["assistantCallDuration"] == 61_250
    cost = call["cost"]
    assert cost["phoneCost"] == 0.0133 and cost["interactlyCost"] == 0.05
    parts = ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost")
    assert cost["totalCost"] == pytest.approx(sum(cost[k] for k in parts))
    assert cost["analysis"] == {"total": pytest.approx(0.0028)}
    assert (cost["inputTokensTotal"], cost["outputTokensTotal"]) == (2150, 96)
    assert call["recording"]["url"].endswith("3f1c2a7e-mono.wav")
    stats = call["metrics"]["callStats"]
    assert stats["turnsStats"]["botResponseTime"] == [1250, 7100, 900]
    assert stats["turnsStats"]["bargeInCount"] == 1
    second = stats["turnsStats"]["replyLatencies"][1]
    assert second == {
        "userMessageId": "vapi-user-1764662413100",
        "messageId": "vapi-assistant-1764662421700",
        "turnLatencyMs": 7100,
        "modelLatencyMs": 980,
        "voiceLatencyMs": 260,
        "transcriberLatencyMs": 170,
        "endpointingLatencyMs": 400,
    }
    assert event["analysis"]["summary"].startswith("Dana booked")
    assert event["analysis"]["successEvaluation"] == "true"
    assert event["assistant"]["assistantProvider"] == "openai"
    assert event["assistant"]["assistantModel"] == "gpt-4o-mini"


def test_unmatched_turn_latencies_stay_call_level_only() -> None:
    body = json.loads(sample("vapi", "end-of-call-report"))
    body["message"]["artifact"]["performanceMetrics"]["turnLatencies"].pop()
    (normalized,) = normalize_vapi(json.dumps(body).encode()).events
    stats = json.loads(normalized)["message"]["call"]["metrics"]["callStats"]
    assert stats["turnsStats"]["replyLatencies"] == []
    assert stats["turnsStats"]["botResponseTime"] == [1250, 7100]


def test_what_has_no_counterpart_is_kept_without_credentials_or_presigned_urls() -> None:
    (event,) = _events("end-of-call-report")
    kept = event["platform"]
    assert (kept["name"], kept["type"]) == ("vapi", "end-of-call-report")
    assert kept["event"]["artifact"]["logUrl"].endswith("3f1c2a7e.log")
    assert kept["event"]["call"]["phoneCallProviderId"].startswith("CA")
    text = json.dumps(kept)
    assert "presigned" not in text and "twilioAccountSid" not in text and "server" not in text


@pytest.mark.parametrize(
    ("body", "reason", "path"),
    [
        (b"[1]", "Expected `object`, got `array`", "$"),
        (b'{"message": 1}', "Expected `object`, got `int`", "$.message"),
        (b'{"message": {}}', "missing required field `type`", "$.message"),
        (
            b'{"message": {"type": "hang", "call": {"id": 5}}}',
            "Expected `str`, got `int`",
            "$.message.call.id",
        ),
        (
            b'{"message": {"type": "conversation-update", "messages": [{"role": "user", '
            b'"time": "soon"}]}}',
            "Expected `int | float`, got `str`",
            "$.message.messages[0].time",
        ),
    ],
)
def test_a_body_that_is_no_vapi_message_is_refused_with_its_path(
    body: bytes, reason: str, path: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        normalize_vapi(body)
    assert reason in caught.value.reason
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("reason", "kind", "provider"),
    [
        ("pipeline-error-openai-llm-failed", "llm_error", "openai"),
        ("call.in-progress.error-providerfault-azure-openai-500-server-error", "llm_error",
         "azure-openai"),
        ("call.in-progress.error-vapifault-deepgram-transcriber-failed", "stt_error", "deepgram"),
        ("pipeline-error-deepgram-returning-401-invalid-credentials", "stt_error", "deepgram"),
        ("pipeline-error-eleven-labs-voice-failed", None, None),
        ("pipeline-error-playht-429-exceeded-quota", None, None),
        ("customer-ended-call", None, None),
    ],
)  # fmt: skip
def test_a_report_ended_by_an_llm_or_stt_failure_also_gives_an_error_event(
    reason: str, kind: str | None, provider: str | None
) -> None:
    body = json.loads(sample("vapi", "end-of-call-report"))
    body["message"]["endedReason"] = reason
    found = [json.loads(e)["message"] for e in normalize_vapi(json.dumps(body).encode()).events]
    assert found[-1]["type"] == "end-of-call-report"
    if kind is None:
        assert len(found) == 1
        return
    error, report = found
    assert error["type"] == "error"
    assert error["error"]["type"] == kind and error["error"]["provider"] == provider
    assert error["error"]["code"] == reason
    assert error["timestamp"] == 1764662461250  # the call's end
    assert error["messages"] == report["messages"]
    events.decode(json.dumps({"message": error}).encode())
