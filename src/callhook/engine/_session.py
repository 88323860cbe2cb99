"""``CallSession``: what a platform observes on a call in, the five events out (SPEC §2).

The platform calls one method per observation, in the order things happen; the session keeps
the history, times everything with its scheduler's clock, runs the hang and max-duration timers
on the scheduler, and hands each event to the sink at once. Methods are synchronous; only the
end-of-call analysis runs in the background (``Scheduler.spawn``).
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import Any

from callhook._exceptions import EngineError
from callhook.engine._config import EndTrigger, Segment
from callhook.engine._core import Response, SessionCore, played_text
from callhook.engine._ledger import BotTurnRecord
from callhook.engine._messages import AudioHealth, CallStatus, merge, status_call, user_turn
from callhook.events import (
    AudioMetrics,
    EouMetrics,
    LlmMetrics,
    SkippedMessage,
    SttMetrics,
    TtsMetrics,
    assistant_message_id,
    user_message_id,
    welcome_message_id,
)

__all__ = ["CallSession"]

_WAITS_FOR_USER = "assistant-waits-for-user"
_NOT_WORD = re.compile(r"[^\w\s']+")


def _words(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower()).split())


class CallSession(SessionCore):
    """One call, from creation to its end-of-call report.

    Lifecycle: ``initiated()`` → ``queued()`` (optional) → ``answered()`` → conversation →
    ``forwarded()`` (optional) → ``ended(by)``; or ``failed_to_start(reason)`` before the answer.
    Each status change emits a status-update; ``ended``/``failed_to_start`` then produce the
    end-of-call report once. After the end every method but ``ended`` raises ``EngineError``.

    ``CallSession(assistant, params, *, scheduler, sink, config=None, analyzer=None, rng=None)``:
    the assistant as configured (secrets are redacted in payloads, not here), the call's
    ``CallParams``, the ``Scheduler`` giving time and timers, the ``EventSink`` receiving each
    event synchronously, ``EngineConfig`` (hang threshold, prices, redaction), the ``Analyzer``
    of the report (``OfflineAnalyzer`` by default) and the RNG of assistant messageIds.
    """

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

    # -- status ---------------------------------------------------------------------------

    def initiated(self) -> None:
        """The call was created."""
        self._set_status(CallStatus.INITIATED, {None})

    def queued(self) -> None:
        """The call waits to start."""
        self._set_status(CallStatus.QUEUED, {CallStatus.INITIATED})

    def answered(self) -> None:
        """The call really started: ``startAt`` is rewritten, turn times count from here."""
        if self._status in (CallStatus.INITIATED, CallStatus.QUEUED):
            self._answered_at = self._scheduler.now_ms()
        self._set_status(CallStatus.ONGOING, {CallStatus.INITIATED, CallStatus.QUEUED})
        seconds = self.assistant.max_call_duration
        if isinstance(seconds, int | float) and seconds > 0:
            self._max_timer = self._scheduler.call_later(seconds * 1000.0, self._max_duration)

    def forwarded(self) -> None:
        """The call was forwarded to another party."""
        self._set_status(CallStatus.FORWARDED, {CallStatus.ONGOING})

    def failed_to_start(self, reason: str = "Call failed to start") -> None:
        """The call was rejected before it started (for example a concurrency limit)."""
        now = self._scheduler.now_ms()
        self._set_status(
            CallStatus.FAILED, {None, CallStatus.INITIATED, CallStatus.QUEUED}, reason, now=now
        )
        self.ended_by = EndTrigger.SYSTEM
        self._finish(failed=True, ended_at=now)

    def ended(self, by: EndTrigger | str) -> None:
        """Either side hung up, or the system ended the call. A second call does nothing."""
        if self._status in (CallStatus.FINISHED, CallStatus.FAILED):
            return
        live = {CallStatus.INITIATED, CallStatus.QUEUED, CallStatus.ONGOING, CallStatus.FORWARDED}
        if self._status not in live:
            raise EngineError("the call was never initiated", call_id=self.call_id)
        self.ended_by = EndTrigger(by)
        now = self._scheduler.now_ms()  # the one reading of the end: status, report, turns
        if self._response is not None and self._response.audio_at is not None:
            self._close_bot_turns(self._response, (), now)
        self._response = None
        self._cancel_hang()
        if self._max_timer is not None:
            self._max_timer.cancel()
        self._call = self._final_call(now)
        self._set_status(CallStatus.FINISHED, live, now=now)
        self._finish(failed=False, ended_at=now)

    def _set_status(
        self,
        status: CallStatus,
        allowed: Container[CallStatus | None],
        reason: str = "",
        *,
        now: float | None = None,
    ) -> None:
        if self._status not in allowed:
            before = self._status.value if self._status else "not initiated"
            raise EngineError(f"cannot go from {before} to {status.value}", call_id=self.call_id)
        self._status = status
        start = self._answered_at if self._answered_at is not None else self._created_at
        if status is not CallStatus.FINISHED:
            self._call = status_call(self._base, status, start, reason)
        self._emit_status(self._scheduler.now_ms() if now is None else now)

    def _max_duration(self) -> None:
        if self._status in (CallStatus.ONGOING, CallStatus.FORWARDED):
            self.ended(EndTrigger.SYSTEM)

    # -- conversation ---------------------------------------------------------------------

    def welcome_played(
        self,
        *,
        tts: TtsMetrics | None = None,
        played_ms: float | None = None,
        player_wait_ms: float = 0,
    ) -> str:
        """The welcome message started playing; returns its messageId (``welcome-1``).

        ``played_ms`` is how long it played (default: ``tts.audioDurationMs``).
        """
        self._require_live()
        if self._welcomed:
            raise EngineError("the welcome message was already played", call_id=self.call_id)
        if not self.speaks_first and self._users == 0:
            raise EngineError(
                "this assistant waits for the user (welcomeMessageMode "
                f"{self.assistant.welcome_message_mode!r}); no welcome before the first user turn",
                call_id=self.call_id,
            )
        self._welcomed = True
        now = self._scheduler.now_ms()
        tts = merge(tts or TtsMetrics(), queue_latency_ms=0, generation_time_ms=0)
        tts = merge(tts, audio_duration_ms=round(played_ms or 0), is_cache_playing=False)
        audio_ms = float(tts.audio_duration_ms or 0)
        message_id = welcome_message_id(1)
        self._append_assistant_message(
            message_id,
            self.welcome_message,
            now,
            tts,
            LlmMetrics(),
            player_wait_ms,
            hang_waited=None,
        )
        start = self._elapsed(now)
        end = start + (played_ms if played_ms is not None else audio_ms)
        self.ledger.bot_turns.append(BotTurnRecord(start, end, audio_ms, message_id))
        self._tts_record(tts, self.welcome_message)
        return message_id

    def user_turn_finalised(
        self,
        text: str,
        *,
        stt: SttMetrics | None = None,
        audio: AudioMetrics | None = None,
        eou: EouMetrics | None = None,
        speech_started_at: float | None = None,
        speech_ended_at: float | None = None,
        eou_probability: float | None = None,
    ) -> str:
        """Speech-to-text finalised a user message; returns its messageId (``user-<n>``).

        Times are epoch ms. The hang timer for this turn starts now. With barge-in disabled,
        a turn spoken over an unfinished response waits until that response has finished.
        """
        self._require_live()
        self._users += 1
        message_id = user_message_id(self._users)
        kwargs: dict[str, Any] = {  # Any: the keyword arguments above
            "text": text,
            "stt": stt,
            "audio": audio,
            "eou": eou,
            "speech_started_at": speech_started_at,
            "speech_ended_at": speech_ended_at,
            "eou_probability": eou_probability,
        }
        if self._response is not None and not self.barge_in_enabled:
            self._deferred.append((message_id, kwargs))
            return message_id
        self._accept_user_turn(message_id, **kwargs)
        return message_id

    def _accept_user_turn(self, message_id: str, **kwargs: Any) -> None:  # Any: see above
        now = self._scheduler.now_ms()
        if self._response is not None:  # spoken over a response: an implicit barge-in
            self._barge_in(now)
        start = self._answered_at if self._answered_at is not None else self._created_at
        chunks = self.ledger.delayed_chunks
        fresh = chunks[self._chunks_seen :]
        self._chunks_seen = len(chunks)
        health = AudioHealth(
            delayed_in_turn=len(fresh),
            delayed_total=len(chunks),
            delay_in_turn_ms=sum(latency for _, latency in fresh),
            delay_total_ms=sum(latency for _, latency in chunks),
            lost_total=self.ledger.dropped_chunks,
        )
        message, record = user_turn(
            message_id,
            now=now,
            call_start=start,
            previous=self._history.last_timestamp,
            health=health,
            skipped=self._skipped,
            **kwargs,
        )
        self._skipped = []
        self._history.append(message)
        self.ledger.user_turns.append(record)
        self._emit_conversation(now)
        self._start_hang(message_id, now)
        if self._matches_end_phrase(kwargs["text"]):
            self._ending = True
            if not self.end_call_message:
                self.ended(EndTrigger.BOT)

    def _matches_end_phrase(self, text: str) -> bool:
        phrases = self.assistant.end_call_phrases
        if not isinstance(phrases, list) or not phrases:
            return False
        said = f" {_words(text)} "
        return any(f" {_words(p)} " in said for p in phrases if _words(p))

    # -- responses ------------------------------------------------------------------------

    def response_started(self, *, text: str = "") -> str:
        """The LLM began answering the latest user turn; returns the assistant messageId.

        ``text`` is what is known of the answer so far (it names a response cut off by a
        barge-in before it played). The hang timer keeps running until audio plays.
        """
        self._require_live()
        pending = self._pending
        if pending is None or pending.responding:
            raise EngineError("no user turn is waiting for a response", call_id=self.call_id)
        now = self._scheduler.now_ms()
        pending.responding = True
        message_id = assistant_message_id(pending.user_message_id, round(now), self._rng)
        self._response = Response(message_id, pending.user_message_id, pending.ended_at, now, text)
        return message_id

    def response_audio_started(
        self,
        text: str,
        *,
        tts: TtsMetrics | None = None,
        llm_queue_latency_ms: float = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        started_at: float | None = None,
    ) -> str:
        """The response's first audio plays: the hang timer stops and the message is emitted.

        ``text`` is the whole response; ``tts`` the synthesis figures (``audioDurationMs`` is
        the length of all its audio). Calls ``response_started`` first if the platform did not.
        ``started_at`` (epoch ms, default now) is when the audio began, for a streaming
        pipeline that knows the whole text only after its first audio played; the message
        and the hang check use it. Returns the assistant messageId.
        """
        if self._response is None or self._response.audio_at is not None:
            self.response_started(text=text)
        response = self._response
        pending = self._pending
        assert response is not None and pending is not None
        now = self._scheduler.now_ms()
        if started_at is not None:
            now = max(min(started_at, now), response.started_at)
        if not pending.hanged and now >= pending.deadline:
            self._fire_hang(pending, now)  # overdue: the timer has not run yet
        hang_waited = now - pending.ended_at if pending.hanged else None
        self._cancel_hang()
        wait = now - response.started_at
        tts = merge(tts or TtsMetrics(), audio_duration_ms=0, queue_latency_ms=0)
        tts = merge(tts, generation_time_ms=round(wait), is_cache_playing=False)
        latency = response.started_at - response.user_ended_at
        llm = LlmMetrics(
            timestamp_ms=round(response.started_at),
            queue_latency_ms=round(llm_queue_latency_ms),
            response_latency_ms=round(latency),
        )
        response.text = text
        response.audio_at = now
        response.audio_ms = float(tts.audio_duration_ms or 0)
        self._append_assistant_message(
            response.message_id, text, now, tts, llm, wait, hang_waited=hang_waited
        )
        self.ledger.llm_latencies.append(latency)
        self.ledger.input_tokens += input_tokens
        self.ledger.output_tokens += output_tokens
        self.ledger.bot_response_times.append(now - response.user_ended_at)
        self._tts_record(tts, text)
        return response.message_id

    def response_finished(self, segments: Sequence[Segment] = ()) -> None:
        """The response stopped playing, complete. ``segments``: how the splitter cut it.

        Each segment becomes a bot turn with the same ``userMessageId``, laid end to end from
        the first audio; the last one ends now. After an end-call phrase the call ends here.
        """
        self._require_live()
        response = self._response
        if response is None or response.audio_at is None:
            raise EngineError("no response is playing", call_id=self.call_id)
        self._close_bot_turns(response, tuple(segments), self._scheduler.now_ms())
        self._response = None
        if self._ending:
            self.ended(EndTrigger.BOT)
            return
        deferred, self._deferred = self._deferred, []
        for message_id, kwargs in deferred:
            self._accept_user_turn(message_id, **kwargs)

    def user_barged_in(self, *, heard_text: str | None = None) -> bool:
        """The user started speaking over a response that is pending or playing.

        With barge-in enabled the response stops: it becomes a skipped message on the next
        user message. ``heard_text`` is what the user heard when the platform knows it (the
        text its audio output released before the interruption); by default it is the share
        of the text the played audio covers, cut at a word. Returns False (nothing happens)
        when barge-in is disabled or no response is in flight.
        """
        self._require_live()
        if self._response is None or not self.barge_in_enabled:
            return False
        self._barge_in(self._scheduler.now_ms(), heard_text)
        return True

    def _barge_in(self, now: float, heard_text: str | None = None) -> None:
        response = self._response
        assert response is not None
        self._response = None
        # The hang timer keeps running (SPEC §2: only a response starting to play cancels it);
        # a response cut off before it played leaves the user turn to be answered again.
        if response.audio_at is None and self._pending is not None:
            self._pending.responding = False
        self.ledger.barge_ins += 1
        played_ms = 0.0
        if response.audio_at is None:
            self.ledger.skipped_responses += 1
        else:
            played_ms = now - response.audio_at
            self.ledger.barge_in_after_ms.append(played_ms)
            self.ledger.bot_turns.append(
                BotTurnRecord(
                    self._elapsed(response.audio_at),
                    self._elapsed(now),
                    response.audio_ms,
                    response.user_message_id,
                    interrupted=True,
                    stop_reason="barge-in",
                )
            )
        self._skipped.append(
            SkippedMessage(
                message_id=response.message_id,
                text=response.text,
                timestamp=round(response.audio_at or response.started_at),
                played_text=heard_text
                if heard_text is not None
                else played_text(response.text, played_ms, response.audio_ms),
                played_ms=round(played_ms),
            )
        )

    # -- failures and audio health --------------------------------------------------------

    def llm_failed(
        self,
        code: str,
        message: str,
        *,
        provider: str = "",
        retryable: bool = False,
        details: dict[str, Any] | None = None,  # Any: provider-specific JSON
    ) -> None:
        """The LLM failed (emits an ``llm_error`` event). The hang timer keeps running.

        A response started but not yet playing is dropped unless ``retryable`` (the user turn
        may be answered by a new ``response_started``); user turns waiting for it go ahead.
        """
        self._emit_error("llm_error", code, message, provider, retryable, details)
        self.ledger.llm_errors += 1
        response = self._response
        if retryable or response is None or response.audio_at is not None:
            return
        self._response = None
        if self._pending is not None:
            self._pending.responding = False
        deferred, self._deferred = self._deferred, []
        for message_id, kwargs in deferred:
            self._accept_user_turn(message_id, **kwargs)

    def stt_failed(
        self,
        code: str,
        message: str,
        *,
        provider: str = "",
        retryable: bool = False,
        details: dict[str, Any] | None = None,  # Any: provider-specific JSON
    ) -> None:
        """Speech-to-text failed (emits an ``stt_error`` event)."""
        self._emit_error("stt_error", code, message, provider, retryable, details)
        self.ledger.stt_errors += 1

    def usage(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        tts_characters: int = 0,
        stt_audio_ms: float = 0.0,
    ) -> None:
        """Usage a provider reported, added to the call's cost inputs (any time, any order).

        Tokens add to those given to ``response_audio_started``. Once TTS characters or STT
        audio are reported, ``cost`` prices the reported totals instead of the responses'
        text length and the call's length.
        """
        ledger = self.ledger
        ledger.input_tokens += input_tokens
        ledger.output_tokens += output_tokens
        if tts_characters:
            ledger.tts_characters = (ledger.tts_characters or 0) + tts_characters
        if stt_audio_ms:
            ledger.stt_audio_ms = (ledger.stt_audio_ms or 0.0) + stt_audio_ms

    def audio_chunk_delayed(self, latency_ms: float) -> None:
        """An inbound audio chunk arrived ``latency_ms`` late (feeds ``callStats.userAudio``)."""
        now = self._scheduler.now_ms()
        self.ledger.delayed_chunks.append((self._elapsed(now), latency_ms))

    def audio_chunk_dropped(self) -> None:
        """An inbound audio chunk was lost."""
        self.ledger.dropped_chunks += 1
