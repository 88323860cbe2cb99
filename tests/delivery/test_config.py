"""``assistantServer`` checking: defaults, subscriptions and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from callhook import events
from callhook.delivery import DEFAULT_TIMEOUT_SECONDS, DeliveryConfigError, ServerConfig

from .conftest import envelope, server

SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_parses_every_key_of_spec_section_6() -> None:
    config = ServerConfig.parse(server(messages=["hang", "error"]))
    assert config is not None
    assert config.url == "http://hooks.example/callhook"
    assert config.timeout_seconds == 5.0
    assert config.secret == "s3cret"
    assert config.headers == {"Authorization": "Bearer token-1"}
    assert config.messages == {events.EventType.HANG, events.EventType.ERROR}
    assert config.subscribes(events.EventType.HANG)
    assert not config.subscribes(events.EventType.STATUS_UPDATE)


def test_timeout_defaults_to_20_seconds_and_extensions_to_unset() -> None:
    raw = server()
    del raw["timeoutSeconds"]
    config = ServerConfig.parse(raw)
    assert config is not None
    assert config.timeout_seconds == DEFAULT_TIMEOUT_SECONDS == 20.0
    assert config.max_retries is None
    assert config.signing_secrets == ()


def test_disabled_or_absent_enabled_means_no_delivery() -> None:
    assert ServerConfig.parse({"enabled": False, "url": "http://x"}) is None
    assert ServerConfig.parse({}) is None


def test_reads_the_wire_model_including_callhook_extension_keys() -> None:
    raw = server(maxRetries=0, signingSecret=[SIGNING, SIGNING])
    wire = envelope(assistant_server=raw).message.assistant
    assert isinstance(wire, events.Assistant)
    assert isinstance(wire.assistant_server, events.AssistantServer)
    config = ServerConfig.parse(wire.assistant_server)
    assert config is not None
    assert config.max_retries == 0
    assert config.signing_secrets == (SIGNING, SIGNING)


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"url": None}, "assistantServer.url", "is required when delivery is enabled"),
        ({"url": "ftp://x"}, "assistantServer.url", "must start with http"),
        ({"messages": []}, "assistantServer.messages", "non-empty list"),
        ({"messages": None}, "assistantServer.messages", "non-empty list"),
        (
            {"messages": ["hang", "status_update"]},
            "assistantServer.messages[1]",
            "unknown event type",
        ),
        ({"timeoutSeconds": 0}, "assistantServer.timeoutSeconds", "positive number"),
        ({"timeoutSeconds": "20"}, "assistantServer.timeoutSeconds", "number of seconds"),
        ({"enabled": "yes"}, "assistantServer.enabled", "true or false"),
        ({"headers": {"X-A": 1}}, "assistantServer.headers.X-A", "values must be strings"),
        ({"url": "http://x/a b"}, "assistantServer.url", "spaces or control characters"),
        ({"url": "http://x/\x00"}, "assistantServer.url", "spaces or control characters"),
        ({"headers": {"X-A": "a\r\nb"}}, "assistantServer.headers.X-A", "control characters"),
        ({"headers": {"X A": "b"}}, "assistantServer.headers.X A", "control characters"),
        ({"maxRetries": -1}, "assistantServer.maxRetries", "whole number"),
        ({"signingSecret": "nope"}, "assistantServer.signingSecret", "Standard Webhooks"),
    ],
)
def test_invalid_configuration_names_the_offending_key(
    change: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(DeliveryConfigError) as info:
        ServerConfig.parse(server(**change))
    assert info.value.key == key
    assert words in str(info.value)
    assert f"at `{key}`" in str(info.value)


def test_errors_and_repr_never_show_secrets() -> None:
    with pytest.raises(DeliveryConfigError) as info:
        ServerConfig.parse(server(headers={"Authorization": 12345}))
    assert "12345" not in str(info.value)
    config = ServerConfig.parse(server())
    assert "s3cret" not in repr(config)
    assert "token-1" not in repr(config)
