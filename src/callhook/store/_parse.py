"""From request bytes to an ``Incoming`` event: what the store needs, nothing decoded twice.

``parse_event`` validates the envelope with ``events.decode_lazy`` (messages stay raw bytes),
reads every other top-level key as raw JSON, and prepares the pieces the store keeps: the
call's keys as compact JSON values, the assistant (stored once per distinct content), the
body without ``messages`` and ``assistant`` for non-conversation events, and the
end-of-call report. Messages are decoded later, and only those the call has not seen.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from callhook._exceptions import DecodeError
from callhook.events import ErrorInfo, EventType, HangInfo, LazyEvent, RawMessage, decode_lazy

T = TypeVar("T")

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "Incoming",
    "assistant_keys",
    "body_digest",
    "check_depth",
    "check_text",
    "clean_text",
    "compact",
    "parse_event",
]

#: Maximum JSON nesting of a request body (the envelope itself takes two levels).
DEFAULT_MAX_DEPTH = 64


class _Parts(msgspec.Struct):
    message: dict[str, msgspec.Raw]


_PARTS = msgspec.json.Decoder(_Parts)
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_HANG = msgspec.json.Decoder(HangInfo)
_ERROR = msgspec.json.Decoder(ErrorInfo)
_ENCODE = msgspec.json.encode
_STRING = msgspec.json.Decoder(str)
_NOT_KEPT = frozenset(("messages", "assistant"))
_REPORT_CALL_KEYS = ("endAt", "cost", "metrics", "recording")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One event ready for the store."""

    type: EventType
    #: ``message.timestamp`` (epoch ms), ``None`` when absent.
    ts: int | None
    call_id: str | None
    #: First 8 bytes of the body's SHA-256 as a signed int: equal bytes are a re-delivery.
    digest: int
    received_at: int
    messages: list[RawMessage] | None
    #: The call's keys (except ``id`` and ``status``) as compact JSON values.
    call_fields: dict[str, bytes]
    status: str | None
    assistant_id: str | None
    assistant: bytes | None
    assistant_digest: str | None
    assistant_name: str | None
    #: How many top-level keys the assistant object has: the more complete one is kept.
    assistant_keys: int
    #: What is kept of the body: without messages and assistant; ``None`` for conversation.
    body: bytes | None
    report: bytes | None
    hang: HangInfo | None
    hang_raw: bytes | None
    error: ErrorInfo | None
    error_raw: bytes | None
    #: The validated envelope ``decode_lazy`` returned (messages raw), for listeners such
    #: as the monitor, which decode from it only what they use.
    lazy: LazyEvent | None = None
    #: The request body as received (the monitor's child process decodes it itself).
    data: bytes = b""


def parse_event(data: bytes, *, received_at: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Incoming:
    """Validate one request body and prepare it for the store; raises ``DecodeError``.

    The whole body must be UTF-8 without unpaired surrogate escapes, including the parts
    kept raw, so that everything stored is text. Ids (``call.id``, each ``messageId``,
    ``call.assistantId``, ``assistant._id``) are kept exactly, so one holding a NUL, which a
    PostgreSQL text column cannot hold, is refused (422) rather than changed.
    """
    check_text(data)
    lazy = decode_lazy(data)
    parts = _PARTS.decode(data).message  # cannot fail: decode_lazy accepted the same bytes
    for key, raw in parts.items():
        if key != "messages":
            check_depth(raw, max_depth - 2, f"$.message.{key}")
    call = lazy.call
    call_id = _id(call.id, "$.message.call.id") if call is not None else None
    for position, message in enumerate(lazy.messages or ()):
        _id(message.message_id, f"$.message.messages[{position}].messageId")
    fields: dict[str, bytes] = {}
    raw_call = parts.get("call")
    if raw_call is not None and call_id is not None:
        for key, value in _FIELDS.decode(compact(raw_call)).items():
            if key not in ("id", "status"):
                fields[key] = bytes(value)
    status = call.status if call is not None and isinstance(call.status, str) else None
    assistant_id = call.assistant_id if call is not None else None
    if isinstance(assistant_id, str):
        _id(assistant_id, "$.message.call.assistantId")
    assistant = assistant_digest = assistant_name = None
    assistant_keys = 0
    raw_assistant = lazy.assistant
    if raw_assistant is not None:
        assistant = compact(raw_assistant)
        if assistant != b"{}":
            assistant_digest = hashlib.blake2b(assistant, digest_size=16).hexdigest()
            keys = _FIELDS.decode(assistant) if assistant[:1] == b"{" else {}
            assistant_keys = len(keys)
            assistant_name = _string(keys.get("name"))
            own_id = _string(keys.get("_id"))
            if own_id is not None:
                _id(own_id, "$.message.assistant._id")
            if not isinstance(assistant_id, str) or not assistant_id:
                assistant_id = own_id
    hang = _typed(_HANG, lazy.hang, "$.message.hang")
    error = _typed(_ERROR, lazy.error, "$.message.error")
    body: bytes | None = None
    report: bytes | None = None
    if call_id is None:
        body = compact(data)
    elif lazy.type is not EventType.CONVERSATION_UPDATE:
        kept = {k: v for k, v in parts.items() if k not in _NOT_KEPT}
        body = compact(_ENCODE(kept))
    if call_id is not None and lazy.type is EventType.END_OF_CALL_REPORT:
        pieces: dict[str, msgspec.Raw] = {
            k: msgspec.Raw(fields[k]) for k in _REPORT_CALL_KEYS if k in fields
        }
        if "analysis" in parts:
            pieces["analysis"] = parts["analysis"]
        report = compact(_ENCODE(pieces))
    return Incoming(
        type=lazy.type,
        ts=lazy.timestamp,
        call_id=call_id,
        digest=body_digest(data),
        received_at=received_at,
        messages=lazy.messages,
        call_fields=fields,
        status=clean_text(status) if status else None,
        assistant_id=assistant_id if isinstance(assistant_id, str) else None,
        assistant=assistant,
        assistant_digest=assistant_digest,
        assistant_name=clean_text(assistant_name) if assistant_name else None,
        assistant_keys=assistant_keys,
        body=body,
        report=report,
        hang=hang,
        hang_raw=compact(lazy.hang) if lazy.hang is not None else None,
        error=error,
        error_raw=compact(lazy.error) if lazy.error is not None else None,
        lazy=lazy,
        data=data,
    )


def assistant_keys(body: str | bytes) -> int:
    """How many top-level keys a stored assistant object has (0 when it is no object)."""
    return len(_FIELDS.decode(body)) if body[:1] in ("{", b"{") else 0


def body_digest(data: bytes) -> int:
    """The digest ``arrivals.digest`` holds for a request body."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big", signed=True)


def compact(raw: msgspec.Raw | bytes) -> bytes:
    """The same JSON without insignificant whitespace."""
    return msgspec.json.format(bytes(raw), indent=-1)


def check_depth(raw: msgspec.Raw | bytes, limit: int, path: str) -> None:
    """Raise ``DecodeError`` when ``raw`` nests arrays/objects deeper than ``limit``.

    Runs at C speed: strings are dropped, then innermost ``{}``/``[]`` pairs are removed
    once per level, so the work is the size times the depth, bounded by ``limit``.
    """
    data = bytes(raw)
    if data.count(b"{") + data.count(b"[") <= limit:
        return
    if b'"' in data:
        data = _STRING_RE.sub(b"", data)
    data = data.translate(None, _NON_BRACKETS)
    for _ in range(limit):
        shorter = data.replace(b"{}", b"").replace(b"[]", b"")
        if not shorter:
            return
        data = shorter
    raise DecodeError(f"JSON nesting is deeper than the limit of {limit + 2} levels", path)


def _typed(decoder: msgspec.json.Decoder[T], raw: msgspec.Raw | None, path: str) -> T | None:
    if raw is None:
        return None
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        reason, _, where = str(exc).partition(" - at `$")
        raise DecodeError(reason, path + where.rstrip("`")) from None


def _string(raw: msgspec.Raw | None) -> str | None:
    if raw is None or bytes(raw)[:1] != b'"':
        return None
    return _STRING.decode(raw)


def check_text(data: bytes) -> None:
    """Raise ``DecodeError`` unless ``data`` is UTF-8 and every ``\\u`` escape is text.

    msgspec checks both only in what it decodes to ``str``; the parts it skips or keeps raw
    (unknown keys, messages) are checked here, so that every stored span decodes. Both
    checks are skipped in C when the body is ASCII or has no backslash.
    """
    if not data.isascii():
        try:
            data.decode()
        except UnicodeDecodeError as exc:
            reason = f"Invalid JSON: the body is not UTF-8 (byte {exc.start} is invalid)"
            raise DecodeError(reason) from None
    if b"\\" not in data or _ESCAPES.search(data) is None:
        return
    try:  # an unpaired surrogate escape (\\ud800) is refused by format()
        msgspec.json.format(data)
    except msgspec.DecodeError as exc:
        reason = str(exc).removeprefix("JSON is malformed: ")
        if reason == "Input data was truncated":
            reason = "a \\u escape is an unpaired UTF-16 surrogate"
        raise DecodeError(f"Invalid JSON: {reason}") from None


def clean_text(text: str) -> str:
    """A string for a column derived for filtering (status, role, error code...): without
    NUL, which PostgreSQL text refuses. The JSON kept beside it has the string exactly."""
    return text.replace("\x00", "") if "\x00" in text else text


#: The longest id kept, in characters: a call id must fit in a query address
#: (``/api/calls/{callId}``) however it is escaped.
MAX_ID_LENGTH = 1024


def _id(value: str, path: str) -> str:
    """An id is kept exactly: one that a text column cannot hold, or too long to look up, is
    refused."""
    if len(value) > MAX_ID_LENGTH:
        raise DecodeError(
            f"An id must be at most {MAX_ID_LENGTH} characters (got {len(value)})", path
        )
    if "\x00" in value:
        raise DecodeError(
            "An id must not contain U+0000 (NUL): callhook keeps ids exactly and a NUL "
            "cannot be stored",
            path,
        )
    return value


#: A surrogate escape (after an escaped backslash it also matches: harmless, format() passes).
_ESCAPES = re.compile(rb"\\u[dD][89a-fA-F]")
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NON_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")
