"""Configuration: file, environment, overrides, and the refusal to run open on a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from callhook import ConfigError
from callhook.receiver import AuthMode, ReceiverConfig, load_config


def test_defaults_are_a_local_sqlite_file_on_loopback_without_auth() -> None:
    config = load_config(environ={})
    assert config.database_url == "sqlite:///callhook.sqlite3"
    assert (config.host, config.port, config.auth) == ("127.0.0.1", 8000, AuthMode.NONE)
    config.check()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_no_auth_on_a_non_loopback_address_is_refused_with_how_to_fix(host: str) -> None:
    with pytest.raises(ConfigError, match="CALLHOOK_WEBHOOK_SECRET") as caught:
        load_config(environ={}, host=host).check()
    assert caught.value.setting == "auth.mode"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.8.9.10"])
def test_no_auth_is_allowed_on_loopback(host: str) -> None:
    load_config(environ={}, host=host).check()


def test_a_secret_in_the_environment_turns_auth_on() -> None:
    config = load_config(environ={"CALLHOOK_WEBHOOK_SECRET": "s3cr3t-1, s3cr3t-2"}, host="0.0.0.0")
    assert config.auth is AuthMode.SECRET
    assert config.secrets == ("s3cr3t-1", "s3cr3t-2")
    config.check()
    assert "s3cr3t" not in repr(config)


def test_the_config_file_sets_everything(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        '[server]\nhost = "0.0.0.0"\nport = 9000\n'
        '[database]\nurl = "postgresql://u@db/callhook"\n'
        '[webhook]\npath = "/hooks/interactly"\nmax_body_bytes = 1048576\nmax_depth = 32\n'
        '[auth]\nmode = "standard-webhooks"\nsecrets = ["whsec_a2V5a2V5a2V5"]\n'
    )
    config = load_config(path, environ={}, port=9001)
    assert config == ReceiverConfig(
        database_url="postgresql://u@db/callhook",
        host="0.0.0.0",
        port=9001,
        webhook_path="/hooks/interactly",
        max_body_bytes=1048576,
        max_depth=32,
        auth=AuthMode.STANDARD_WEBHOOKS,
        secrets=("whsec_a2V5a2V5a2V5",),
    )
    config.check()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[server]\nhots = 1\n", "unknown setting server.hots"),
        ("x = [", "not valid TOML"),
        ('[auth]\nmode = "magic"\n', "auth mode must be one of"),
    ],
)
def test_a_bad_config_file_says_what_is_wrong(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path, environ={})


def test_an_auth_mode_without_secrets_is_refused() -> None:
    with pytest.raises(ConfigError, match="CALLHOOK_SIGNING_SECRET"):
        ReceiverConfig(auth=AuthMode.STANDARD_WEBHOOKS).check()


def test_a_malformed_signing_secret_is_refused() -> None:
    config = ReceiverConfig(auth=AuthMode.STANDARD_WEBHOOKS, secrets=("whsec_!!not base64!!",))
    with pytest.raises(ConfigError, match="must be base64"):
        config.check()
