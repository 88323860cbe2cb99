"""The assistant as sessions use it: placeholders filled, secrets redacted, per-event views.

Interactly sends the full assistant object in status-updates and a few keys elsewhere; the
views below follow the published captures key for key (SPEC §1: "full, truncated or ``{}``").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from callhook.events import (
    REDACTED,
    UNSET,
    Assistant,
    AssistantServer,
    EventType,
    SpeechConfig,
    SttConfig,
    TtsConfig,
    VoiceConfig,
)

__all__ = ["REDACTED", "AssistantViews", "redact", "render_variables"]


#: What replaces a secret value in emitted payloads.

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\- ]+?)\s*\}\}")

# Keys of the truncated assistant object per event type, as in the published captures.
_VIEW_KEYS: dict[EventType, tuple[str, ...]] = {
    EventType.CONVERSATION_UPDATE: (
        "id",
        "name",
        "welcome_message",
        "assistant_provider",
        "assistant_model",
    ),
    EventType.HANG: (
        "id",
        "name",
        "welcome_message",
        "assistant_provider",
        "assistant_model",
        "assistant_system_prompt",
        "assistant_temperature",
        "assistant_max_tokens",
    ),
    EventType.ERROR: (
        "id",
        "name",
        "assistant_provider",
        "assistant_model",
        "assistant_system_prompt",
    ),
    EventType.END_OF_CALL_REPORT: ("id", "name"),
}


def render_variables(template: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders from ``variables``; unknown names stay as written.

    ``variables`` holds free JSON values (``assistantOverrides.dynamicVariables``); non-strings
    are written with ``str``.
    """
    if "{{" not in template:
        return template

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in variables:
            return match[0]
        value = variables[name]
        return value if isinstance(value, str) else str(value)

    return _PLACEHOLDER.sub(fill, template)


def redact(assistant: Assistant) -> Assistant:
    """``assistant`` with ``assistantServer.secret``, ``signingSecret`` and header values
    replaced by REDACTED (header names are kept)."""
    server = assistant.assistant_server
    if not isinstance(server, AssistantServer):
        return assistant
    changes: dict[str, Any] = {}  # Any: replacement values of differently typed fields
    if isinstance(server.secret, str) and server.secret:
        changes["secret"] = REDACTED
    if isinstance(server.headers, dict) and server.headers:
        changes["headers"] = dict.fromkeys(server.headers, REDACTED)
    if isinstance(server.signing_secret, str) and server.signing_secret:
        changes["signing_secret"] = REDACTED
    elif isinstance(server.signing_secret, list) and server.signing_secret:
        changes["signing_secret"] = [REDACTED] * len(server.signing_secret)
    if not changes:
        return assistant
    return msgspec.structs.replace(
        assistant, assistant_server=msgspec.structs.replace(server, **changes)
    )


@dataclass(frozen=True, slots=True)
class AssistantViews:
    """The assistant object each event type carries, built once per assistant."""

    full: Assistant
    by_type: Mapping[EventType, Assistant]

    @classmethod
    def build(cls, assistant: Assistant, *, redact_secrets: bool) -> AssistantViews:
        full = redact(assistant) if redact_secrets else assistant
        by_type = {
            event_type: Assistant(
                **{
                    key: getattr(full, key)
                    for key in keys
                    if getattr(full, key) is not UNSET  # keep only what the assistant has
                }
            )
            for event_type, keys in _VIEW_KEYS.items()
        }
        return cls(full=full, by_type=by_type)

    def for_event(self, event_type: EventType) -> Assistant:
        return self.by_type.get(event_type, self.full)


def _speech(assistant: Assistant) -> SpeechConfig | None:
    config = assistant.config
    if isinstance(config, VoiceConfig) and isinstance(config.speech, SpeechConfig):
        return config.speech
    return None


def stt_vendor(assistant: Assistant) -> str:
    """The speech-to-text vendor (``config.speech.stt.vendor``), or ``""``."""
    speech = _speech(assistant)
    stt = speech.stt if speech is not None else None
    return stt.vendor if isinstance(stt, SttConfig) and isinstance(stt.vendor, str) else ""


def tts_vendor(assistant: Assistant) -> str:
    """The default voice's vendor (``config.speech.ttsData``), or ``""``."""
    speech = _speech(assistant)
    voices = speech.tts_data if speech is not None else None
    if not isinstance(voices, list) or not voices:
        return ""
    chosen = next((v for v in voices if v.default is True), voices[0])
    return chosen.vendor if isinstance(chosen, TtsConfig) and isinstance(chosen.vendor, str) else ""
