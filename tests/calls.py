"""Synthetic calls for tests: the five events of one call, in the order a platform sends them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

START = 1_772_702_480_000


@dataclass(frozen=True)
class Event:
    kind: str
    timestamp: int
    body: bytes
    full_history: bool


def _message(index: int, at: int) -> dict[str, Any]:
    if index == 0:
        return {
            "messageId": "welcome-1",
            "role": "assistant",
            "text": "Welcome!",
            "timestamp": at,
            "metrics": {"tts": {"audioDurationMs": 1442, "isCachePlaying": True}},
        }
    turn = (index + 1) // 2
    if index % 2 == 1:
        return {
            "messageId": f"user-{turn}",
            "role": "user",
            "text": f"question {turn}",
            "timestamp": at,
            "metrics": {"stt": {"confidence": 0.9, "durationMs": 1200}},
            "skippedAssistantMessages": [],
        }
    return {
        "messageId": f"user-{turn}-AbCdEfGhIj-{at}",
        "role": "assistant",
        "text": f"answer {turn}",
        "timestamp": at,
        "metrics": {"llm": {"responseLatencyMs": 800 + turn}, "tts": {"generationTimeMs": 7}},
    }


def make_call(
    call_id: str,
    n_messages: int,
    *,
    hang: bool = True,
    error: bool = True,
    assistant: str = "asst-1",
) -> list[Event]:
    """Status updates, one conversation-update per message, an optional hang and error,
    the finished status and the end-of-call report; strictly increasing timestamps."""
    events: list[Event] = []
    clock = START
    history: list[dict[str, Any]] = []

    def call(status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": call_id,
            "assistantId": assistant,
            "callType": "web",
            "status": status,
            "assistantCallDuration": clock - START,
            "startAt": "2026-03-05T09:21:20.063Z",
            "recording": {"s3Bucket": "", "path": ""},
            **extra,
        }

    def emit(kind: str, message: dict[str, Any], full: bool) -> None:
        nonlocal clock
        message = {"timestamp": clock, "type": kind, **message}
        events.append(Event(kind, clock, json.dumps({"message": message}).encode(), full))
        clock += 1000

    asst = {"_id": assistant, "name": "Test assistant", "assistantModel": "m-1"}
    for status in ("initiated", "queued", "ongoing"):
        emit("status-update", {"call": call(status), "assistant": asst}, False)
    for index in range(n_messages):
        message = _message(index, clock)
        if hang and index == 2:  # the late response to user-1, after the hang
            message["metrics"]["hang"] = {"waitedMs": 6200}
        history.append(message)
        emit("conversation-update", {"call": call("ongoing"), "messages": list(history)}, False)
        if hang and index == 1:
            emit(
                "hang",
                {
                    "call": call("ongoing"),
                    "messages": list(history),
                    "hang": {
                        "pendingMessageId": "user-1",
                        "waitedMs": 5100,
                        "thresholdMs": 5000,
                        "stage": "llm",
                    },
                },
                False,
            )
        if error and index == 2:
            emit(
                "error",
                {
                    "call": call("ongoing"),
                    "messages": list(history),
                    "error": {
                        "type": "llm_error",
                        "code": "rate_limit_exceeded",
                        "message": "slow down",
                        "provider": "openai",
                        "retryable": True,
                        "details": {"retryAfter": 2},
                    },
                },
                False,
            )
    emit("status-update", {"call": call("finished", endAt="2026-03-05T09:22:00.000Z")}, False)
    final = call(
        "finished",
        endAt="2026-03-05T09:22:00.000Z",
        cost={"totalCost": 0.12, "callDuration": 40},
        metrics={"callStats": {"turns": {"user": n_messages // 2}}},
    )
    emit(
        "end-of-call-report",
        {
            "call": final,
            "messages": list(history),
            "assistant": asst,
            "analysis": {"summary": "ok", "successEvaluation": "Good"},
        },
        True,
    )
    return events
