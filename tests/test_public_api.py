"""The public names of each package are exactly the intended ones."""

from __future__ import annotations

import callhook
import callhook.events


def test_callhook_exports() -> None:
    assert callhook.__all__ == ["CallhookError", "DecodeError", "__version__"]


def test_events_exports_are_sorted_and_exact() -> None:
    names = callhook.events.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert set(names) == {
        "EVENT_CLASSES",
        "UNSET",
        "Analysis",
        "AnalysisTask",
        "Assistant",
        "AssistantAnalysis",
        "AssistantOverrides",
        "AssistantServer",
        "AudioMetrics",
        "BotTurn",
        "Call",
        "CallAnalysis",
        "CallMetrics",
        "CallStats",
        "ConversationUpdate",
        "Cost",
        "CostAnalysis",
        "Customer",
        "EndOfCallReport",
        "Envelope",
        "EouMetrics",
        "ErrorEvent",
        "ErrorInfo",
        "Event",
        "EventType",
        "HangEvent",
        "HangInfo",
        "HangMetrics",
        "LatencyInterval",
        "LazyEvent",
        "LlmMetrics",
        "LlmStats",
        "Message",
        "MessageIdInfo",
        "MessageKind",
        "MessageMetrics",
        "Monitor",
        "Phone",
        "PhoneProvider",
        "PlayerMetrics",
        "RawMessage",
        "Recording",
        "SkippedMessage",
        "SpeechConfig",
        "StatusUpdate",
        "SttConfig",
        "SttMetrics",
        "SttStats",
        "TimelineMetrics",
        "TtsConfig",
        "TtsMetrics",
        "TtsStats",
        "TurnCounts",
        "TurnsStats",
        "UnsetType",
        "UserAudioStats",
        "UserTurn",
        "VoiceConfig",
        "WireModel",
        "assistant_message_id",
        "decode",
        "decode_lazy",
        "decode_message",
        "encode",
        "extra_fields",
        "json_schema",
        "parse_message_id",
        "user_message_id",
        "welcome_message_id",
    }
    for name in names:
        assert getattr(callhook.events, name) is not None


def test_delivery_exports_are_sorted_and_exact() -> None:
    import callhook.delivery

    names = callhook.delivery.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert names == [
        "ATTEMPT_HEADER",
        "DEFAULT_DB_URL",
        "DEFAULT_SCHEDULE",
        "DEFAULT_TIMEOUT_SECONDS",
        "METADATA",
        "REDACTED",
        "SECRET_HEADER",
        "SEQUENCE_HEADER",
        "AttemptRecord",
        "Clock",
        "DeliveryConfigError",
        "DeliveryError",
        "DeliveryRecord",
        "Dispatcher",
        "Http11Transport",
        "Outcome",
        "RetryPolicy",
        "ServerConfig",
        "ServerResolver",
        "SystemClock",
        "classify",
        "create_outbox_tables",
        "drop_outbox_tables",
        "encode_body",
        "list_attempts",
        "list_deliveries",
        "make_engine",
        "open_outbox",
        "parse_retry_after",
        "replay",
        "safe_url",
        "servers_by_assistant",
    ]
    for name in names:
        assert getattr(callhook.delivery, name) is not None
