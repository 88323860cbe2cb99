"""messageId helpers: build the SPEC formats, classify any string."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhook.events import (
    MessageIdInfo,
    MessageKind,
    assistant_message_id,
    parse_message_id,
    user_message_id,
    welcome_message_id,
)


def test_build_welcome_and_user_ids() -> None:
    assert welcome_message_id() == "welcome-1"
    assert welcome_message_id(2) == "welcome-2"
    assert user_message_id(3) == "user-3"


@pytest.mark.parametrize("bad", [0, -1])
def test_numbers_count_from_one(bad: int) -> None:
    with pytest.raises(ValueError, match="count from 1"):
        user_message_id(bad)


def test_assistant_id_has_parent_ten_chars_and_epoch() -> None:
    message_id = assistant_message_id("user-3", 1772702495604, random.Random(7))
    parent, nonce, epoch = message_id.rsplit("-", 2)
    assert parent == "user-3"
    assert len(nonce) == 10 and nonce.isalnum()
    assert epoch == "1772702495604"
    # Same seed, same id: simulations replay exactly.
    assert message_id == assistant_message_id("user-3", 1772702495604, random.Random(7))


@pytest.mark.parametrize(
    ("message_id", "info"),
    [
        ("welcome-1", MessageIdInfo(MessageKind.WELCOME, number=1)),
        ("user-12", MessageIdInfo(MessageKind.USER, number=12)),
        (
            "user-3-WcIrvV6mE7-1772702495604",
            MessageIdInfo(
                MessageKind.ASSISTANT,
                parent_id="user-3",
                nonce="WcIrvV6mE7",
                started_at_ms=1772702495604,
            ),
        ),
        (
            "user-1-response-1772702495604",
            MessageIdInfo(
                MessageKind.ASSISTANT,
                parent_id="user-1",
                nonce="response",
                started_at_ms=1772702495604,
            ),
        ),
        ("", MessageIdInfo(MessageKind.OTHER)),
        ("user-0", MessageIdInfo(MessageKind.OTHER)),
        ("user-", MessageIdInfo(MessageKind.OTHER)),
        ("msg_01HZX", MessageIdInfo(MessageKind.OTHER)),
        ("user-3-abc", MessageIdInfo(MessageKind.OTHER)),
    ],
)
def test_parse_classifies(message_id: str, info: MessageIdInfo) -> None:
    assert parse_message_id(message_id) == info


@given(st.text())
def test_parse_accepts_any_string(message_id: str) -> None:
    assert parse_message_id(message_id).kind in set(MessageKind)


@given(st.integers(1, 10**6), st.integers(0, 2**62), st.integers())
def test_built_ids_parse_back(n: int, epoch: int, seed: int) -> None:
    parent = user_message_id(n)
    assert parse_message_id(parent) == MessageIdInfo(MessageKind.USER, number=n)
    info = parse_message_id(assistant_message_id(parent, epoch, random.Random(seed)))
    assert (info.kind, info.parent_id, info.started_at_ms) == (MessageKind.ASSISTANT, parent, epoch)
