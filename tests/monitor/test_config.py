"""The ``[monitor]`` section of the serve config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from callhook.monitor import (
    EmailSinkConfig,
    LogSinkConfig,
    MonitorConfig,
    MonitorConfigError,
    WebhookSinkConfig,
    load_config,
)

TOML = """
[server]
port = 8000  # other sections are not the monitor's business

[monitor]
suppress_s = 600
queue_size = 500

[monitor.rules.hang_rate]
critical = 0.1
window_s = 1800

[monitor.rules.systemic_hangs]
critical = 5

[monitor.rules.stale_calls]
after_s = 900

[monitor.impact]
repeat_window_s = 20

[monitor.remediation]
say_on_hang = true
systemic_hangs_webhook = "https://ops.example.com/hooks/hangs"

[[monitor.sinks]]
type = "log"

[[monitor.sinks]]
type = "webhook"
url = "https://hooks.slack.com/services/T/B/X"
format = "slack"

[[monitor.sinks]]
type = "email"
host = "smtp.example.com"
port = 587
starttls = true
to = ["oncall@example.com"]
"""


def test_absent_section_gives_the_defaults() -> None:
    assert load_config() == MonitorConfig()
    assert load_config("[server]\nport = 1\n") == MonitorConfig()
    assert load_config().sinks == [LogSinkConfig()]


def test_toml_text_file_and_mapping_agree(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(TOML, encoding="utf-8")
    config = load_config(path)
    assert config == load_config(TOML)
    assert (config.suppress_s, config.queue_size) == (600, 500)
    assert (config.rules.hang_rate.critical, config.rules.hang_rate.window_s) == (0.1, 1800)
    assert config.rules.hang_rate.min_count == 20  # keys not named keep the rule's defaults
    assert config.rules.llm_error_rate.warning == 0.02  # untouched rules keep theirs
    assert config.rules.stale_calls.after_s == 900
    assert config.impact.repeat_window_s == 20 and config.impact.abandon_window_s == 30
    assert config.remediation.say_on_hang
    assert [type(s) for s in config.sinks] == [LogSinkConfig, WebhookSinkConfig, EmailSinkConfig]
    assert load_config({"monitor": {"enabled": False}}).enabled is False


def test_typos_and_bad_values_name_the_key() -> None:
    with pytest.raises(
        MonitorConfigError, match=r"unknown field `critcal` - at `\$.rules.hang_rate`"
    ):
        load_config("[monitor.rules.hang_rate]\ncritcal = 0.1\n")
    with pytest.raises(MonitorConfigError, match=r"Expected `float` >= 0.0 - at `\$.suppress_s`"):
        load_config("[monitor]\nsuppress_s = -1\n")
    with pytest.raises(
        MonitorConfigError, match=r"Invalid value 'teams' - at `\$.sinks\[0\].type`"
    ):
        load_config('[[monitor.sinks]]\ntype = "teams"\n')


def test_unreadable_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(MonitorConfigError, match=r"missing\.toml"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(MonitorConfigError, match="invalid \\[monitor\\] configuration"):
        load_config("[monitor\n")


def test_the_documented_monitor_section_is_valid_and_shows_the_defaults() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    section = page.read_text(encoding="utf-8").split("## Monitoring: `[monitor]`", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert load_config(block) == MonitorConfig()
