"""JSON Schema generated from the models."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.events import EventType, json_schema


def _event_def(schema: dict[str, Any], name: str) -> dict[str, Any]:
    definition: dict[str, Any] = schema["$defs"][name]
    return definition


@pytest.mark.parametrize("kind", list(EventType))
def test_each_event_schema_pins_its_type(kind: EventType) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == f"callhook {kind.value} event"
    events = [d for d in schema["$defs"].values() if "type" in d.get("properties", {})]
    event = next(d for d in events if d["properties"]["type"].get("enum") == [kind.value])
    assert "type" in event["required"]
    if kind is not EventType.STATUS_UPDATE:
        assert "messages" in event["properties"]


def test_schema_uses_wire_names_and_requires_ids() -> None:
    schema = json_schema()
    call = _event_def(schema, "Call")
    assert call["required"] == ["id"]
    assert call["properties"]["id"]["minLength"] == 1
    assert "assistantCallDuration" in call["properties"]
    message = _event_def(schema, "Message")
    assert message["required"] == ["messageId"]
    assert "interactlyEOU" in _event_def(schema, "MessageMetrics")["properties"]
    assert "_id" in _event_def(schema, "Assistant")["properties"]
    assert "assistantLLMUrl" in _event_def(schema, "Assistant")["properties"]


def test_union_schema_lists_all_five() -> None:
    schema = json_schema()
    tags = {
        d["properties"]["type"]["enum"][0]
        for d in schema["$defs"].values()
        if "enum" in d.get("properties", {}).get("type", {})
    }
    assert tags == {t.value for t in EventType}


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a valid EventType"):
        json_schema("call-started")
