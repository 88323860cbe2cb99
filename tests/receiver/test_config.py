"""Configuration: file, environment, overrides, and the refusal to run open on a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from callhook import ConfigError
from callhook.receiver import AuthMode, ReceiverConfig, load_config

TOKEN = "tok-0123456789abcdef"


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
    environ = {"CALLHOOK_WEBHOOK_SECRET": "s3cr3t-1, s3cr3t-2", "CALLHOOK_API_TOKEN": TOKEN}
    config = load_config(environ=environ, host="0.0.0.0")
    assert config.auth is AuthMode.SECRET
    assert config.secrets == ("s3cr3t-1", "s3cr3t-2")
    assert config.api_tokens == (TOKEN,)
    config.check()
    assert "s3cr3t" not in repr(config) and TOKEN not in repr(config)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5"])
def test_no_api_token_on_a_non_loopback_address_is_refused_with_how_to_fix(host: str) -> None:
    environ = {"CALLHOOK_WEBHOOK_SECRET": "s3cr3t"}
    with pytest.raises(ConfigError, match="CALLHOOK_API_TOKEN") as caught:
        load_config(environ=environ, host=host).check()
    assert caught.value.setting == "api.tokens"
    assert "token_urlsafe" in str(caught.value)


@pytest.mark.parametrize(
    "token", ["short", "has space in the token value", "semi;colon-0123456789"]
)
def test_a_weak_or_unsafe_api_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters") as caught:
        load_config(environ={"CALLHOOK_API_TOKEN": token}).check()
    assert caught.value.setting == "api.tokens"


def test_the_config_file_sets_everything(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        '[server]\nhost = "0.0.0.0"\nport = 9000\n'
        '[database]\nurl = "postgresql://u@db/callhook"\n'
        '[webhook]\npath = "/hooks/interactly"\nmax_body_bytes = 1048576\nmax_depth = 32\n'
        '[auth]\nmode = "standard-webhooks"\nsecrets = ["whsec_a2V5a2V5a2V5"]\n'
        f'[api]\ntokens = ["{TOKEN}"]\n'
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
        api_tokens=(TOKEN,),
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
