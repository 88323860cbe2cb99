"""Monitor input from the receiver's fast path: a ``LazyEvent`` whose messages stay raw.

The receiver validates each body with ``events.decode_lazy`` and can hand the result to
``Monitor.observe`` as it is. The monitor's background task then decodes only what it uses:
the messages the call has not shown before (plus a hang's pending user message), the
``hang`` and ``error`` objects, and the ``assistant`` while the call's provider, model or STT
vendor are still unknown. Messages already seen are not decoded again, nor turned into
objects: the event's ``messages`` keep only the unseen tail, and its length is passed aside.
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


def materialize(
    event: LazyEvent, seen: Container[str], *, with_assistant: bool
) -> tuple[Event, int | None]:
    """The ``Event`` the monitor needs from ``event`` and the length of its history.

    ``seen`` holds the call's messageIds already processed; the event's ``messages`` keep only
    the unseen tail (and a hang's pending message). ``with_assistant`` asks for the assistant
    object to be decoded.
    """
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
    length: int | None = None
    if event.messages is not None and event.type is not EventType.STATUS_UPDATE:
        fields["messages"] = _tail(event.messages, seen, pending)
        length = len(event.messages)
    return EVENT_CLASSES[event.type](**fields), length


def _tail(raw: list[RawMessage], seen: Container[str], pending: str | None) -> list[Message]:
    # Every event carries the full history, so the unseen messages are a suffix.
    start = len(raw)
    while start > 0 and raw[start - 1].message_id not in seen:
        start -= 1
    out = [_message(raw[i], i) for i in range(start, len(raw))]
    if pending is not None and not any(m.message_id == pending for m in out):
        for index in range(start - 1, -1, -1):
            if raw[index].message_id == pending:
                out.insert(0, _message(raw[index], index))
                break
    return out


def _message(item: RawMessage, index: int) -> Message:
    try:
        return decode_message(item.raw, path=f"$.message.messages[{index}]")
    except DecodeError:
        return Message(message_id=item.message_id)  # unreadable: counted as an unknown role
