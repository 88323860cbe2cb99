"""Monitor configuration: the ``[monitor]`` section of the ``callhook serve`` TOML file.

Every key is optional; the defaults are the thresholds SPEC §5 documents. Unknown keys are
an error (a typo must not silently disable a rule). Rates are fractions (``0.05`` = 5 %),
latencies milliseconds, windows and delays seconds. See docs/monitoring.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from callhook._exceptions import CallhookError

__all__ = [
    "EmailSinkConfig",
    "EventRuleConfig",
    "ImpactConfig",
    "LogSinkConfig",
    "MonitorConfig",
    "MonitorConfigError",
    "RemediationConfig",
    "RuleConfig",
    "RulesConfig",
    "SinkConfig",
    "StaleCallsConfig",
    "WebhookSinkConfig",
    "load_config",
]

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
SeverityName = Literal["info", "warning", "critical"]


class MonitorConfigError(CallhookError):
    """The ``[monitor]`` configuration is invalid; ``path`` names the key (``$.rules...``)."""

    def __init__(self, reason: str, path: str = "$", *, source: str | None = None) -> None:
        self.reason = reason
        self.path = path
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}invalid [monitor] configuration: {reason} - at `{path}`")


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class RuleConfig(_Config, frozen=True):
    """A sliding-window threshold rule. It fires when its value **reaches** a threshold
    (``>=``), at ``critical`` severity if that one is reached, else ``warning``; it needs at
    least ``min_count`` samples (denominator) in the window to fire at all."""

    enabled: bool = True
    window_s: Positive = 300.0
    warning: float | None = None
    critical: float | None = None
    min_count: Annotated[int, msgspec.Meta(ge=1)] = 1


class StaleCallsConfig(_Config, frozen=True):
    """A call with no terminal event ``after_s`` seconds after its last activity."""

    enabled: bool = True
    after_s: Positive = 600.0
    severity: SeverityName = "warning"


class EventRuleConfig(_Config, frozen=True):
    """An alert for each single ``hang`` or ``error`` event."""

    enabled: bool = True
    severity: SeverityName = "warning"


def _rule(
    window_s: float, min_count: int, *, warning: float | None = None, critical: float | None = None
) -> Any:  # Any: what msgspec.field returns, standing in for a RuleConfig default
    return msgspec.field(
        default_factory=lambda: RuleConfig(
            window_s=window_s, min_count=min_count, warning=warning, critical=critical
        )
    )


class RulesConfig(_Config, frozen=True):
    """``[monitor.rules.<name>]``: one table per rule."""

    response_time_p95: RuleConfig = _rule(300, 20, warning=3000)
    hang_rate: RuleConfig = _rule(3600, 20, critical=0.05)
    provider_error_rate: RuleConfig = _rule(300, 50, warning=0.02)
    llm_error_rate: RuleConfig = _rule(300, 50, warning=0.02, critical=0.05)
    stt_error_rate: RuleConfig = _rule(300, 100, warning=0.01, critical=0.03)
    provider_response_time: RuleConfig = _rule(60, 5, warning=3000, critical=5000)
    #: ``critical`` (or ``warning``) is the number of hangs of one assistant in the window.
    systemic_hangs: RuleConfig = _rule(600, 1, critical=3)
    stale_calls: StaleCallsConfig = msgspec.field(default_factory=StaleCallsConfig)
    hang: EventRuleConfig = msgspec.field(default_factory=EventRuleConfig)
    error: EventRuleConfig = msgspec.field(default_factory=EventRuleConfig)


class ImpactConfig(_Config, frozen=True):
    """Hang recovery and user impact (``[monitor.impact]``)."""

    #: A user message this many seconds or less after the hang may be a repetition...
    repeat_window_s: NonNegative = 30.0
    #: ... when its rapidfuzz ``token_sort_ratio`` to the pending message reaches this (0-100).
    repeat_similarity: Annotated[float, msgspec.Meta(ge=0, le=100)] = 80.0
    #: The call ending this many seconds or less after the hang counts as abandonment.
    abandon_window_s: NonNegative = 30.0


class RemediationConfig(_Config, frozen=True):
    """Opt-in automatic remediation (``[monitor.remediation]``)."""

    say_on_hang: bool = False
    say_message: str = "Sorry, I need a moment more. I'm still working on that."
    #: POSTed the systemic-hangs alert (JSON) when that rule fires; empty: off.
    systemic_hangs_webhook: str = ""
    timeout_s: Positive = 5.0


class LogSinkConfig(_Config, frozen=True, tag="log", tag_field="type"):
    """Alerts to the ``callhook.monitor`` logger (always safe)."""


class WebhookSinkConfig(_Config, frozen=True, tag="webhook", tag_field="type"):
    """Alerts POSTed as JSON; ``format = "slack"`` sends only ``{"text": ...}``."""

    url: str
    format: Literal["json", "slack"] = "json"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout_s: Positive = 5.0


class EmailSinkConfig(_Config, frozen=True, tag="email", tag_field="type"):
    """Alerts mailed over SMTP (stdlib ``smtplib``)."""

    host: str
    to: list[str]
    sender: str = "callhook@localhost"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_s: Positive = 10.0


SinkConfig: TypeAlias = LogSinkConfig | WebhookSinkConfig | EmailSinkConfig


def _default_sinks() -> list[SinkConfig]:
    return [LogSinkConfig()]


class MonitorConfig(_Config, frozen=True):
    """The whole ``[monitor]`` section."""

    enabled: bool = True
    #: ``"process"``: ``callhook serve`` runs the monitor in a child process at a lower CPU
    #: priority, fed the request bodies through a pipe, so it never takes CPU from ingest;
    #: ``"inline"``: a background task in the receiver's own event loop.
    isolation: Literal["process", "inline"] = "process"
    #: The child process's CPU priority: ``"idle"`` (Linux ``SCHED_IDLE``: it runs only on
    #: CPU time nothing else wants; elsewhere ``nice`` 19), ``"low"`` (``nice`` 10) or
    #: ``"normal"`` (the receiver's own).
    process_priority: Literal["idle", "low", "normal"] = "idle"
    #: Events waiting for evaluation; ``observe`` drops (and counts) events beyond this.
    queue_size: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    #: How often the background task re-evaluates every rule (windows slide, stale calls).
    tick_s: Positive = 5.0
    #: After a notice for one alert key, further "firing" notices for it within this many
    #: seconds are suppressed (counted, reported with the next notice).
    suppress_s: NonNegative = 300.0
    #: Per-call state is dropped this long after the call's last event.
    forget_after_s: Positive = 7200.0
    sentiment: bool = True
    #: 0: VADER runs in the monitor's background task; N: in N worker processes (the
    #: receiver's process then spends no CPU on it; the scores arrive a little later).
    sentiment_workers: Annotated[int, msgspec.Meta(ge=0, le=64)] = 0
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)
    impact: ImpactConfig = msgspec.field(default_factory=ImpactConfig)
    remediation: RemediationConfig = msgspec.field(default_factory=RemediationConfig)
    sinks: list[SinkConfig] = msgspec.field(default_factory=_default_sinks)


def load_config(
    # Any: a parsed TOML document is heterogeneous; msgspec.convert validates it below.
    source: Mapping[str, Any] | str | Path | None = None,
    *,
    section: str = "monitor",
) -> MonitorConfig:
    """Build a ``MonitorConfig`` from a TOML file path, a TOML document's text, or a mapping
    that is the whole parsed file; reads its ``[monitor]`` table (defaults when absent).

    Raises ``MonitorConfigError`` naming the key at fault (unknown keys are errors).
    """
    name: str | None = None
    data: Mapping[str, Any]  # Any: as above
    if source is None:
        data = {}
    elif isinstance(source, Path):
        name = str(source)
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise MonitorConfigError(str(exc), source=name) from None
    elif isinstance(source, str):
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            raise MonitorConfigError(str(exc)) from None
    else:
        data = source
    table = data.get(section, {})
    if isinstance(table, Mapping) and isinstance(table.get("rules"), Mapping):
        # A rule's table overrides only the keys it names; the others keep that rule's
        # defaults (``[monitor.rules.hang_rate] critical = 0.1`` keeps ``min_count = 20``).
        defaults = msgspec.to_builtins(RulesConfig())
        table = {
            **table,
            "rules": {
                name: {**defaults[name], **rule}
                if name in defaults and isinstance(rule, Mapping)
                else rule
                for name, rule in table["rules"].items()
            },
        }
    try:
        return msgspec.convert(table, MonitorConfig)
    except msgspec.ValidationError as exc:
        reason, _, path = str(exc).rpartition(" - at `")
        if not reason:
            reason, path = str(exc), "$`"
        raise MonitorConfigError(reason, path.rstrip("`"), source=name) from None
