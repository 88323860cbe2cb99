"""Decoding and encoding of event payloads.

``decode`` validates a whole payload into the models and keeps keys the models do not declare,
so that ``encode(decode(b))`` is JSON-equal to ``b``. ``decode_lazy`` is the receiver's fast path:
it validates the envelope but leaves each element of ``messages`` as raw bytes, reading only
its ``messageId``, so that messages already stored need never become Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from callhook._exceptions import DecodeError
from callhook.events._base import UNSET, Int64, Opt, UnsetType
from callhook.events._call import Call
from callhook.events._events import Envelope, Event, EventType, Message
from callhook.events._extras import ExtrasIndex, Path

__all__ = [
    "LazyEvent",
    "RawMessage",
    "decode",
    "decode_lazy",
    "decode_message",
    "encode",
    "unknown_keys",
]

_ANY_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()
_EVENT_TYPE: Any = Envelope[Event]  # a parametrised generic, used as a runtime type object
_AT = re.compile(r"^(?P<reason>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_TYPE_NAMES = ", ".join(t.value for t in EventType)
_EXTRAS = ExtrasIndex(_EVENT_TYPE)
_UNKNOWN = "_unknown_keys"


def decode(data: bytes | str, *, source: str | None = None) -> Envelope[Event]:
    """Decode and validate one payload (a JSON document ``{"message": {...}}``).

    Raises ``DecodeError`` naming the JSON path of the first problem.
    """
    tree = _parse(data, source)
    try:
        envelope: Envelope[Event] = msgspec.convert(tree, _EVENT_TYPE)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, source) from None
    found = _EXTRAS.collect(tree, envelope)
    if found:
        envelope.__dict__[_UNKNOWN] = found
    return envelope


def encode(envelope: Envelope[Event]) -> bytes:
    """Encode an envelope to JSON bytes, writing back any keys kept aside by ``decode``."""
    found: list[tuple[Path, dict[str, Any]]] | None = envelope.__dict__.get(_UNKNOWN)
    if not found:
        return _ENCODER.encode(envelope)
    tree = msgspec.to_builtins(envelope)
    for path, extra in found:
        node = tree
        for step in path:
            node = node[step]
        node.update(extra)
    return _ENCODER.encode(tree)


def unknown_keys(envelope: Envelope[Event]) -> dict[str, dict[str, Any]]:
    """The keys ``decode`` found that no model declares, by the JSON path of their object.

    For example ``{"$.message.call": {"region": "eu"}}``. Kept on the envelope that ``decode``
    returned (a rebuilt envelope has none); ``encode`` writes them back.
    """
    found: list[tuple[Path, dict[str, Any]]] = envelope.__dict__.get(_UNKNOWN, [])
    return {_json_path(path): dict(extra) for path, extra in found}


def _json_path(path: Path) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


# -- the fast path -------------------------------------------------------------------------


class RawMessage(msgspec.Struct, frozen=True):
    """An element of ``messages`` as its raw JSON bytes, with its ``messageId`` read out."""

    message_id: str
    raw: msgspec.Raw


@dataclass(frozen=True, slots=True)
class LazyEvent:
    """An event whose ``messages`` stay raw bytes (see ``decode_lazy``)."""

    type: EventType
    timestamp: int | None
    call: Call | None
    messages: list[RawMessage] | None
    #: The other top-level objects, raw; ``None`` when absent or ``null``.
    assistant: msgspec.Raw | None
    analysis: msgspec.Raw | None
    error: msgspec.Raw | None
    hang: msgspec.Raw | None
    phone: msgspec.Raw | None
    customer: msgspec.Raw | None


class _LazyWire(msgspec.Struct, frozen=True, kw_only=True):
    type: EventType
    timestamp: Opt[Int64] = UNSET
    call: Opt[Call] = UNSET
    messages: Opt[list[msgspec.Raw]] = UNSET
    assistant: msgspec.Raw | UnsetType = UNSET
    analysis: msgspec.Raw | UnsetType = UNSET
    error: msgspec.Raw | UnsetType = UNSET
    hang: msgspec.Raw | UnsetType = UNSET
    phone: msgspec.Raw | UnsetType = UNSET
    customer: msgspec.Raw | UnsetType = UNSET


class _LazyEnvelope(msgspec.Struct, frozen=True):
    message: _LazyWire


class _MessageKey(msgspec.Struct, frozen=True):
    message_id: str = msgspec.field(name="messageId")


class _KeysWire(msgspec.Struct, frozen=True):
    messages: Opt[list[_MessageKey]] = UNSET


class _KeysEnvelope(msgspec.Struct, frozen=True):
    message: _KeysWire


_LAZY_DECODER = msgspec.json.Decoder(_LazyEnvelope)
#: Every messageId in one pass over the body (the other keys are skipped in C).
_KEYS_DECODER = msgspec.json.Decoder(_KeysEnvelope)
_MESSAGE_DECODER = msgspec.json.Decoder(Message)


def decode_lazy(data: bytes | str, *, source: str | None = None) -> LazyEvent:
    """Validate the envelope of a payload, keeping each message as raw bytes.

    Checks what ``decode`` requires of the envelope (``message``, its ``type``, a non-empty
    ``call.id`` when ``call`` is present, ``messages`` a list of objects each with a string
    ``messageId``); the rest of each message is checked by ``decode_message`` when needed.
    """
    try:
        wire = _LAZY_DECODER.decode(data).message
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, source) from None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"Invalid JSON: {_json_reason(exc)}", source=source) from None
    except RecursionError:
        raise _too_deep(source) from None
    messages: list[RawMessage] | None = None
    if isinstance(wire.messages, list):
        try:
            keys = _KEYS_DECODER.decode(data).message.messages
        except msgspec.ValidationError as exc:
            raise _validation_error(exc, source) from None
        assert isinstance(keys, list)  # the same bytes decoded as a list just above
        messages = [
            RawMessage(key.message_id, raw) for key, raw in zip(keys, wire.messages, strict=True)
        ]
    return LazyEvent(
        type=wire.type,
        timestamp=_or_none(wire.timestamp),
        call=_or_none(wire.call),
        messages=messages,
        assistant=_or_none(wire.assistant),
        analysis=_or_none(wire.analysis),
        error=_or_none(wire.error),
        hang=_or_none(wire.hang),
        phone=_or_none(wire.phone),
        customer=_or_none(wire.customer),
    )


def decode_message(raw: msgspec.Raw | bytes, *, path: str = "$") -> Message:
    """Decode one raw element of ``messages``; ``path`` prefixes error paths."""
    try:
        return _MESSAGE_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise _nested_error(exc, path, None) from None


def _or_none(value: Any) -> Any:
    if value is UNSET or (isinstance(value, msgspec.Raw) and bytes(value) == b"null"):
        return None
    return value


# -- errors ---------------------------------------------------------------------------------


def _parse(data: bytes | str, source: str | None) -> Any:
    try:
        return _ANY_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"Invalid JSON: {_json_reason(exc)}", source=source) from None
    except RecursionError:
        raise _too_deep(source) from None


def _json_reason(exc: msgspec.DecodeError) -> str:
    reason = str(exc).removeprefix("JSON is malformed: ")
    return "the input is empty or truncated" if reason == "Input data was truncated" else reason


def _too_deep(source: str | None) -> DecodeError:
    return DecodeError("JSON nesting is too deep (over about 1000 levels)", source=source)


def _split(exc: msgspec.ValidationError) -> tuple[str, str]:
    text = str(exc)
    match = _AT.match(text)
    if match is None:
        return text, "$"
    return match["reason"], match["path"]


def _validation_error(exc: msgspec.ValidationError, source: str | None) -> DecodeError:
    reason, path = _split(exc)
    if path == "$.message.type" and reason.startswith("Invalid"):
        value = reason.split(" ", 3)[-1] if reason.startswith("Invalid enum") else reason[14:]
        reason = f"Unknown event type {value}, expected one of: {_TYPE_NAMES}"
    return DecodeError(reason, path, source=source)


def _nested_error(exc: msgspec.ValidationError, prefix: str, source: str | None) -> DecodeError:
    reason, path = _split(exc)
    return DecodeError(reason, prefix + path[1:], source=source)
