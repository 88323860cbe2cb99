"""What the adapter tests share: an assistant with prices, reading emitted events back."""

from __future__ import annotations

import json
from typing import Any

from callhook import events
from callhook.engine import CallParams, EngineConfig, ListSink, Prices
from callhook.events import (
    Assistant,
    AssistantServer,
    SpeechConfig,
    SttConfig,
    TtsConfig,
    VoiceConfig,
)

PRICES = Prices(
    platform_per_minute=0.01,
    stt_per_minute={"deepgram": 0.0043},
    tts_per_character={"cartesia": 0.00003},
    llm_per_input_token={"openai": 0.00000015},
    llm_per_output_token={"openai": 0.0000006},
)
CONFIG = EngineConfig(prices=PRICES)
TYPES = ["status-update", "conversation-update", "end-of-call-report", "hang", "error"]


def assistant(*, welcome: str = "", server_url: str = "") -> Assistant:
    server = (
        AssistantServer(enabled=True, url=server_url, timeout_seconds=20, messages=TYPES)
        if server_url
        else AssistantServer(enabled=False)
    )
    return Assistant(
        id="65f0c0ffee0000000000abcd",
        name="Front desk",
        welcome_message=welcome,
        welcome_message_mode="assistant-speaks-first",
        barge_in_enabled=True,
        assistant_provider="openai",
        assistant_model="gpt-4o-mini",
        assistant_system_prompt="You are the front desk of a clinic.",
        assistant_server=server,
        config=VoiceConfig(
            speech=SpeechConfig(
                stt=SttConfig(vendor="deepgram", language="en-US"),
                tts_data=[TtsConfig(vendor="cartesia", language="en-US", voice="sonic")],
            )
        ),
    )


def params(call_id: str) -> CallParams:
    return CallParams(id=call_id, team_id="team-pipelines", user_number="web-Ada")


def wire(sink: ListSink) -> list[dict[str, Any]]:
    """Each emitted event as the wire carries it (decoded back as a check)."""
    out = []
    for envelope in sink.envelopes:
        data = events.encode(envelope)
        events.decode(data)
        out.append(json.loads(data)["message"])
    return out


def of_type(emitted: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in emitted if event["type"] == kind]


def assert_full_histories(emitted: list[dict[str, Any]]) -> None:
    """Every conversation-update carries all messages so far, one more than the last one."""
    seen: list[str] = []
    for update in of_type(emitted, "conversation-update"):
        ids = [message["messageId"] for message in update["messages"]]
        assert ids[:-1] == seen and len(ids) == len(seen) + 1, (seen, ids)
        seen = ids
    report = of_type(emitted, "end-of-call-report")[0]
    assert [message["messageId"] for message in report["messages"]] == seen


#: Free-form or per-assistant content (SPEC §1: the assistant may be full, truncated or {}).
FREE = frozenset(
    {
        "$.message.assistant",
        "$.message.call.metadata",
        "$.message.call.assistantOverrides",
        "$.message.error.details",
        "$.message.analysis.structuredData",  # the keys of the assistant's schema
    }
)
#: callhook extensions and keys that appear only at the end (SPEC §2-3).
EXTENSIONS = {
    "$.message": {"hang"},
    "$.message.call": {"endAt"},
    "$.message.messages[].metrics": {"hang"},
}


def shape_problems(emitted: list[dict[str, Any]]) -> list[str]:
    """Where an emitted event's keys differ from the published example of its type (the
    samples in tests/samples carry exactly the published examples' keys)."""
    from tests.conftest import sample_path
    from tests.engine.helpers import key_problems

    problems: list[str] = []
    for event in emitted:
        sample = json.loads(sample_path(f"{event['type']}.full.json").read_bytes())
        # The published hang shows user messages only; the engine's own tests check the rest.
        free = FREE | {"$.message.messages"} if event["type"] == "hang" else FREE
        found = key_problems({"message": event}, sample, free=free, extensions=EXTENSIONS)
        problems += [f"{event['type']}: {problem}" for problem in found]
    return sorted(set(problems))
