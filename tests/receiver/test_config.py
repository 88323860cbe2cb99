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


# -- other platforms' endpoints ------------------------------------------------------------

OPEN = {"CALLHOOK_WEBHOOK_SECRET": "s3cr3t-1", "CALLHOOK_API_TOKEN": TOKEN}


def test_platform_credentials_come_from_the_environment() -> None:
    environ = {
        **OPEN,
        "CALLHOOK_VAPI_SECRET": "v-1, v-2",
        "CALLHOOK_VAPI_HMAC_SECRET": "h-1",
        "CALLHOOK_RETELL_API_KEY": "key_1",
    }
    config = load_config(environ=environ, host="0.0.0.0")
    assert (config.vapi.tokens, config.vapi.hmac_secrets) == (("v-1", "v-2"), ("h-1",))
    assert config.retell.tokens == ("key_1",)
    assert config.vapi.served(False) and config.retell.served(False)
    config.check()


def test_the_config_file_sets_the_platform_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        '[vapi]\npath = "/hooks/vapi"\nsecrets = ["v-file"]\nhmac_secrets = ["h-file"]\n\n'
        '[retell]\nenabled = false\napi_keys = ["key_file"]\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={"CALLHOOK_VAPI_SECRET": "v-env"})
    assert config.vapi.path == "/hooks/vapi"
    assert (config.vapi.tokens, config.vapi.hmac_secrets) == (("v-env",), ("h-file",))
    assert config.retell.tokens == ("key_file",) and config.retell.enabled is False
    assert not config.retell.served(True)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[vapi]\ntoken = 'x'\n", "unknown setting vapi.token"),
        ("[retell]\napi_keys = 5\n", "retell.api_keys must be a list of strings"),
        ("[retell]\nenabled = 'yes'\n", "retell.enabled must be true or false"),
    ],
)
def test_bad_platform_settings_say_what_is_wrong(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(path, environ={})


def test_off_loopback_an_endpoint_without_credentials_is_not_served() -> None:
    config = load_config(environ=OPEN, host="0.0.0.0")
    config.check()
    assert not config.vapi.served(False) and not config.retell.served(False)
    assert config.vapi.served(True)


def test_an_endpoint_enabled_off_loopback_without_credentials_refuses_to_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text("[retell]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="CALLHOOK_RETELL_API_KEY") as caught:
        load_config(path, environ=OPEN, host="0.0.0.0").check()
    assert caught.value.setting == "retell.enabled"
    load_config(path, environ=OPEN).check()  # fine on loopback


def test_platform_paths_must_differ_from_the_webhook() -> None:
    with pytest.raises(ConfigError, match=r"vapi\.path"):
        load_config(environ={}, vapi={"path": "/webhook"}).check()
