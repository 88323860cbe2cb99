"""``Conversation``: the bookkeeping between a pipeline's moments and ``CallSession`` calls.

The observer decodes frames; this class decides when the session hears of a user turn, a
response, a barge-in or the end. A response streams: its first audio may play while the LLM
still writes, so its message goes out once its whole text is generated and synthesised (and
no function call is running), stamped with the moment its first audio played.
"""

from __future__ import annotations

from collections.abc import Callable

from callhook._exceptions import EngineError
from callhook.engine import CallSession, EndTrigger
from callhook.events import SttMetrics, TtsMetrics
from callhook.integrations.pipecat._turns import ResponseState, UserTurnState

__all__ = ["Conversation"]


class Conversation:
    """One call's user turn and response in flight, fed moment by moment."""

    def __init__(self, session: CallSession, now: Callable[[], float]) -> None:
        """``now``: when the moment being reported happened (epoch ms)."""
        self.session = session
        self._now = now
        self._user = UserTurnState()
        self._response: ResponseState | None = None
        self._stale_llm = False  # the LLM answer cut by a barge-in may still be ending
        self._welcomed = False
        self._loose_audio_ms = 0.0  # TTS audio outside any LLM response (the welcome)

    # -- the call -------------------------------------------------------------------------

    def answer(self) -> None:
        if self.session.status is None:
            self.session.initiated()
        if self.session.status == "initiated":
            self.session.answered()

    def end(self, by: EndTrigger) -> None:
        if self.session.status in (None, "finished", "failed"):
            return
        response = self._response
        if response is not None and response.audio_at is not None and not response.emitted:
            self._emit(response)
        self.session.ended(by)

    # -- the user -------------------------------------------------------------------------

    def _new_turn(self) -> None:
        if self._user.ended:  # the last turn ended without a transcript (an STT error)
            self._user = UserTurnState()

    def speech_started(self, *, detected_after_ms: float = 0.0) -> None:
        """The user started speaking (VAD needed ``detected_after_ms`` of speech to say so)."""
        self._new_turn()
        if self._user.speech_started_at is None:
            self._user.speech_started_at = self._now() - detected_after_ms

    def speech_stopped(self, *, detected_after_ms: float) -> None:
        """VAD says the speech is over, after ``detected_after_ms`` of silence."""
        self._user.speech_ended_at = self._now() - detected_after_ms
        self._user.vad_ms = detected_after_ms

    def transcribed(self, text: str, confidence: float | None) -> None:
        self._user.texts.append(text)
        if confidence is not None:
            self._user.confidence = confidence
        if self._user.ended:  # the transcript came after the end of the turn
            self._finalise_user()

    def stt_latency(self, ms: float) -> None:
        self._user.stt_latency_ms = ms

    def eou_probability(self, probability: float) -> None:
        self._user.eou_probability = probability

    def turn_ended(self) -> None:
        self._user.ended = True
        if self._user.speech_ended_at is None:
            self._user.speech_ended_at = self._now()
        self._finalise_user()

    def _finalise_user(self) -> None:
        turn = self._user
        if not turn.text:
            return  # wait for the transcript
        self._user = UserTurnState()
        reported = {
            "confidence": turn.confidence,
            "vad_ms": turn.vad_ms,
            "relative_latency_ms": turn.stt_latency_ms,
        }
        stt = SttMetrics(
            **{
                key: value if key == "confidence" else round(value)
                for key, value in reported.items()
                if value is not None
            }
        )
        self.session.user_turn_finalised(
            turn.text,
            stt=stt,
            speech_started_at=turn.speech_started_at,
            speech_ended_at=turn.speech_ended_at,
            eou_probability=turn.eou_probability,
        )

    def interrupted(self) -> None:
        """The user spoke over the bot: what the speaker released is what they heard."""
        response, self._response = self._response, None
        if response is None:
            return
        self._stale_llm = not response.llm_done
        if not response.started:
            return
        heard: str | None = None
        if response.audio_at is not None:
            if not response.emitted:
                self._emit(response)
            heard = response.heard_text
        self.session.user_barged_in(heard_text=heard)

    # -- the assistant --------------------------------------------------------------------

    def _current(self) -> ResponseState:
        if self._response is None:
            self._response = ResponseState()
        return self._response

    def llm_started(self) -> None:
        self._stale_llm = False
        self._current().llm_done = False

    def llm_text(self, text: str, *, spaced: bool) -> None:
        """A piece of the LLM's answer; ``spaced``: it carries its own spaces."""
        if self._stale_llm:
            return
        response = self._current()
        if response.llm_parts and not spaced:
            text = " " + text
        response.llm_parts.append(text)
        if not response.started:
            try:
                self.session.response_started()
            except EngineError:  # no user turn waits (a greeting, say): not a message
                return
            response.started = True

    def llm_ended(self) -> None:
        if self._stale_llm:
            self._stale_llm = False
            return
        if self._response is not None:
            self._response.llm_done = True
            self._maybe_emit()

    def tool_started(self, call_id: str) -> None:
        response = self._current()
        response.tools_running.add(call_id)
        response.llm_done = False

    def tool_finished(self, call_id: str, *, llm_follows: bool) -> None:
        if self._response is None:
            return
        self._response.tools_running.discard(call_id)
        self._response.llm_done = not llm_follows  # the LLM answers again from the result
        self._maybe_emit()

    def tts_started(self) -> None:
        if self._response is not None:
            self._response.tts_done = False

    def tts_audio(self, ms: float) -> None:
        if self._response is not None:
            self._response.audio_ms += ms
        else:
            self._loose_audio_ms += ms

    def tts_ttfb(self, ms: float) -> None:
        if self._response is not None and self._response.tts_ttfb_ms is None:
            self._response.tts_ttfb_ms = ms

    def heard(self, text: str) -> None:
        """The speaker released ``text``: the audio before it has played."""
        if self._response is not None:
            self._response.heard.append(text)

    def tts_stopped(self) -> None:
        if self._response is not None:
            self._response.tts_done = True
            self._maybe_emit()

    def bot_started(self) -> None:
        response = self._response
        if response is not None and response.started:
            if response.audio_at is None:
                response.audio_at = self._now()
                self.session.response_playing()  # the hang timer stops with the first audio
            self._maybe_emit()
        elif not self._welcomed and self.session.speaks_first and self.session.status == "ongoing":
            self._welcomed = True
            audio_ms = round(self._loose_audio_ms)
            self.session.welcome_played(tts=TtsMetrics(audio_duration_ms=audio_ms))

    def bot_stopped(self) -> None:
        response = self._response
        if response is None or not response.complete or response.audio_at is None:
            return  # a pause between sentences: more of this response is coming
        if not response.emitted:
            self._emit(response)
        self._response = None
        self.session.response_finished()

    def llm_failed(self, code: str, message: str, *, provider: str, retryable: bool) -> None:
        self.session.llm_failed(code, message, provider=provider, retryable=retryable)
        response = self._response
        if not retryable and response is not None and not response.emitted:
            self._response = None

    def _maybe_emit(self) -> None:
        response = self._response
        if (
            response is not None
            and response.started
            and not response.emitted
            and response.audio_at is not None
            and response.complete
        ):
            self._emit(response)

    def _emit(self, response: ResponseState) -> None:
        response.emitted = True
        audio_ms = round(response.audio_ms)
        tts = (
            TtsMetrics(audio_duration_ms=audio_ms)
            if response.tts_ttfb_ms is None
            else TtsMetrics(
                audio_duration_ms=audio_ms, generation_time_ms=round(response.tts_ttfb_ms)
            )
        )
        self.session.response_audio_started(response.text, tts=tts, started_at=response.audio_at)
