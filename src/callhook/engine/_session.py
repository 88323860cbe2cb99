"""``CallSession``: what a platform observes on a call in, the five events out (SPEC §2).

The platform calls one method per observation, in the order things happen; the session keeps
the history, times everything with its scheduler's clock, runs the hang and max-duration timers
on the scheduler, and hands each event to the sink at once. Methods are synchronous; only the
end-of-call analysis runs in the background (``Scheduler.spawn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callhook._exceptions import EngineError
from callhook.engine._config import EndTrigger, Segment
from callhook.engine._core import Response
from callhook.engine._messages import merge
from callhook.engine._turns import Turns
from callhook.events import LlmMetrics, TtsMetrics, assistant_message_id

__all__ = ["CallSession"]


class CallSession(Turns):
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

    def response_playing(self) -> None:
        """The response's first audio plays before its whole text is known (a streaming
        pipeline): the hang timer stops now, firing first if it is overdue. Report the message
        later with ``response_audio_started(text, started_at=...)``."""
        self._require_live()
        pending = self._pending
        if pending is None:
            return
        now = self._scheduler.now_ms()
        if not pending.hanged and now >= pending.deadline:
            self._fire_hang(pending, now)
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None

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
        self._release_deferred()

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
        self._release_deferred()

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
