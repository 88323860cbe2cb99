"""Shared pieces of the engine tests: an assistant, a session factory, key-shape comparison."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from callhook import events
from callhook.engine import CallParams, CallSession, EngineConfig, FakeScheduler, ListSink
from callhook.events import (
    AnalysisTask,
    Assistant,
    AssistantAnalysis,
    AssistantOverrides,
    AssistantServer,
    parse_message_id,
)

START_MS = 1_772_702_479_627
CALL_ID = "WC-82015760-c3bd-427d-a23b-ba9b07e4ab85"
TEAM_ID = "67c0231ae6880fe48ef929ee"


def make_assistant(**changes: Any) -> Assistant:
    """A small assistant like the published one; ``changes`` replace its fields."""
    fields: dict[str, Any] = {
        "id": "697769ef5e6d94d5ad83e01e",
        "name": "Mary Dental - main",
        "welcome_message": "Welcome to {{clinic}}!!",
        "welcome_message_mode": "automatic",
        "end_call_message": "",
        "end_call_phrases": ["Goodbye", "Bye"],
        "barge_in_enabled": True,
        "assistant_provider": "openai",
        "assistant_model": "gpt-4o-mini",
        "assistant_system_prompt": "You are Rachel at {{clinic}}. Serial {{serial_number}}.",
        "assistant_analysis": AssistantAnalysis(
            structured_data=AnalysisTask(
                enabled=True,
                schema={
                    "type": "object",
                    "properties": {
                        "Name": {"type": "string"},
                        "phone number": {"type": "string"},
                        "serial_number": {"type": "number"},
                    },
                },
            )
        ),
        "assistant_server": AssistantServer(
            enabled=True,
            url="https://example.test/events",
            secret="s3cret",
            headers={"Authorization": "Bearer abc"},
            messages=["status-update"],
        ),
    }
    fields.update(changes)
    return Assistant(**fields)


def make_params(**changes: Any) -> CallParams:
    fields: dict[str, Any] = {
        "id": CALL_ID,
        "team_id": TEAM_ID,
        "user_number": "web-Ramesh Naik",
        "assistant_overrides": AssistantOverrides(
            dynamic_variables={"clinic": "Apollo clinic", "serial_number": "42"},
            variables_validations={"clinic": "none", "serial_number": "none"},
        ),
    }
    fields.update(changes)
    return CallParams(**fields)


def make_session(
    assistant: Assistant | None = None,
    *,
    config: EngineConfig | None = None,
    answered: bool = True,
    **params: Any,
) -> tuple[CallSession, FakeScheduler, ListSink]:
    """A session on a fake clock; ``answered`` takes it through initiated and answered."""
    scheduler = FakeScheduler(START_MS)
    sink = ListSink()
    session = CallSession(
        assistant or make_assistant(),
        make_params(**params),
        scheduler=scheduler,
        sink=sink,
        config=config,
        rng=random.Random(7),
    )
    if answered:
        session.initiated()
        session.answered()
    return session, scheduler, sink


def statuses(sink: ListSink) -> list[str]:
    """The ``call.status`` of each status-update, in order."""
    return [
        str(e.call.status)
        for e in sink.events
        if isinstance(e, events.StatusUpdate) and isinstance(e.call, events.Call)
    ]


def updates(sink: ListSink) -> list[events.ConversationUpdate]:
    return [e for e in sink.events if isinstance(e, events.ConversationUpdate)]


def types(sink: ListSink) -> list[str]:
    return [str(event.type) for event in sink.events]


def as_json(envelope: events.Envelope[events.Event]) -> dict[str, Any]:
    """The envelope as the wire carries it, after a decode check."""
    data = events.encode(envelope)
    events.decode(data)
    result: dict[str, Any] = json.loads(data)
    return result


_INDEX = re.compile(r"\[\d+\]")


def key_problems(
    ours: Any,
    theirs: Any,
    *,
    free: frozenset[str] = frozenset(),
    extensions: dict[str, set[str]] | None = None,
    path: str = "$",
) -> list[str]:
    """Where ``ours`` and ``theirs`` differ in keys, at every nesting level.

    ``free`` names paths whose content is free-form (not compared); ``extensions`` maps a path
    to keys ``ours`` may add. Messages are compared with the fixture message of their kind
    (welcome, user, assistant); other lists element-wise with the fixture's first element.
    Paths use ``[]`` for list positions.
    """
    extensions = extensions or {}
    if path in free:
        return []
    if isinstance(ours, dict) and isinstance(theirs, dict):
        allowed = extensions.get(path, set())
        problems = []
        extra = set(ours) - set(theirs) - allowed
        missing = set(theirs) - set(ours)
        if extra or missing:
            problems.append(f"{path}: extra {sorted(extra)}, missing {sorted(missing)}")
        for key in set(ours) & set(theirs):
            problems += key_problems(
                ours[key], theirs[key], free=free, extensions=extensions, path=f"{path}.{key}"
            )
        return problems
    if isinstance(ours, list) and isinstance(theirs, list) and theirs:
        problems = []
        for item in ours:
            model = theirs[0]
            if path == "$.message.messages":
                kind = parse_message_id(item["messageId"]).kind
                same = [m for m in theirs if parse_message_id(m["messageId"]).kind is kind]
                if not same:
                    problems.append(f"{path}: the fixture has no {kind} message")
                    continue
                model = same[0]
            problems += key_problems(
                item, model, free=free, extensions=extensions, path=f"{path}[]"
            )
        return problems
    return []
