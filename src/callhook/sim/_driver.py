"""Plays one ``CallPlan`` into a ``CallSession``, step by step on the session's scheduler.

Every step is a timer: nothing sleeps, so the same driver runs on a ``FakeScheduler`` in tests
and on a ``ScaledScheduler`` in a live simulation.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable

from callhook.engine import CallParams, CallSession, EndTrigger, EngineError, EventSink, Scheduler
from callhook.events import (
    AnalysisTask,
    Assistant,
    AssistantAnalysis,
    AssistantOverrides,
    AssistantServer,
    EouMetrics,
    EventType,
    SpeechConfig,
    SttConfig,
    SttMetrics,
    TtsConfig,
    TtsMetrics,
    VoiceConfig,
)
from callhook.sim._plan import CallPlan, TurnPlan
from callhook.sim._profile import AssistantProfile

__all__ = ["DELIVERY_TIMEOUT_S", "CallDriver", "build_assistant", "delivery_server"]

logger = logging.getLogger("callhook.sim")

TEAM_ID = "team-callhook-sim"
#: ``timeoutSeconds`` of simulated deliveries (a local receiver answers in far less).
DELIVERY_TIMEOUT_S = 10.0
_MS_PER_WORD = 330.0
_ERRORS = {
    "llm": ("rate_limit_exceeded", "Rate limit exceeded for organization", True),
    "stt": (
        "audio_quality_insufficient",
        "Audio quality too low for accurate transcription",
        False,
    ),
}


def delivery_server(
    url: str, *, secret: str = "", timeout_seconds: float = DELIVERY_TIMEOUT_S
) -> AssistantServer:
    """The ``assistantServer`` of every simulated assistant: all five event types to ``url``.

    The same object configures delivery and is echoed in the payloads (with the secret
    redacted by the engine), so what a receiver reads is what was used.
    """
    return AssistantServer(
        enabled=True,
        url=url,
        timeout_seconds=timeout_seconds,
        secret=secret,
        headers={},
        messages=[t.value for t in EventType],
    )


def build_assistant(profile: AssistantProfile, server: AssistantServer | None) -> Assistant:
    """The assistant object a platform would hold for this profile entry; ``server`` is its
    delivery configuration (``None``: delivery disabled)."""
    assistant_id = hashlib.sha1(profile.name.encode()).hexdigest()[:24]
    server = server if server is not None else AssistantServer(enabled=False)
    schema = {
        "type": "object",
        "properties": {
            "Name": {"type": "string", "description": "Name of the patient"},
            "phone number": {"type": "string", "description": "phone number of the patient"},
        },
    }
    return Assistant(
        id=assistant_id,
        name=profile.name,
        welcome_message=profile.welcome,
        welcome_message_mode=profile.welcome_mode,
        end_call_message=profile.end_message,
        end_call_phrases=list(profile.end_phrases),
        barge_in_enabled=profile.barge_in,
        assistant_provider=profile.provider,
        assistant_model=profile.model,
        assistant_system_prompt="You are the front desk of a clinic. Today is {{date}}.",
        assistant_analysis=AssistantAnalysis(
            summary=AnalysisTask(enabled=True, prompt="Summarize the call in 2-3 sentences."),
            success_evaluation=AnalysisTask(enabled=True, rubric="DescriptiveScale"),
            structured_data=AnalysisTask(enabled=True, schema=schema),
        ),
        assistant_server=server,
        config=VoiceConfig(
            speech=SpeechConfig(
                stt=SttConfig(vendor="deepgram", language="en-US"),
                tts_data=[TtsConfig(vendor="eleven-labs", language="en-US", voice="Rachel")],
            )
        ),
        max_call_duration=1800,
    )


class CallDriver:
    """Drives one planned call; ``on_done`` runs once the call has ended (or failed)."""

    def __init__(
        self,
        plan: CallPlan,
        assistant: Assistant,
        *,
        scheduler: Scheduler,
        sink: EventSink,
        rng: random.Random,
        on_done: Callable[[CallDriver], None] = lambda driver: None,
    ) -> None:
        self.plan = plan
        self._scheduler = scheduler
        self._rng = rng
        self._on_done = on_done
        self.done = False
        name = plan.facts["Name"]
        params = CallParams(
            id=plan.call_id,
            team_id=TEAM_ID,
            call_type="web" if plan.web else "phone",
            direction="inbound",
            user_number=f"web-{name}" if plan.web else "+1 " + plan.facts["phone number"],
            assistant_number="" if plan.web else "+1 770 625 8801",
            phone_provider="" if plan.web else "twilio",
            assistant_overrides=AssistantOverrides(dynamic_variables={"date": "Monday"}),
            metadata={"scenario": plan.scenario},
        )
        self.session = CallSession(assistant, params, scheduler=scheduler, sink=sink, rng=rng)
        self._turn = 0

    # -- steps ------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the call; every later step is scheduled from here."""
        self._step(0, self._initiated)

    def _step(self, delay_ms: float, action: Callable[[], None]) -> None:
        def run() -> None:
            if self.done:
                return
            try:
                action()
            except EngineError as exc:  # e.g. maxCallDuration ended the call meanwhile
                logger.debug("sim.step_skipped %s: %s", self.plan.call_id, exc)
                self._finish()

        self._scheduler.call_later(delay_ms, run)

    def _initiated(self) -> None:
        self.session.initiated()
        if self.plan.failed:
            self._step(self._rng.uniform(100, 600), self._failed)
            return
        self._step(self._rng.uniform(50, 300), self.session.queued)
        self._step(self._rng.uniform(600, 2500), self._answered)

    def _failed(self) -> None:
        self.session.failed_to_start("Concurrency limit reached")
        self._finish()

    def _answered(self) -> None:
        self.session.answered()
        if self.session.speaks_first:
            self._step(self._rng.uniform(150, 300), self._welcome)
        else:
            self._step(0, self._next_turn)

    def _welcome(self) -> None:
        text = self.session.welcome_message
        audio_ms = self._audio_ms(text)
        self.session.welcome_played(
            tts=TtsMetrics(
                audio_duration_ms=round(audio_ms),
                generation_time_ms=7,
                queue_latency_ms=0,
                is_cache_playing=True,
            ),
            player_wait_ms=7,
        )
        self._step(audio_ms, self._next_turn)

    def _next_turn(self) -> None:
        if self._turn >= len(self.plan.turns):
            self._hang_up()
            return
        turn = self.plan.turns[self._turn]
        self._turn += 1
        self._step(turn.think_ms, lambda: self._user_speaks(turn))

    def _user_speaks(self, turn: TurnPlan) -> None:
        started = self._scheduler.now_ms()
        # The message is final once both the end of utterance is detected and the transcript
        # is done, whichever comes last.
        wait = turn.speech_ms + max(turn.eou_ms, turn.stt_ms)
        self._step(wait, lambda: self._user_finalised(turn, started))

    def _user_finalised(self, turn: TurnPlan, started: float) -> None:
        ended = started + turn.speech_ms
        if turn.stt_error:
            code, message, retryable = _ERRORS["stt"]
            self.session.stt_failed(code, message, provider="deepgram", retryable=retryable)
            self._step(0, self._next_turn)  # the user tries again
            return
        self.session.user_turn_finalised(
            turn.user_text,
            # Offsets, duration and the audio received so far (the whole call's inbound
            # stream) are left to the session, which derives them from one clock.
            stt=SttMetrics(
                timestamp_ms=round(ended + turn.stt_ms),
                vad_ms=round(turn.eou_ms * 0.4),
                relative_latency_ms=round(turn.stt_ms),
                confidence=turn.stt_confidence,
            ),
            eou=EouMetrics(turn_detection_time_ms=round(turn.eou_ms), queue_latency_ms=0),
            speech_started_at=started,
            speech_ended_at=ended,
        )
        if self.session.ending:
            text = self.session.end_call_message or "Goodbye!"
            self._step(turn.llm_ms, lambda: self._respond(turn, text))
        elif turn.llm_error:
            self._step(turn.llm_ms, self._llm_error)
        else:
            self._step(turn.llm_ms, lambda: self._respond(turn, turn.assistant_text))

    def _llm_error(self) -> None:
        code, message, retryable = _ERRORS["llm"]
        provider = self.plan.assistant.provider
        self.session.llm_failed(code, message, provider=provider, retryable=retryable)
        self._step(0, self._next_turn)  # the user, left without an answer, speaks again

    def _respond(self, turn: TurnPlan, text: str) -> None:
        self.session.response_started(text=text)
        self._step(turn.tts_ms, lambda: self._audio(turn, text))

    def _audio(self, turn: TurnPlan, text: str) -> None:
        audio_ms = self._audio_ms(text)
        self.session.response_audio_started(
            text,
            tts=TtsMetrics(
                audio_duration_ms=round(audio_ms),
                generation_time_ms=round(turn.tts_ms),
                queue_latency_ms=1,
                is_cache_playing=False,
            ),
            input_tokens=300 + 40 * self._turn,
            output_tokens=len(text.split()) * 4 // 3,
        )
        if turn.barge_in_at is not None and not self.session.ending:
            self._step(audio_ms * turn.barge_in_at, self._barge_in)
        else:
            self._step(audio_ms, self._finished_speaking)

    def _barge_in(self) -> None:
        self.session.user_barged_in()
        turn = self.plan.turns[self._turn] if self._turn < len(self.plan.turns) else None
        if turn is None:
            self._hang_up()
            return
        self._turn += 1
        self._user_speaks(turn)

    def _finished_speaking(self) -> None:
        ending = self.session.ending
        self.session.response_finished()
        if ending:  # the session ended the call after the end-call message
            self._finish()
        else:
            self._next_turn()

    def _hang_up(self) -> None:
        if self.plan.forwarded:
            self.session.forwarded()
            self._step(self._rng.uniform(2000, 8000), lambda: self._end(EndTrigger.SYSTEM))
        else:
            self._step(self._rng.uniform(300, 1500), lambda: self._end(EndTrigger.USER))

    def _end(self, by: EndTrigger) -> None:
        self.session.ended(by)
        self._finish()

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self._on_done(self)

    def _audio_ms(self, text: str) -> float:
        return max(len(text.split()), 1) * _MS_PER_WORD * self._rng.uniform(0.9, 1.1)
