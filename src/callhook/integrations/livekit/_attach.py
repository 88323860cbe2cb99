"""``attach(agent_session, call_session)``: LiveKit ``AgentSession`` events → ``CallSession``.

- ``conversation_item_added``: a user ``ChatMessage`` is a finalised user turn (its metrics:
  speech start and end, transcription delay, end-of-turn delay; its ``transcript_confidence``);
  an assistant one is the response, stamped with its ``started_speaking_at``, and a barge-in
  when ``interrupted`` (its text is what was played);
- ``agent_state_changed``: ``thinking`` starts the response, ``speaking`` stops the hang timer;
- ``session_usage_updated``: token, TTS-character and STT-audio totals → the cost's usage;
- ``error``: ``LLMError`` / ``STTError`` → ``error`` events (``recoverable`` → retryable);
- ``close``: ``CloseReason`` → ``ended(by)``.

LiveKit's assistant message holds only what was played. An agent built on ``CallhookAgent``
also reports what its LLM generated, so an interrupted reply keeps both heard and unheard text.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncGenerator
from typing import Any

from livekit.agents import Agent, AgentSession, APIConnectionError, APIStatusError, APITimeoutError
from livekit.agents.llm import ChatChunk, ChatMessage

from callhook._exceptions import EngineError
from callhook.engine import (
    Analyzer,
    AsyncioScheduler,
    CallParams,
    CallSession,
    EndTrigger,
    EngineConfig,
    EventSink,
)
from callhook.events import Assistant, EouMetrics, SttMetrics, TtsMetrics

__all__ = ["CallhookAgent", "LiveKitCall", "attach", "new_call"]

logger = logging.getLogger("callhook.integrations")

#: ``callEndTriggerBy`` of each ``CloseReason`` value.
_ENDED_BY = {
    "participant_disconnected": EndTrigger.USER,
    "user_initiated": EndTrigger.BOT,  # the agent's code closed the session
    "task_completed": EndTrigger.BOT,
    "job_shutdown": EndTrigger.SYSTEM,
    "error": EndTrigger.SYSTEM,
}
_STATUS_CODES = {
    401: "authentication_failed",
    402: "quota_exceeded",
    403: "authorization_failed",
    408: "timeout",
    429: "rate_limit_exceeded",
}

_calls: weakref.WeakKeyDictionary[AgentSession[Any], LiveKitCall] = weakref.WeakKeyDictionary()
_schedulers: weakref.WeakKeyDictionary[CallSession, AsyncioScheduler] = weakref.WeakKeyDictionary()


def new_call(
    assistant: Assistant,
    params: CallParams,
    *,
    sink: EventSink,
    config: EngineConfig | None = None,
    analyzer: Analyzer | None = None,
) -> CallSession:
    """A ``CallSession`` on the running loop's scheduler, its events to ``sink`` (normally a
    ``Dispatcher``)."""
    scheduler = AsyncioScheduler()
    session = CallSession(
        assistant, params, scheduler=scheduler, sink=sink, config=config, analyzer=analyzer
    )
    _schedulers[session] = scheduler
    return session


def attach(agent_session: AgentSession[Any], call_session: CallSession) -> LiveKitCall:
    """Drive ``call_session`` from ``agent_session``'s events (call before ``start``).

    The call is initiated and answered at once; ``await call.aclose()`` after the session
    closed waits for the end-of-call report of a session made by ``new_call``.
    """
    call = LiveKitCall(agent_session, call_session)
    _calls[agent_session] = call
    return call


def error_code(error: BaseException) -> str:
    """``error.code`` of a LiveKit API error."""
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "service_unreachable"
    if isinstance(error, APIStatusError):
        code = error.status_code
        return _STATUS_CODES.get(code, "service_unavailable" if code >= 500 else f"http_{code}")
    return "unknown_error"


class LiveKitCall:
    """The bridge ``attach`` returns: one ``CallSession`` following one ``AgentSession``."""

    def __init__(self, agent_session: AgentSession[Any], call_session: CallSession) -> None:
        self.session = call_session
        self._generated: list[str] = []  # what the LLM wrote for the current reply
        self._generating = False
        self._responding = False
        self._tts_audio_s = 0.0  # TTS audio synthesised so far (session totals)
        self._reply_audio_from = 0.0
        self._totals: dict[tuple[str, str, str], dict[str, float]] = {}
        if call_session.status is None:
            call_session.initiated()
        if call_session.status == "initiated":
            call_session.answered()
        for name, handler in (
            ("user_state_changed", self._on_user_state),
            ("agent_state_changed", self._on_agent_state),
            ("user_input_transcribed", self._on_transcribed),
            ("conversation_item_added", self._on_item),
            ("session_usage_updated", self._on_usage),
            ("error", self._on_error),
            ("close", self._on_close),
        ):
            event_name: Any = name  # Any: LiveKit types the names as one Literal
            agent_session.on(event_name, self._guarded(handler))

    async def aclose(self) -> None:
        """Wait for the end-of-call report (its analysis runs in the background)."""
        scheduler = _schedulers.get(self.session)
        if scheduler is not None:
            await scheduler.drain()

    def _guarded(self, handler: Any) -> Any:  # Any: LiveKit's event callbacks are untyped
        def run(event: Any) -> None:
            try:
                handler(event)
            except Exception:  # an event callback must not break the agent's session
                logger.exception("livekit.event_failed %s %s", self.session.call_id, event)

        return run

    # -- LLM capture (CallhookAgent) ------------------------------------------------------

    def _generation_started(self) -> None:
        self._generated = []
        self._generating = True

    def _generated_text(self, chunk: Any) -> None:  # Any: str | ChatChunk | FlushSentinel
        text = ""
        if isinstance(chunk, str):
            text = chunk
        elif isinstance(chunk, ChatChunk) and chunk.delta is not None and chunk.delta.content:
            text = chunk.delta.content
        if text:
            self._generated.append(text)
            self._start_response()  # the LLM began answering: its first token

    def _generation_ended(self) -> None:
        self._generating = False

    # -- events ---------------------------------------------------------------------------

    def _on_user_state(self, event: Any) -> None:
        logger.debug("livekit.user_state %s %s", self.session.call_id, event.new_state)

    def _on_transcribed(self, event: Any) -> None:
        if event.is_final:
            logger.debug("livekit.transcribed %s %r", self.session.call_id, event.transcript)

    def _start_response(self) -> None:
        if self._responding or self.session.status not in ("ongoing", "forwarded"):
            return
        try:
            self.session.response_started()
        except EngineError:  # no user turn waits (the agent speaks first): not an answer
            return
        self._responding = True

    def _on_agent_state(self, event: Any) -> None:
        if self.session.status not in ("ongoing", "forwarded"):
            return
        if event.new_state == "thinking":
            self._reply_audio_from = self._tts_audio_s
        elif event.new_state == "speaking":
            self._start_response()  # without CallhookAgent: the first audio starts it
            if self._responding:
                self.session.response_playing()

    def _on_item(self, event: Any) -> None:
        item = event.item
        if not isinstance(item, ChatMessage) or self.session.status not in ("ongoing", "forwarded"):
            return
        if item.role == "user":
            self._user_message(item)
        elif item.role == "assistant":
            self._assistant_message(item)

    def _user_message(self, item: ChatMessage) -> None:
        metrics = item.metrics
        started = metrics.get("started_speaking_at")
        stopped = metrics.get("stopped_speaking_at")
        stt: dict[str, Any] = {}  # Any: the figures the message reports
        if item.transcript_confidence is not None:
            stt["confidence"] = item.transcript_confidence
        if "transcription_delay" in metrics:
            stt["relative_latency_ms"] = round(metrics["transcription_delay"] * 1000)
        eou = EouMetrics()
        if "end_of_turn_delay" in metrics:
            eou = EouMetrics(turn_detection_time_ms=round(metrics["end_of_turn_delay"] * 1000))
        self._responding = False
        self.session.user_turn_finalised(
            item.text_content or "",
            stt=SttMetrics(**stt),
            eou=eou,
            speech_started_at=started * 1000 if started is not None else None,
            speech_ended_at=stopped * 1000 if stopped is not None else None,
        )

    def _assistant_message(self, item: ChatMessage) -> None:
        played = item.text_content or ""
        generated = "".join(self._generated).strip()
        text = generated or played
        metrics = item.metrics
        started = metrics.get("started_speaking_at")
        if not self._responding:
            if self.session.speaks_first and self.session.status == "ongoing" and started:
                audio_ms = round((self._tts_audio_s - self._reply_audio_from) * 1000)
                self.session.welcome_played(tts=TtsMetrics(audio_duration_ms=audio_ms))
            return
        self._responding = False
        if started is None:  # never played: interrupted before any audio
            if item.interrupted:
                self.session.user_barged_in(heard_text="")
            return
        tts = TtsMetrics(
            audio_duration_ms=round((self._tts_audio_s - self._reply_audio_from) * 1000)
        )
        if "tts_node_ttfb" in metrics:
            tts = TtsMetrics(
                audio_duration_ms=tts.audio_duration_ms,
                generation_time_ms=round(metrics["tts_node_ttfb"] * 1000),
            )
        self.session.response_audio_started(text, tts=tts, started_at=started * 1000)
        if item.interrupted:
            self.session.user_barged_in(heard_text=played)
        else:
            self.session.response_finished()

    def _on_usage(self, event: Any) -> None:
        deltas = {"input": 0.0, "output": 0.0, "characters": 0.0, "stt_s": 0.0, "tts_s": 0.0}
        for usage in event.usage.model_usage:
            kind = getattr(usage, "type", "")
            now = {
                "llm_usage": {"input": usage.input_tokens, "output": usage.output_tokens}
                if kind == "llm_usage"
                else {},
                "tts_usage": {"characters": usage.characters_count, "tts_s": usage.audio_duration}
                if kind == "tts_usage"
                else {},
                "stt_usage": {"stt_s": usage.audio_duration} if kind == "stt_usage" else {},
            }.get(kind, {})
            key = (kind, usage.provider, usage.model)
            seen = self._totals.setdefault(key, {})
            for name, total in now.items():
                deltas[name] += total - seen.get(name, 0.0)
                seen[name] = total
        self._tts_audio_s += deltas["tts_s"]
        self.session.usage(
            input_tokens=round(deltas["input"]),
            output_tokens=round(deltas["output"]),
            tts_characters=round(deltas["characters"]),
            stt_audio_ms=deltas["stt_s"] * 1000,
        )

    def _on_error(self, event: Any) -> None:
        error = event.error
        kind = getattr(error, "type", "")
        if kind not in ("llm_error", "stt_error") or self.session.status not in (
            "ongoing",
            "forwarded",
        ):
            logger.warning("livekit.error_not_reported %s %s", self.session.call_id, error)
            return
        cause = error.error
        provider = getattr(event.source, "provider", "") or ""
        code, message = error_code(cause), str(getattr(cause, "message", None) or cause)
        if kind == "llm_error":
            self.session.llm_failed(code, message, provider=provider, retryable=error.recoverable)
            if not error.recoverable:
                self._responding = False
        else:
            self.session.stt_failed(code, message, provider=provider, retryable=error.recoverable)

    def _on_close(self, event: Any) -> None:
        reason = getattr(event.reason, "value", event.reason)
        self.session.ended(_ENDED_BY.get(str(reason), EndTrigger.SYSTEM))


class CallhookAgent(Agent):  # type: ignore[misc]  # LiveKit's Agent is partly untyped
    """An ``Agent`` whose LLM output the attached call sees, so an interrupted reply's
    message keeps its whole text (``skippedAssistantMessages[].text``) beside what was
    played. Use it as the base class of the agent instead of ``Agent``."""

    async def llm_node(
        self, chat_ctx: Any, tools: Any, model_settings: Any
    ) -> AsyncGenerator[Any, None]:  # Any: LiveKit's ChatContext, tools and chunks
        call = _calls.get(self.session)
        if call is not None:
            call._generation_started()
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            if call is not None:
                call._generated_text(chunk)
            yield chunk
        if call is not None:
            call._generation_ended()
