"""JSON Schema of the payloads, generated from the models."""

from __future__ import annotations

from typing import Any

import msgspec

from callhook.events._events import (
    ConversationUpdate,
    EndOfCallReport,
    Envelope,
    ErrorEvent,
    Event,
    EventType,
    HangEvent,
    StatusUpdate,
)

__all__ = ["EVENT_CLASSES", "json_schema"]

#: The model class of each event type.
EVENT_CLASSES: dict[EventType, type[Event]] = {
    EventType.STATUS_UPDATE: StatusUpdate,
    EventType.CONVERSATION_UPDATE: ConversationUpdate,
    EventType.END_OF_CALL_REPORT: EndOfCallReport,
    EventType.HANG: HangEvent,
    EventType.ERROR: ErrorEvent,
}


def json_schema(event_type: EventType | str | None = None) -> dict[str, Any]:
    """JSON Schema (2020-12) of a request body: one event type, or any of the five."""
    if event_type is None:
        target: Any = Envelope[Event]
        title = "callhook event"
    else:
        kind = EventType(event_type)
        target = Envelope[EVENT_CLASSES[kind]]  # type: ignore[valid-type]  # runtime alias
        title = f"callhook {kind.value} event"
    schema = msgspec.json.schema(target)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **schema}
