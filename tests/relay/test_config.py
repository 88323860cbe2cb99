"""Forward targets from the config file and the command line: defaults, and errors that
name the setting and say the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callhook._exceptions import ConfigError
from callhook.cli import app
from callhook.events import EventType
from callhook.receiver import load_config
from callhook.relay import MESSAGES_HEADER, ForwardTarget, RelayConfig

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callhook.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_target_takes_every_option(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            f"""
[[forward]]
url = "https://app.example.com/hooks"
name = "crm"
events = ["hang", "end-of-call-report"]
assistant_ids = ["asst-1"]
signing_secret = "{SECRET}"
secret = "static"
headers = {{ "x-api-key" = "k" }}
timeout_seconds = 5
max_retries = 3
messages = "new"

[[forward]]
url = "http://127.0.0.1:9000/all"

[relay]
deliver = false
""",
        )
    )
    crm, other = config.relay.targets
    assert config.relay.deliver is False
    assert crm.name == "crm"
    assert crm.config.messages == {EventType.HANG, EventType.END_OF_CALL_REPORT}
    assert crm.assistant_ids == {"asst-1"}
    assert crm.config.signing_secrets == (SECRET,)
    assert (crm.config.secret, crm.config.headers) == ("static", {"x-api-key": "k"})
    assert (crm.config.timeout_seconds, crm.config.max_retries) == (5.0, 3)
    assert crm.trimmed is not None and crm.trimmed.headers[MESSAGES_HEADER] == "new"
    assert crm.wants(EventType.HANG, "asst-1")
    assert not crm.wants(EventType.HANG, "asst-2")
    assert not crm.wants(EventType.STATUS_UPDATE, "asst-1")
    # the defaults: every event type, every assistant, bodies as received
    assert other.config.messages == set(EventType)
    assert (other.assistant_ids, other.messages, other.trimmed) == (None, "all", None)
    assert other.name == "http://127.0.0.1:9000/all"
    assert other.wants(EventType.STATUS_UPDATE, None)


@pytest.mark.parametrize(
    ("table", "setting", "words"),
    [
        ('name = "x"', "forward[0].url", "url is required"),
        ('url = "ftp://x"', "forward[0].url", "http:// or https://"),
        ('url = "http://x"\nevents = ["hang", "bye"]', "forward[0].events[1]", "unknown event"),
        ('url = "http://x"\nmessages = "some"', "forward[0].messages", '"all"'),
        ('url = "http://x"\nsigning_secret = "nope"', "forward[0].signing_secret", "whsec_"),
        ('url = "http://x"\ntimeout_seconds = -1', "forward[0].timeout_seconds", "positive"),
        ('url = "http://x"\nassistant_ids = []', "forward[0].assistant_ids", "non-empty"),
        ('url = "http://x"\nretries = 3', "forward[0].retries", "max_retries"),
    ],
)
def test_a_bad_target_names_its_setting(
    tmp_path: Path, table: str, setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[[forward]]\n{table}\n"))
    assert caught.value.setting == setting
    assert words in str(caught.value)
    assert "assistantServer" not in str(caught.value)


def test_forward_must_be_an_array_of_tables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"write \[\[forward\]\]"):
        load_config(write(tmp_path, '[forward]\nurl = "http://x"\n'))


def test_two_targets_cannot_share_a_url() -> None:
    relay = RelayConfig((ForwardTarget.from_url("http://127.0.0.1:1/a"),))
    with pytest.raises(ConfigError, match="Two forward targets have the URL"):
        relay.with_urls(["http://127.0.0.1:1/a"])


def test_serve_refuses_a_bad_forward_url_with_the_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}", "--forward", "app:9000"]
    )
    assert result.exit_code == 2
    assert "--forward.url must start with http:// or https://" in result.stderr
