"""Property: decode -> encode of any valid payload of the five types gives equal JSON."""

from __future__ import annotations

import gc
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


def test_unknown_keys_are_listed_by_the_path_of_their_object() -> None:
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
    assert events.unknown_keys(envelope) == {
        "$": {"v": 1},
        "$.message": {"priority": 2},
        "$.message.call": {"region": "eu"},
        "$.message.messages[0].metrics.stt": {"model": "nova"},
    }
    assert json.loads(events.encode(envelope)) == body
    # A rebuilt envelope carries only what its models hold.
    rebuilt = events.Envelope(message=envelope.message)
    assert events.unknown_keys(rebuilt) == {}
    assert "priority" not in json.loads(events.encode(rebuilt))["message"]


def test_wire_models_are_not_tracked_by_the_garbage_collector() -> None:
    """Emitters hold thousands of live messages; collections must not walk them."""
    message = events.Message(message_id="user-1", metrics=events.MessageMetrics())
    assert not gc.is_tracked(message)
    assert not gc.is_tracked(events.Call(id="c"))


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
