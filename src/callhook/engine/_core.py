"""The state of a call session, what the platform may read of it, and how events go out.

``CallSession`` is built in layers, each a module over the one below:

- ``_core.SessionCore``: the state (history, ledger, pending user turn, response in flight),
  the read-only views a platform asks for, and emitting conversation, status and error events;
- ``_hang.HangTimer``: the hang timer of SPEC §2;
- ``_lifecycle.Lifecycle``: status changes, the end of the call and its report;
- ``_turns.Turns``: the user's side: the welcome, user turns, barge-in, end-call phrases;
- ``_session.CallSession``: the assistant's responses, failures and usage.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from callhook._exceptions import EngineError
from callhook.engine._analysis import Analyzer, OfflineAnalyzer
from callhook.engine._assistant import AssistantViews, render_variables, stt_vendor
from callhook.engine._config import CallParams, EndTrigger, EngineConfig
from callhook.engine._ledger import Ledger, TtsRecord
from callhook.engine._messages import CallStatus, History, base_call, status_call
from callhook.engine._ports import EventSink, Scheduler, TimerHandle
from callhook.events import (
    UNSET,
    Analysis,
    Assistant,
    AudioMetrics,
    Call,
    ConversationUpdate,
    Customer,
    Envelope,
    ErrorEvent,
    ErrorInfo,
    Event,
    EventType,
    HangMetrics,
    LlmMetrics,
    Message,
    MessageMetrics,
    Phone,
    PhoneProvider,
    PlayerMetrics,
    SkippedMessage,
    StatusUpdate,
    TimelineMetrics,
    TtsMetrics,
)

__all__ = ["Pending", "Response", "SessionCore", "played_text"]

_WAITS_FOR_USER = "assistant-waits-for-user"


@dataclass(slots=True)
class Pending:
    """A user turn waiting for the assistant's response to start playing."""

    user_message_id: str
    ended_at: float
    deadline: float
    timer: TimerHandle | None = None
    hanged: bool = False
    responding: bool = False


@dataclass(slots=True)
class Response:
    """An assistant response between its start (LLM) and the end of its playback."""

    message_id: str
    user_message_id: str
    user_ended_at: float
    started_at: float
    text: str = ""
    audio_at: float | None = None
    audio_ms: float = 0.0


def played_text(text: str, played_ms: float, audio_ms: float) -> str:
    """The words of ``text`` heard in ``played_ms`` of ``audio_ms``, cut at a word boundary."""
    if audio_ms <= 0 or played_ms <= 0:
        return ""
    if played_ms >= audio_ms:
        return text
    cut = int(len(text) * played_ms / audio_ms)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else ""
    return head.rstrip()


_RNG: list[random.Random] = []


def _shared_rng() -> random.Random:
    """One generator for every session not given its own (a Random is ~2.5 KB)."""
    if not _RNG:
        _RNG.append(random.Random())
    return _RNG[0]


class SessionCore:
    """The state every layer of ``CallSession`` shares, and the events built from it."""

    def __init__(
        self,
        assistant: Assistant,
        params: CallParams,
        *,
        scheduler: Scheduler,
        sink: EventSink,
        config: EngineConfig | None = None,
        analyzer: Analyzer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        config = config or EngineConfig()
        assistant_id = assistant.id if isinstance(assistant.id, str) else ""
        overrides = params.assistant_overrides
        variables = overrides.dynamic_variables if overrides is not None else UNSET
        #: ``assistantOverrides.dynamicVariables`` (free JSON values).
        self.variables: dict[str, Any] = variables if isinstance(variables, dict) else {}
        self.assistant = assistant
        self.params = params
        self.config = config
        self.hang_threshold_ms = config.hang_threshold_for(assistant_id)
        self.ledger = Ledger()
        self.ended_by: EndTrigger | None = None
        #: The end-of-call report once emitted.
        self.report: Event | None = None
        self._scheduler = scheduler
        self._sink = sink
        self._analyzer = analyzer or OfflineAnalyzer()
        self._rng = rng or _shared_rng()
        self._views = AssistantViews.build(assistant, redact_secrets=config.redact_secrets)
        self._base = base_call(params, assistant_id)
        self._phone = Phone(provider=PhoneProvider(name=params.phone_provider))
        self._customer = Customer(number=params.user_number)
        self._created_at = scheduler.now_ms()
        self._call: Call = status_call(self._base, CallStatus.INITIATED, self._created_at)
        self._status: CallStatus | None = None
        self._answered_at: float | None = None
        self._history = History()
        self._users = 0
        self._welcomed = False
        self._pending: Pending | None = None
        self._response: Response | None = None
        self._skipped: list[SkippedMessage] = []
        self._chunks_seen = 0
        self._deferred: list[tuple[str, dict[str, Any]]] = []  # Any: user-turn keyword args
        self._max_timer: TimerHandle | None = None
        self._ending = False
        self._error_codes: list[str] = []

    @property
    def call_id(self) -> str:
        return self.params.id

    # -- what the platform may ask -------------------------------------------------------

    @property
    def status(self) -> str | None:
        """The last status emitted (``None`` before ``initiated``)."""
        return self._status.value if self._status else None

    @property
    def welcome_message(self) -> str:
        """The welcome message with ``{{variables}}`` filled."""
        return self._render(self.assistant.welcome_message)

    @property
    def system_prompt(self) -> str:
        """The system prompt with ``{{variables}}`` filled."""
        return self._render(self.assistant.assistant_system_prompt)

    @property
    def speaks_first(self) -> bool:
        """True when the assistant plays its welcome as soon as the call is answered."""
        return bool(self.welcome_message) and self.assistant.welcome_message_mode != _WAITS_FOR_USER

    @property
    def ending(self) -> bool:
        """True after an end-call phrase: play ``end_call_message``; the call ends after it."""
        return self._ending

    @property
    def end_call_message(self) -> str:
        return self._render(self.assistant.end_call_message)

    @property
    def barge_in_enabled(self) -> bool:
        return self.assistant.barge_in_enabled is not False

    def _render(self, text: Any) -> str:  # Any: an optional assistant field
        return render_variables(text, self.variables) if isinstance(text, str) else ""

    def _require_live(self) -> None:
        if self._status in (CallStatus.FINISHED, CallStatus.FAILED):
            raise EngineError(f"the call has {self._status.value}", call_id=self.call_id)
        if self._status not in (CallStatus.ONGOING, CallStatus.FORWARDED):
            raise EngineError("the call has not been answered yet", call_id=self.call_id)

    def _elapsed(self, now: float) -> float:
        """ms since the call started (the answer)."""
        start = self._answered_at if self._answered_at is not None else self._created_at
        return now - start

    # -- emitting -------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._sink.emit(Envelope(event))

    def _emit_status(self, now: float) -> None:
        self._emit(
            StatusUpdate(
                timestamp=round(now),
                call=self._call,
                assistant=self._views.full,
                phone=self._phone,
                customer=self._customer,
                analysis=Analysis(),
            )
        )

    def _emit_conversation(self, now: float) -> None:
        self._emit(
            ConversationUpdate(
                timestamp=round(now),
                call=self._call,
                assistant=self._views.for_event(EventType.CONVERSATION_UPDATE),
                messages=list(self._history.full),
                phone=self._phone,
                customer=self._customer,
                analysis=Analysis(),
            )
        )

    def _append_assistant_message(
        self,
        message_id: str,
        text: str,
        now: float,
        tts: TtsMetrics,
        llm: LlmMetrics,
        player_wait_ms: float,
        hang_waited: float | None,
    ) -> None:
        elapsed = round(self._elapsed(now))
        metrics = MessageMetrics(
            timeline=TimelineMetrics(total_elapsed_time_ms=elapsed),
            audio=AudioMetrics(total_audio_received_ms=elapsed),
            llm=llm,
            tts=tts,
            interactly_player=PlayerMetrics(wait_time_ms=round(player_wait_ms)),
            hang=HangMetrics(waited_ms=round(hang_waited)) if hang_waited is not None else UNSET,
        )
        message = Message(
            message_id=message_id,
            role="assistant",
            text=text,
            timestamp=round(now),
            metrics=metrics,
        )
        self._history.append(message)
        self._emit_conversation(now)

    def _tts_record(self, tts: TtsMetrics, text: str) -> None:
        latency = tts.generation_time_ms if isinstance(tts.generation_time_ms, int | float) else 0
        self.ledger.tts.append(TtsRecord(float(latency), tts.is_cache_playing is True, len(text)))

    def _emit_error(
        self,
        kind: str,
        code: str,
        message: str,
        provider: str,
        retryable: bool,
        details: dict[str, Any] | None,  # Any: provider-specific JSON
    ) -> None:
        self._require_live()
        if not provider:  # the provider the assistant is configured with
            llm = self.assistant.assistant_provider
            provider = stt_vendor(self.assistant) if kind == "stt_error" else ""
            provider = provider or (llm if kind == "llm_error" and isinstance(llm, str) else "")
        self._error_codes.append(code)
        now = self._scheduler.now_ms()
        self._emit(
            ErrorEvent(
                timestamp=round(now),
                call=self._call,
                assistant=self._views.for_event(EventType.ERROR),
                messages=self._history.bare(),
                phone=self._phone,
                customer=self._customer,
                analysis=Analysis(),
                error=ErrorInfo(
                    type=kind,
                    code=code,
                    message=message,
                    provider=provider,
                    retryable=retryable,
                    details=details if details is not None else {},
                ),
            )
        )
