"""Live monitoring of call events: sliding-window rules, alerts and their sinks, opt-in
remediation, hang recovery and user impact, sentiment, and pattern analysis (SPEC §5).

The receiver owns one ``Monitor`` (an async context manager) and calls
``monitor.observe(event, received_at_ms)`` for each event (decoded or ``LazyEvent``) after
acking it; ``callhook serve`` runs it in a child process by default (``MonitorProcess``, fed
the request bodies). ``SqlAlertStore`` keeps the alert history, hang impacts and sentiment scores in
the receiver's database; ``stored_patterns`` analyses the calls stored there.
"""

from callhook.monitor._alerts import (
    Alert,
    AlertState,
    AlertStore,
    Condition,
    InMemoryAlertStore,
    Notice,
    NoticeKind,
    RuleId,
    Severity,
)
from callhook.monitor._config import (
    EmailSinkConfig,
    EventRuleConfig,
    ImpactConfig,
    LogSinkConfig,
    MonitorConfig,
    MonitorConfigError,
    RemediationConfig,
    RuleConfig,
    RulesConfig,
    SinkConfig,
    StaleCallsConfig,
    WebhookSinkConfig,
    load_config,
)
from callhook.monitor._core import MonitorCore
from callhook.monitor._history import MonitorHistory, SqlAlertStore, stored_patterns
from callhook.monitor._impact import HangImpact, HangOutcome
from callhook.monitor._monitor import Monitor, MonitorClosedError, MonitorStats
from callhook.monitor._outcome import Outcome, SayAction, WebhookAction
from callhook.monitor._patterns import (
    CallRecord,
    Dimension,
    IncidentKind,
    IncidentRecord,
    PatternRow,
    analyze_patterns,
    length_band,
)
from callhook.monitor._process import MonitorProcess, MonitorProcessError, MonitorProcessStats
from callhook.monitor._remediation import RemediationError, Remediator
from callhook.monitor._sentiment import CallSentiment, SentimentPoint, SentimentScorer
from callhook.monitor._sinks import (
    AlertSink,
    AlertSinkError,
    EmailSink,
    LogSink,
    WebhookSink,
    build_sinks,
    notice_json,
)

__all__ = [
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
