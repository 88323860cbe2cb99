"""What a session is created from besides the assistant: call parameters and engine settings."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callhook.events import AssistantOverrides

__all__ = ["CallParams", "EndTrigger", "EngineConfig", "Prices", "Segment"]

DEFAULT_HANG_THRESHOLD_MS = 5000


class EndTrigger(enum.StrEnum):
    """``call.callEndTriggerBy``: who ended the call."""

    USER = "user"
    BOT = "bot"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class CallParams:
    """The call-level facts a platform knows when the call is created.

    ``call_type`` is ``web`` or ``phone``; ``direction`` ``inbound``, ``outbound`` or ``""``.
    For web calls ``user_number`` is ``web-<Name>`` and ``assistant_number`` defaults to the
    assistant id. ``phone_provider`` is the telephony provider's name (``""`` for web calls).
    """

    id: str
    team_id: str
    call_type: str = "web"
    direction: str = "inbound"
    user_number: str = ""
    assistant_number: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)  # Any: free JSON from the platform
    assistant_overrides: AssistantOverrides | None = None
    phone_provider: str = ""
    monitor_url: str = ""


@dataclass(frozen=True, slots=True)
class Prices:
    """Unit prices in USD used for ``call.cost``; a provider missing from a table costs 0.

    - ``platform_per_minute`` → ``interactlyCost``;
    - ``phone_per_minute[provider]`` → ``phoneCost`` (web calls have no phone provider);
    - ``stt_per_minute[vendor]`` → ``sttVendorCost`` (the STT stream runs the whole call);
    - ``tts_per_character[vendor]`` → ``ttsVendorCost`` (characters synthesised, cache excluded);
    - ``llm_per_input_token[provider]`` / ``llm_per_output_token[provider]`` → ``llmVendorCost``.
    """

    platform_per_minute: float = 0.01
    phone_per_minute: Mapping[str, float] = field(default_factory=dict)
    stt_per_minute: Mapping[str, float] = field(default_factory=dict)
    tts_per_character: Mapping[str, float] = field(default_factory=dict)
    llm_per_input_token: Mapping[str, float] = field(default_factory=dict)
    llm_per_output_token: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-side settings; none of them travel on the wire.

    ``hang_threshold_ms`` is the default hang threshold; ``hang_thresholds`` overrides it per
    assistant id. ``redact_secrets`` replaces ``assistantServer.secret`` and the values of
    ``assistantServer.headers`` in every emitted payload. ``recording_bucket`` fills
    ``call.recording.s3Bucket`` in the end-of-call report (SPEC §2: a filled recording).
    """

    hang_threshold_ms: float = DEFAULT_HANG_THRESHOLD_MS
    hang_thresholds: Mapping[str, float] = field(default_factory=dict)
    prices: Prices = field(default_factory=Prices)
    redact_secrets: bool = True
    recording_bucket: str = "callhook-recordings"

    def hang_threshold_for(self, assistant_id: str) -> float:
        """The hang threshold (ms) of one assistant."""
        return self.hang_thresholds.get(assistant_id, self.hang_threshold_ms)


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a response cut by the response splitter, as it was played.

    ``audio_ms`` is the synthesised length, ``played_ms`` how long it actually played.
    """

    text: str
    audio_ms: float
    played_ms: float
