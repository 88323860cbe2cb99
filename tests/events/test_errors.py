"""Malformed payloads: each error is a DecodeError naming the JSON path and what was expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callhook import CallhookError, DecodeError, events

CALL = {"id": "WC-1", "status": "ongoing"}


def _body(**message: Any) -> bytes:
    return json.dumps(
        {"message": {"type": "conversation-update", "call": CALL, **message}}
    ).encode()


def _deep(levels: int) -> bytes:
    nested = "[" * levels + "]" * levels
    return (
        '{"message": {"type": "hang", "call": {"id": "c", "metadata": {"x": ' + nested + "}}}}"
    ).encode()


CASES: list[tuple[str, bytes, str, str]] = [
    ("not JSON", b"hello", "$", "Invalid JSON: invalid character (byte 0)"),
    ("empty input", b"", "$", "Invalid JSON: the input is empty or truncated"),
    ("truncated", b'{"message": {', "$", "Invalid JSON: the input is empty or truncated"),
    (
        "trailing comma",
        b'{"message": {"type": "hang",}}',
        "$",
        "Invalid JSON: trailing comma in object (byte 28)",
    ),
    ("top level array", b"[]", "$", "Expected `object`, got `array`"),
    ("top level string", b'"message"', "$", "Expected `object`, got `str`"),
    ("no message", b'{"msg": {}}', "$", "Object missing required field `message`"),
    ("message not an object", b'{"message": 3}', "$.message", "Expected `object`, got `int`"),
    (
        "no type",
        b'{"message": {"call": {"id": "c"}}}',
        "$.message",
        "Object missing required field `type`",
    ),
    (
        "unknown type",
        b'{"message": {"type": "call-started"}}',
        "$.message.type",
        "Unknown event type 'call-started', expected one of: status-update, "
        "conversation-update, end-of-call-report, hang, error",
    ),
    (
        "type not a string",
        b'{"message": {"type": 7}}',
        "$.message.type",
        "Expected `str`, got `int`",
    ),
    (
        "call without id",
        _body(call={"status": "ongoing"}),
        "$.message.call",
        "Object missing required field `id`",
    ),
    ("empty call id", _body(call={"id": ""}), "$.message.call.id", "Expected `str` of length >= 1"),
    (
        "call id not a string",
        _body(call={"id": 12}),
        "$.message.call.id",
        "Expected `str`, got `int`",
    ),
    (
        "call not an object",
        _body(call="WC-1"),
        "$.message.call",
        "Expected `object | null`, got `str`",
    ),
    (
        "messages not a list",
        _body(messages={"a": 1}),
        "$.message.messages",
        "Expected `array | null`, got `object`",
    ),
    (
        "message not an object",
        _body(messages=["hi"]),
        "$.message.messages[0]",
        "Expected `object`, got `str`",
    ),
    (
        "message without messageId",
        _body(messages=[{"messageId": "welcome-1"}, {"role": "user", "text": "hi"}]),
        "$.message.messages[1]",
        "Object missing required field `messageId`",
    ),
    (
        "messageId not a string",
        _body(
            messages=[{"messageId": "a"}, {"messageId": "b"}, {"messageId": "c"}, {"messageId": 4}]
        ),
        "$.message.messages[3].messageId",
        "Expected `str`, got `int`",
    ),
    (
        "metrics value of the wrong type",
        _body(messages=[{"messageId": "user-1", "metrics": {"stt": {"confidence": "high"}}}]),
        "$.message.messages[0].metrics.stt.confidence",
        "Expected `int | float | null`, got `str`",
    ),
    (
        "metrics group not an object",
        _body(messages=[{"messageId": "user-1", "metrics": {"llm": [1]}}]),
        "$.message.messages[0].metrics.llm",
        "Expected `object | null`, got `array`",
    ),
    (
        "timestamp too large for int64",
        b'{"message": {"type": "hang", "timestamp": 9223372036854775808}}',
        "$.message.timestamp",
        "Expected `int` <= 9223372036854775807",
    ),
    (
        "metric too large for int64",
        _body(
            messages=[{"messageId": "u", "metrics": {"timeline": {"totalElapsedTimeMs": 10**30}}}]
        ),
        "$.message.messages[0].metrics.timeline.totalElapsedTimeMs",
        "Expected `int` <= 9223372036854775807",
    ),
    ("deeply nested JSON", _deep(5000), "$", "JSON nesting is too deep (over about 1000 levels)"),
    (
        "error event with a bad error object",
        b'{"message": {"type": "error", "error": {"retryable": "yes"}}}',
        "$.message.error.retryable",
        "Expected `bool | null`, got `str`",
    ),
    (
        "histogram with a string count",
        _body(
            call={
                "id": "c",
                "metrics": {"callStats": {"llmStats": {"responseTimeDistribution": {"0": "x"}}}},
            }
        ),
        "$.message.call.metrics.callStats.llmStats.responseTimeDistribution[...]",
        "Expected `int | float`, got `str`",
    ),
]


@pytest.mark.parametrize(
    ("data", "path", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_input_names_path_and_reason(data: bytes, path: str, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        events.decode(data)
    assert (info.value.path, info.value.reason) == (path, reason)
    assert str(info.value) == f"{reason} - at `{path}`"


# The fast path checks the envelope, the call and each messageId; the rest of a message, and
# the other top-level objects, are checked when they are decoded.
NOT_CHECKED_BY_LAZY = {
    "metrics value of the wrong type",
    "metrics group not an object",
    "metric too large for int64",
    "error event with a bad error object",
}
ENVELOPE_CASES = [c for c in CASES if c[0] not in NOT_CHECKED_BY_LAZY]


@pytest.mark.parametrize(
    ("data", "path", "reason"), [c[1:] for c in ENVELOPE_CASES], ids=[c[0] for c in ENVELOPE_CASES]
)
def test_lazy_decode_reports_envelope_errors_alike(data: bytes, path: str, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        events.decode_lazy(data)
    assert (info.value.path, info.value.reason) == (path, reason)


def test_decode_message_prefixes_the_given_path() -> None:
    with pytest.raises(DecodeError) as info:
        events.decode_message(
            b'{"messageId": "u", "timestamp": "now"}', path="$.message.messages[7]"
        )
    assert info.value.path == "$.message.messages[7].timestamp"


def test_decode_error_is_a_callhook_error_and_names_the_source() -> None:
    with pytest.raises(CallhookError) as info:
        events.decode(b"[]", source="payload.json")
    assert str(info.value) == "payload.json: Expected `object`, got `array` - at `$`"


def test_null_and_absent_fields_are_accepted() -> None:
    body = _body(
        call={"id": "c", "endAt": None, "cost": None, "metrics": None, "direction": ""},
        assistant={},
        messages=[
            {"messageId": "user-1", "metrics": {"stt": {"confidence": -0.5, "vadMs": -100.25}}}
        ],
    )
    event = events.decode(body).message
    assert isinstance(event.call, events.Call)
    assert event.call.end_at is None
    assert event.call.start_at is events.UNSET
    assert json.loads(events.encode(events.decode(body))) == json.loads(body)
