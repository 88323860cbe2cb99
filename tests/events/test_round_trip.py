"""Property: decode -> encode of any valid payload of the five types gives equal JSON."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings

from callhook import events
from tests.events.strategies import ANY_EVENT_BODY


@settings(max_examples=300, deadline=None)
@given(ANY_EVENT_BODY)
def test_decode_encode_round_trip(body: dict[str, Any]) -> None:
    data = msgspec.json.encode(body)
    envelope = events.decode(data)
    assert envelope.message.type == body["message"]["type"]
    assert json.loads(events.encode(envelope)) == json.loads(data)


@settings(max_examples=200, deadline=None)
@given(ANY_EVENT_BODY)
def test_lazy_messages_equal_full_messages(body: dict[str, Any]) -> None:
    data = msgspec.json.encode(body)
    full = events.decode(data).message
    lazy = events.decode_lazy(data)
    full_messages = getattr(full, "messages", None) or []
    assert [events.decode_message(m.raw) for m in lazy.messages or []] == full_messages
    assert [m.message_id for m in lazy.messages or []] == [m.message_id for m in full_messages]


def test_unknown_keys_are_kept_on_the_object_that_had_them() -> None:
    body = {
        "message": {
            "type": "hang",
            "call": {"id": "c", "region": "eu"},
            "messages": [{"messageId": "user-1", "metrics": {"stt": {"model": "nova"}}}],
            "priority": 2,
        },
        "v": 1,
    }
    envelope = events.decode(msgspec.json.encode(body))
    event = envelope.message
    assert events.extra_fields(envelope) == {"v": 1}
    assert events.extra_fields(event) == {"priority": 2}
    assert isinstance(event.call, events.Call)
    assert events.extra_fields(event.call) == {"region": "eu"}
    assert isinstance(event, events.HangEvent)
    assert isinstance(event.messages, list)
    metrics = event.messages[0].metrics
    assert isinstance(metrics, events.MessageMetrics)
    assert events.extra_fields(metrics) == {}
    assert isinstance(metrics.stt, events.SttMetrics)
    assert events.extra_fields(metrics.stt) == {"model": "nova"}
    assert json.loads(events.encode(envelope)) == body


def test_models_built_in_code_encode_to_the_wire_names() -> None:
    event = events.ConversationUpdate(
        timestamp=1772702480281,
        call=events.Call(id="WC-1", status="ongoing", assistant_call_duration=0),
        messages=[
            events.Message(
                message_id="user-1",
                role="user",
                metrics=events.MessageMetrics(interactly_eou=events.EouMetrics(queue_latency_ms=0)),
            )
        ],
    )
    assert json.loads(events.encode(events.Envelope(message=event))) == {
        "message": {
            "type": "conversation-update",
            "timestamp": 1772702480281,
            "call": {"id": "WC-1", "status": "ongoing", "assistantCallDuration": 0},
            "messages": [
                {
                    "messageId": "user-1",
                    "role": "user",
                    "metrics": {"interactlyEOU": {"queueLatencyMs": 0}},
                }
            ],
        }
    }
