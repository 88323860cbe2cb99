"""What the observer keeps between frames: the user turn being spoken, the response in flight,
and how a Pipecat error or transcription result reads in callhook's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecat.utils.errors import ErrorCategory

__all__ = ["ResponseState", "UserTurnState", "error_code", "provider_of", "result_confidence"]

#: ``error.code`` for each Pipecat ``ErrorCategory`` (SPEC §2 examples where one fits).
_CODES = {
    ErrorCategory.RATE_LIMIT: "rate_limit_exceeded",
    ErrorCategory.AUTHENTICATION: "authentication_failed",
    ErrorCategory.AUTHORIZATION: "authorization_failed",
    ErrorCategory.QUOTA: "quota_exceeded",
    ErrorCategory.CONNECTIVITY: "service_unreachable",
    ErrorCategory.SERVER: "service_unavailable",
    ErrorCategory.INVALID_REQUEST: "invalid_request",
    ErrorCategory.APPLICATION: "application_error",
    ErrorCategory.UNKNOWN: "unknown_error",
}
#: Categories worth retrying: the same request may succeed later.
_RETRYABLE = frozenset({ErrorCategory.RATE_LIMIT, ErrorCategory.CONNECTIVITY, ErrorCategory.SERVER})


def error_code(category: ErrorCategory | None) -> tuple[str, bool]:
    """``(code, retryable)`` of an error of ``category``."""
    category = category or ErrorCategory.UNKNOWN
    return _CODES.get(category, category.value), category in _RETRYABLE


def provider_of(processor: object) -> str:
    """The provider of a Pipecat service: ``openai`` for ``pipecat.services.openai.llm``,
    else the service's class name."""
    module = type(processor).__module__.split(".")
    if len(module) > 2 and module[:2] == ["pipecat", "services"]:
        return module[2]
    return type(processor).__name__


def result_confidence(result: Any) -> float | None:  # Any: a provider's raw STT result
    """The confidence a provider's final transcription result carries, if any.

    Reads ``confidence`` off the result (mapping or attribute), or the first alternative of
    its first channel (Deepgram's ``channel.alternatives[0].confidence``).
    """
    for candidate in (result, _first_alternative(result)):
        value = _field(candidate, "confidence")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _field(obj: Any, name: str) -> Any:  # Any: provider objects
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _first_alternative(result: Any) -> Any:  # Any: provider objects
    channel = _field(result, "channel")
    alternatives = _field(channel, "alternatives") if channel is not None else None
    if isinstance(alternatives, list | tuple) and alternatives:
        return alternatives[0]
    return None


@dataclass(slots=True)
class UserTurnState:
    """The user's current turn, from the first speech to the end of the turn."""

    speech_started_at: float | None = None
    speech_ended_at: float | None = None
    vad_ms: float | None = None
    texts: list[str] = field(default_factory=list)
    confidence: float | None = None
    stt_latency_ms: float | None = None
    eou_probability: float | None = None
    ended: bool = False

    @property
    def text(self) -> str:
        return " ".join(part.strip() for part in self.texts if part.strip())


@dataclass(slots=True)
class ResponseState:
    """One assistant response: LLM text, synthesised audio, what the speaker released.

    ``started`` means ``CallSession.response_started`` was called (at the first LLM text);
    ``emitted`` that the message went out (``response_audio_started``).
    """

    llm_parts: list[str] = field(default_factory=list)
    llm_done: bool = False
    tts_done: bool = False
    tools_running: set[str] = field(default_factory=set)
    started: bool = False
    audio_at: float | None = None
    audio_ms: float = 0.0
    tts_ttfb_ms: float | None = None
    heard: list[str] = field(default_factory=list)
    emitted: bool = False

    @property
    def text(self) -> str:
        return "".join(self.llm_parts).strip()

    @property
    def heard_text(self) -> str:
        return " ".join(part.strip() for part in self.heard if part.strip())

    @property
    def complete(self) -> bool:
        """All its text is generated and synthesised, and no function call is running."""
        return self.llm_done and self.tts_done and not self.tools_running
