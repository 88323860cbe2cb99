"""Hypothesis strategies for wire payloads of all five event types (as JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from callhook.events import EventType

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
NUMBER = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
TEXT = st.text(max_size=30)
JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
#: Keys no model declares: they must survive a round trip.
UNKNOWN = st.dictionaries(
    st.text(min_size=1, max_size=8).map(lambda k: f"x-{k}"), JSON_VALUE, max_size=2
)


def _obj(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the required keys, any subset of the optional ones (each may be null),
    and maybe some unknown keys."""
    nullable = {k: st.one_of(st.none(), v) for k, v in optional.items()}
    known = st.fixed_dictionaries(required, optional=nullable)
    return st.builds(lambda a, b: {**b, **a}, known, UNKNOWN)


def _group(*keys: str, flags: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    return _obj({}, {**{k: NUMBER for k in keys}, **{f: st.booleans() for f in flags}})


METRICS = _obj(
    {},
    {
        "timeline": _group("totalElapsedTimeMs", "offsetFromPreviousTurnMs"),
        "audio": _group(
            "totalAudioReceivedMs", "audioDelayPerTurnMs", "lostPacketsCumulativeCount"
        ),
        "stt": _group("timestampMs", "durationMs", "vadMs", "relativeLatencyMs", "confidence"),
        "interactlyEOU": _group("turnDetectionTimeMs", "queueLatencyMs"),
        "llm": _group("timestampMs", "responseLatencyMs", "queueLatencyMs"),
        "tts": _group("audioDurationMs", "generationTimeMs", flags=("isCachePlaying",)),
        "interactlyPlayer": _group("waitTimeMs"),
        "hang": _group("waitedMs"),
    },
)
SKIPPED = _obj(
    {},
    {"messageId": TEXT, "text": TEXT, "timestamp": NUMBER, "playedText": TEXT, "playedMs": NUMBER},
)
MESSAGE = _obj(
    {"messageId": TEXT},
    {
        "role": st.sampled_from(["user", "assistant"]),
        "text": TEXT,
        "timestamp": NUMBER,
        "metrics": METRICS,
        "skippedAssistantMessages": st.lists(SKIPPED, max_size=2),
    },
)
COST = _obj({}, {k: NUMBER for k in ("callDuration", "phoneCost", "totalCost", "ttsGenCharsTotal")})
BOT_TURN = _obj(
    {},
    {
        "start": NUMBER,
        "end": NUMBER,
        "interrupted": st.booleans(),
        "playedDuration": NUMBER,
        "userMessageId": TEXT,
        "stopSpeakingReason": TEXT,
    },
)
CALL_STATS = _obj(
    {},
    {
        "turns": _group("user", "bot", "played", "interrupted", "skipped"),
        "turnsStats": _obj(
            {},
            {
                "botTurns": st.lists(BOT_TURN, max_size=2),
                "botResponseTime": st.lists(NUMBER, max_size=3),
                "bargeInCount": NUMBER,
            },
        ),
        "llmStats": _obj(
            {}, {"responseTimeDistribution": st.dictionaries(TEXT, NUMBER, max_size=3)}
        ),
    },
)
CALL = _obj(
    {"id": st.text(min_size=1, max_size=20)},
    {
        "status": st.sampled_from(
            ["initiated", "queued", "ongoing", "forwarded", "finished", "failed"]
        ),
        "direction": st.sampled_from(["inbound", "outbound", ""]),
        "startAt": TEXT,
        "endAt": TEXT,
        "assistantCallDuration": NUMBER,
        "metadata": st.dictionaries(TEXT, JSON_VALUE, max_size=2),
        "recording": _obj({}, {"s3Bucket": TEXT, "path": TEXT}),
        "assistantOverrides": _obj(
            {}, {"dynamicVariables": st.dictionaries(TEXT, TEXT, max_size=2)}
        ),
        "cost": COST,
        "metrics": _obj({}, {"callStats": CALL_STATS}),
        "monitor": _obj({}, {"controlUrl": TEXT}),
    },
)
ASSISTANT = _obj(
    {},
    {
        "_id": TEXT,
        "name": TEXT,
        "endCallPhrases": st.lists(TEXT, max_size=2),
        "bargeInEnabled": st.booleans(),
        "assistantLLMUrl": TEXT,
        "assistantServer": _obj(
            {}, {"url": TEXT, "secret": TEXT, "headers": st.dictionaries(TEXT, TEXT, max_size=2)}
        ),
        "config": _obj(
            {}, {"speech": _obj({}, {"ttsData": st.lists(_obj({}, {"voice": TEXT}), max_size=2)})}
        ),
    },
)
ANALYSIS = _obj(
    {},
    {
        "summary": TEXT,
        "successEvaluation": TEXT,
        "structuredData": st.dictionaries(TEXT, JSON_VALUE, max_size=2),
    },
)
ERROR = _obj(
    {},
    {
        "type": TEXT,
        "code": TEXT,
        "retryable": st.booleans(),
        "details": st.dictionaries(TEXT, JSON_VALUE, max_size=2),
    },
)
HANG = _obj(
    {}, {"pendingMessageId": TEXT, "waitedMs": NUMBER, "thresholdMs": NUMBER, "stage": TEXT}
)

_COMMON = {
    "timestamp": INT64,
    "call": CALL,
    "assistant": ASSISTANT,
    "phone": _obj({}, {"provider": _obj({}, {"name": TEXT})}),
    "customer": _obj({}, {"number": TEXT}),
    "analysis": ANALYSIS,
}
_EXTRA_BY_TYPE: dict[EventType, dict[str, Any]] = {
    EventType.STATUS_UPDATE: {},
    EventType.CONVERSATION_UPDATE: {"messages": st.lists(MESSAGE, max_size=4)},
    EventType.END_OF_CALL_REPORT: {"messages": st.lists(MESSAGE, max_size=4)},
    EventType.HANG: {"messages": st.lists(MESSAGE, max_size=4), "hang": HANG},
    EventType.ERROR: {"messages": st.lists(MESSAGE, max_size=4), "error": ERROR},
}


def event_body(kind: EventType) -> st.SearchStrategy[dict[str, Any]]:
    """A whole request body ``{"message": {...}}`` of the given type."""
    message = _obj({"type": st.just(kind.value)}, {**_COMMON, **_EXTRA_BY_TYPE[kind]})
    return _obj({"message": message}, {})


ANY_EVENT_BODY = st.sampled_from(list(EventType)).flatmap(event_body)
