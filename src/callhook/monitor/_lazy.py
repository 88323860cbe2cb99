"""Monitor input from the receiver's fast path: a ``LazyEvent`` whose messages stay raw.

The receiver validates each body with ``events.decode_lazy`` and can hand the result to
``Monitor.observe`` as it is. The monitor's background task then decodes only what it uses:
the messages the call has not shown before (plus a hang's pending user message), the
``hang`` and ``error`` objects, and the ``assistant`` while the call's provider, model or STT
vendor are still unknown. Messages already seen become bare ``Message(message_id=...)``
placeholders, so that the history keeps its length without being decoded again.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, TypeVar

import msgspec

from callhook._exceptions import DecodeError
from callhook.events import (
    EVENT_CLASSES,
    UNSET,
    Assistant,
    ErrorInfo,
    Event,
    EventType,
    HangInfo,
    LazyEvent,
    Message,
    RawMessage,
    decode_message,
)

__all__ = ["materialize"]

T = TypeVar("T")

_ASSISTANT = msgspec.json.Decoder(Assistant)
_HANG = msgspec.json.Decoder(HangInfo)
_ERROR = msgspec.json.Decoder(ErrorInfo)


def _decode(decoder: msgspec.json.Decoder[T], raw: msgspec.Raw | None) -> T | None:
    if raw is None:
        return None
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        return None  # a malformed optional object is monitored as absent


def materialize(event: LazyEvent, seen: Container[str], *, with_assistant: bool) -> Event:
    """The ``Event`` the monitor needs from ``event``; ``seen`` holds the call's messageIds
    already processed, ``with_assistant`` asks for the assistant object to be decoded."""
    fields: dict[str, Any] = {  # Any: keyword arguments of five different Struct classes
        "timestamp": event.timestamp if event.timestamp is not None else UNSET,
        "call": event.call if event.call is not None else UNSET,
    }
    if with_assistant and event.assistant is not None and bytes(event.assistant) != b"{}":
        assistant = _decode(_ASSISTANT, event.assistant)
        if assistant is not None:
            fields["assistant"] = assistant
    pending: str | None = None
    if event.type is EventType.HANG:
        hang = _decode(_HANG, event.hang)
        fields["hang"] = hang if hang is not None else UNSET
        if hang is not None and isinstance(hang.pending_message_id, str):
            pending = hang.pending_message_id
        elif event.messages:
            seen = ()  # no pending id: the core looks for the last user message, decode all
    elif event.type is EventType.ERROR:
        error = _decode(_ERROR, event.error)
        fields["error"] = error if error is not None else UNSET
    if event.messages is not None and event.type is not EventType.STATUS_UPDATE:
        fields["messages"] = _messages(event.messages, seen, pending)
    return EVENT_CLASSES[event.type](**fields)


def _messages(raw: list[RawMessage], seen: Container[str], pending: str | None) -> list[Message]:
    # Every event carries the full history, so the unseen messages are a suffix.
    start = len(raw)
    while start > 0 and raw[start - 1].message_id not in seen:
        start -= 1
    out: list[Message] = []
    for index, item in enumerate(raw):
        if index >= start or item.message_id == pending:
            out.append(_message(item, index))
        else:
            out.append(Message(message_id=item.message_id))
    return out


def _message(item: RawMessage, index: int) -> Message:
    try:
        return decode_message(item.raw, path=f"$.message.messages[{index}]")
    except DecodeError:
        return Message(message_id=item.message_id)  # unreadable: counted as an unknown role
