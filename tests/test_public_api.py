"""The public names of each package are exactly the intended ones."""

from __future__ import annotations

import callhook
import callhook.events
import callhook.export
import callhook.receiver
import callhook.redaction
import callhook.store


def test_callhook_exports() -> None:
    assert callhook.__all__ == [
        "CallhookError",
        "ConfigError",
        "DecodeError",
        "StorageError",
        "VerificationError",
        "__version__",
    ]


def test_store_exports_are_sorted_and_exact() -> None:
    names = callhook.store.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert names == [
        "DAY_MS",
        "DEFAULT_MAX_DEPTH",
        "DEFAULT_URL",
        "EXPORT_TABLES",
        "LATENCY_STAGES",
        "STATUS_RANK",
        "CallFilter",
        "CallState",
        "CommitHook",
        "Cutoffs",
        "Erased",
        "ExportColumn",
        "ExportPage",
        "Incoming",
        "InvalidCursor",
        "Outcome",
        "Page",
        "PurgeStep",
        "Purger",
        "SeriesFilter",
        "Store",
        "Writer",
        "alert_rows",
        "count_calls",
        "dimensions",
        "erase_calls",
        "erase_user_number",
        "export_pages",
        "first_call_since",
        "get_call",
        "get_sentiment",
        "head_revision",
        "latency_series",
        "list_alerts",
        "list_calls",
        "list_erasures",
        "list_errors",
        "list_events",
        "list_hang_impacts",
        "list_hangs",
        "list_messages",
        "list_unattributed",
        "live_figures",
        "make_engine",
        "merge",
        "metadata",
        "normalize_url",
        "overview",
        "parse_event",
        "pattern_inputs",
        "purge",
        "rate_series",
        "remove_calls",
        "save_alerts",
        "save_hang_impacts",
        "save_sentiment",
        "upgrade",
        "write_transaction",
    ]
    for name in names:
        assert getattr(callhook.store, name) is not None


def test_receiver_exports_are_sorted_and_exact() -> None:
    assert callhook.receiver.__all__ == [
        "AuthMiddleware",
        "AuthMode",
        "IngestListener",
        "LimitsMiddleware",
        "LiveBus",
        "PlatformEndpoint",
        "ReceiverApp",
        "ReceiverConfig",
        "ReceiverMetrics",
        "RetentionConfig",
        "RetentionTask",
        "create_app",
        "load_config",
        "serve",
    ]
    for name in callhook.receiver.__all__:
        assert getattr(callhook.receiver, name) is not None


def test_events_exports_are_sorted_and_exact() -> None:
    names = callhook.events.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert set(names) == {
        "EVENT_CLASSES",
        "REDACTED",
        "SECRET_KEYS",
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
        "json_schema",
        "parse_message_id",
        "redact_server",
        "unknown_keys",
        "user_message_id",
        "welcome_message_id",
    }
    for name in names:
        assert getattr(callhook.events, name) is not None


def test_monitor_exports_are_sorted_and_exact() -> None:
    import callhook.monitor

    names = callhook.monitor.__all__
    assert names == sorted(names)
    assert names == [
        "Alert",
        "AlertSink",
        "AlertSinkError",
        "AlertState",
        "AlertStore",
        "CallRecord",
        "CallSentiment",
        "Condition",
        "Dimension",
        "EmailSink",
        "EmailSinkConfig",
        "EventRuleConfig",
        "HangImpact",
        "HangOutcome",
        "ImpactConfig",
        "InMemoryAlertStore",
        "IncidentKind",
        "IncidentRecord",
        "LogSink",
        "LogSinkConfig",
        "Monitor",
        "MonitorClosedError",
        "MonitorConfig",
        "MonitorConfigError",
        "MonitorCore",
        "MonitorHistory",
        "MonitorProcess",
        "MonitorProcessError",
        "MonitorProcessStats",
        "MonitorStats",
        "Notice",
        "NoticeKind",
        "Outcome",
        "PatternRow",
        "RemediationConfig",
        "RemediationError",
        "Remediator",
        "RuleConfig",
        "RuleId",
        "RulesConfig",
        "SayAction",
        "SentimentPoint",
        "SentimentScorer",
        "Severity",
        "SinkConfig",
        "SqlAlertStore",
        "StaleCallsConfig",
        "WebhookAction",
        "WebhookSink",
        "WebhookSinkConfig",
        "analyze_patterns",
        "build_sinks",
        "length_band",
        "load_config",
        "notice_json",
        "stored_patterns",
    ]
    for name in names:
        assert getattr(callhook.monitor, name) is not None


def test_monitor_errors_are_callhook_errors() -> None:
    import callhook.monitor as m

    for error in (
        m.AlertSinkError,
        m.MonitorClosedError,
        m.MonitorConfigError,
        m.MonitorProcessError,
        m.RemediationError,
    ):
        assert issubclass(error, callhook.CallhookError)


def test_engine_exports_are_sorted_and_exact() -> None:
    import callhook.engine

    names = callhook.engine.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert names == [
        "REDACTED",
        "AnalysisInput",
        "Analyzer",
        "AsyncioScheduler",
        "CallParams",
        "CallSession",
        "ChatCompletionsAnalyzer",
        "EndTrigger",
        "EngineConfig",
        "EngineError",
        "EventSink",
        "FakeScheduler",
        "ListSink",
        "OfflineAnalyzer",
        "Prices",
        "Scheduler",
        "Segment",
        "TimerHandle",
        "render_variables",
    ]
    for name in names:
        assert getattr(callhook.engine, name) is not None


def test_delivery_exports_are_sorted_and_exact() -> None:
    import callhook.delivery

    names = callhook.delivery.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert names == [
        "ATTEMPT_HEADER",
        "DEFAULT_SCHEDULE",
        "DEFAULT_TIMEOUT_SECONDS",
        "DELIVERY_COLUMNS",
        "METADATA",
        "REDACTED",
        "SECRET_HEADER",
        "SEQUENCE_HEADER",
        "AiohttpTransport",
        "AttemptRecord",
        "Clock",
        "DeliveryConfigError",
        "DeliveryError",
        "DeliveryRecord",
        "Dispatcher",
        "Enqueuer",
        "NewRow",
        "OutboxStats",
        "Outcome",
        "Placeholders",
        "Reply",
        "RetryPolicy",
        "SendFailure",
        "ServerConfig",
        "ServerResolver",
        "SystemClock",
        "Transport",
        "classify",
        "create_outbox_tables",
        "drop_outbox_tables",
        "encode_body",
        "list_attempts",
        "list_deliveries",
        "open_outbox",
        "outbox_stats",
        "parse_retry_after",
        "replay",
        "requeue",
        "safe_url",
        "servers_by_assistant",
    ]
    for name in names:
        assert getattr(callhook.delivery, name) is not None


def test_sim_exports_are_sorted_and_exact() -> None:
    import callhook.sim

    names = callhook.sim.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert set(names) == {
        "DEFAULT_PROFILE", "DELIVERY_TIMEOUT_S", "SCENARIOS", "AssistantProfile", "CallDriver",
        "CallPlan", "PlatformSender", "RetellRenderer", "SimFormat", "VapiRenderer",
        "CallShape", "CountingSink", "Dialogue", "Latency", "LatencyProfile", "Profile",
        "ProfileError", "Rates", "Scenario", "ScaledScheduler", "SimulationReport",
        "SimulationResult", "TurnPlan", "build_assistant", "delivery_server", "demo_profile",
        "load_profile",
        "pick_dialogue", "plan_call", "plan_calls", "run_demo", "run_simulation",
        "running_server", "simulate", "summary_table",
    }  # fmt: skip


def test_redaction_exports_are_exact() -> None:
    assert callhook.redaction.__all__ == ["ENTITIES", "NumberMode", "RedactionConfig", "Redactor"]


def test_export_exports_are_exact() -> None:
    assert callhook.export.__all__ == ["TABLES", "ExportResult", "Format", "count_calls", "export"]


def test_platforms_exports_are_sorted_and_exact() -> None:
    import callhook.platforms

    names = callhook.platforms.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.islower(), n))
    assert names == [
        "DEFAULT_HANG_THRESHOLD_MS",
        "TOLERANCE_MS",
        "Normalized",
        "Platform",
        "check_retell",
        "check_vapi_hmac",
        "check_vapi_token",
        "normalize_retell",
        "normalize_vapi",
        "sign_retell",
        "sign_vapi_hmac",
    ]
