"""What the Vapi and Retell normalizations share: the result type, message and event shapes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from callhook.platforms._json import Json

__all__ = ["Normalized", "Platform", "overrides", "reply_pairs", "transcript_message"]


class Platform:
    """The platform names a normalized call records in ``call.platform``."""

    VAPI = "vapi"
    RETELL = "retell"


@dataclass(frozen=True, slots=True)
class Normalized:
    """One platform delivery as callhook events.

    ``events`` are request bodies in callhook's (Interactly's) shape, in the order to store
    them; empty when the delivery type carries nothing callhook keeps (it is answered 200).
    """

    platform: str
    #: The platform's own event type (``end-of-call-report``, ``call_ended``, ...).
    native_type: str
    events: tuple[bytes, ...]
    call_id: str | None


def transcript_message(
    message_id: str,
    role: str,
    text: str,
    *,
    timestamp: int | None,
    start_ms: int | None,
    end_ms: int | None,
) -> Json:
    """A message of ``messages[]`` from one utterance, with the metrics its own times give.

    ``start_ms`` / ``end_ms`` are ms from the call's start. Only the utterance itself is read,
    so every event that carries it carries the same message (the store keeps the first).
    """
    metrics: Json = {}
    if start_ms is not None:
        metrics["timeline"] = {"totalElapsedTimeMs": start_ms}
    duration = end_ms - start_ms if start_ms is not None and end_ms is not None else None
    if duration is not None and duration >= 0:
        if role == "user":
            metrics["stt"] = {
                "startOffsetMs": start_ms,
                "endOffsetMs": end_ms,
                "durationMs": duration,
            }
        else:
            metrics["tts"] = {"audioDurationMs": duration}
    message: Json = {"messageId": message_id, "role": role, "text": text}
    if timestamp is not None:
        message["timestamp"] = timestamp
    message["metrics"] = metrics
    if role == "user":
        message["skippedAssistantMessages"] = []
    return message


def reply_pairs(messages: list[Json]) -> list[tuple[str, str]]:
    """``(user messageId, assistant messageId)`` of each reply: an assistant message right
    after a user message (the welcome and follow-ups without a user turn are not replies)."""
    pairs = []
    for before, after in itertools.pairwise(messages):
        if before["role"] == "user" and after["role"] == "assistant":
            pairs.append((before["messageId"], after["messageId"]))
    return pairs


def overrides(variables: Json | None) -> Json | None:
    """``assistantOverrides`` from a platform's template variables (SPEC §3 shape)."""
    if not variables:
        return None
    return {
        "dynamicVariables": variables,
        "variablesValidations": dict.fromkeys(variables, "none"),
    }
