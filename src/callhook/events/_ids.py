"""messageId formats (SPEC §3).

- welcome: ``welcome-<n>``;
- user: ``user-<n>``, n counting user messages from 1;
- assistant: ``<user messageId>-<10 random chars>-<epoch ms>``, the epoch being when the LLM
  response started (the simplified ``user-3-response-<epoch ms>`` occurs too).

Consumers must accept any string: ``parse_message_id`` never fails, it reports ``OTHER``.
"""

from __future__ import annotations

import enum
import random
import re
import string

import msgspec

__all__ = [
    "MessageIdInfo",
    "MessageKind",
    "assistant_message_id",
    "parse_message_id",
    "user_message_id",
    "welcome_message_id",
]

_NONCE_ALPHABET = string.ascii_letters + string.digits
_NONCE_LENGTH = 10
_WELCOME = re.compile(r"welcome-(?P<n>[1-9][0-9]*)")
_USER = re.compile(r"user-(?P<n>[1-9][0-9]*)")
_ASSISTANT = re.compile(
    r"(?P<parent>(?:user|welcome)-[1-9][0-9]*)-(?P<nonce>[A-Za-z0-9_]+)-(?P<ms>[0-9]{1,19})"
)


class MessageKind(enum.StrEnum):
    WELCOME = "welcome"
    USER = "user"
    ASSISTANT = "assistant"
    #: Any other string: valid, just not in a known format.
    OTHER = "other"


class MessageIdInfo(msgspec.Struct, frozen=True):
    """What a messageId says about its message."""

    kind: MessageKind
    #: n of ``welcome-<n>`` / ``user-<n>``.
    number: int | None = None
    #: For assistant ids: the user (or welcome) message answered.
    parent_id: str | None = None
    #: For assistant ids: the random part (``response`` in the simplified form).
    nonce: str | None = None
    #: For assistant ids: epoch ms when the LLM response started.
    started_at_ms: int | None = None


def welcome_message_id(n: int = 1) -> str:
    """``welcome-<n>``."""
    return f"welcome-{_positive(n)}"


def user_message_id(n: int) -> str:
    """``user-<n>``, n counting user messages from 1."""
    return f"user-{_positive(n)}"


def assistant_message_id(parent_id: str, started_at_ms: int, rng: random.Random) -> str:
    """``<parent_id>-<10 random chars>-<started_at_ms>``; ``rng`` is injected for replay."""
    if started_at_ms < 0:
        raise ValueError(f"started_at_ms must be epoch milliseconds >= 0, got {started_at_ms}")
    nonce = "".join(rng.choices(_NONCE_ALPHABET, k=_NONCE_LENGTH))
    return f"{parent_id}-{nonce}-{started_at_ms}"


def parse_message_id(message_id: str) -> MessageIdInfo:
    """Classify any string as a welcome, user, assistant or other messageId."""
    if match := _WELCOME.fullmatch(message_id):
        return MessageIdInfo(MessageKind.WELCOME, number=int(match["n"]))
    if match := _USER.fullmatch(message_id):
        return MessageIdInfo(MessageKind.USER, number=int(match["n"]))
    if match := _ASSISTANT.fullmatch(message_id):
        return MessageIdInfo(
            MessageKind.ASSISTANT,
            parent_id=match["parent"],
            nonce=match["nonce"],
            started_at_ms=int(match["ms"]),
        )
    return MessageIdInfo(MessageKind.OTHER)


def _positive(n: int) -> int:
    if n < 1:
        raise ValueError(f"message numbers count from 1, got {n}")
    return n
