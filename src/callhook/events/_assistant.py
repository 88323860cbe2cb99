"""The ``assistant`` object (SPEC §3); full, truncated or ``{}`` depending on the event."""

from __future__ import annotations

from typing import Any

import msgspec

from callhook.events._base import UNSET, Int64, Number, Opt, WireModel

__all__ = [
    "AnalysisTask",
    "Assistant",
    "AssistantAnalysis",
    "AssistantServer",
    "SpeechConfig",
    "SttConfig",
    "TtsConfig",
    "VoiceConfig",
]


class AnalysisTask(WireModel, frozen=True):
    """One post-call analysis setting (summary, successEvaluation, structuredData, ...)."""

    enabled: Opt[bool] = UNSET
    prompt: Opt[str] = UNSET
    provider: Opt[str] = UNSET
    model: Opt[str] = UNSET
    timeout_in_secs: Opt[Number] = UNSET
    rubric: Opt[str] = UNSET
    rubric_description: Opt[str] = UNSET
    #: JSON Schema of ``analysis.structuredData`` (structuredData only).
    schema: Opt[dict[str, Any]] = UNSET
    metrics: Opt[list[Any]] = UNSET


class AssistantAnalysis(WireModel, frozen=True):
    summary: Opt[AnalysisTask] = UNSET
    success_evaluation: Opt[AnalysisTask] = UNSET
    structured_data: Opt[AnalysisTask] = UNSET
    guardrails: Opt[AnalysisTask] = UNSET
    phi_redaction: Opt[AnalysisTask] = UNSET
    callback_url: Opt[str] = UNSET


class AssistantServer(WireModel, frozen=True):
    """Delivery configuration (SPEC §6). Echoed in payloads; callhook redacts its secrets.

    ``max_retries`` and ``signing_secret`` are callhook extensions (SPEC §7): retries after the
    first attempt (0 = Interactly's single attempt) and the Standard Webhooks secret
    (``whsec_...``), or a list of them during key rotation.
    """

    enabled: Opt[bool] = UNSET
    url: Opt[str] = UNSET
    timeout_seconds: Opt[Number] = UNSET
    secret: Opt[str] = UNSET
    headers: Opt[dict[str, str]] = UNSET
    messages: Opt[list[str]] = UNSET
    max_retries: Opt[Int64] = UNSET
    signing_secret: Opt[str | list[str]] = UNSET


class SttConfig(WireModel, frozen=True):
    vendor: Opt[str] = UNSET
    language: Opt[str] = UNSET
    languages: Opt[list[str]] = UNSET
    profanity_filter: Opt[bool] = UNSET
    interim: Opt[bool] = UNSET
    hints: Opt[list[Any]] = UNSET
    deepgram_options: Opt[dict[str, Any]] = UNSET


class TtsConfig(WireModel, frozen=True):
    vendor: Opt[str] = UNSET
    language: Opt[str] = UNSET
    voice: Opt[str] = UNSET
    voice_name: Opt[str] = UNSET
    default: Opt[bool] = UNSET
    config: Opt[dict[str, Any]] = UNSET


class SpeechConfig(WireModel, frozen=True):
    stt: Opt[SttConfig] = UNSET
    tts_data: Opt[list[TtsConfig]] = UNSET


class VoiceConfig(WireModel, frozen=True):
    """``assistant.config``."""

    speech: Opt[SpeechConfig] = UNSET


class Assistant(WireModel, frozen=True):
    """``message.assistant``. Every key is optional: events may carry ``{}``."""

    id: Opt[str] = msgspec.field(default=UNSET, name="_id")
    name: Opt[str] = UNSET
    welcome_message: Opt[str] = UNSET
    welcome_message_mode: Opt[str] = UNSET
    welcome_message_interruptions_enabled: Opt[bool] = UNSET
    end_call_message: Opt[str] = UNSET
    end_call_tool_description: Opt[str] = UNSET
    end_call_phrases: Opt[list[str]] = UNSET
    barge_in_enabled: Opt[bool] = UNSET
    call_forward_data: Opt[list[Any]] = UNSET
    assistant_knowledge_base_ids: Opt[list[Any]] = UNSET
    assistant_tool_ids: Opt[list[Any]] = UNSET
    assistant_provider: Opt[str] = UNSET
    assistant_model: Opt[str] = UNSET
    assistant_llm_url: Opt[str] = msgspec.field(default=UNSET, name="assistantLLMUrl")
    assistant_system_prompt: Opt[str] = UNSET
    assistant_temperature: Opt[Number] = UNSET
    assistant_max_tokens: Opt[Number] = UNSET
    assistant_response_splitter: Opt[str] = UNSET
    assistant_backchanneling_enabled: Opt[bool] = UNSET
    assistant_analysis: Opt[AssistantAnalysis] = UNSET
    assistant_server: Opt[AssistantServer] = UNSET
    config: Opt[VoiceConfig] = UNSET
    idle_timeout: Opt[Number] = UNSET
    max_idle_messages_in_sequence: Opt[Number] = UNSET
    max_call_duration: Opt[Number] = UNSET
