"""``CallhookObserver``: a Pipecat observer that drives one ``CallSession`` per pipeline run.

It reads the frames every Pipecat pipeline already pushes (turn and VAD frames, transcriptions,
LLM text, TTS audio and text, the output transport's speaking frames, metrics, errors) and
calls the session's methods in the order things happen. The session keeps its own clock and
hang timer on the running loop, so a silent bot emits ``hang`` as a simulated call does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    ClientConnectedFrame,
    EndFrame,
    ErrorFrame,
    FunctionCallCancelFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import (
    LLMUsageMetricsData,
    STTUsageMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
    TurnMetricsData,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_output import BaseOutputTransport

from callhook._exceptions import EngineError
from callhook.engine import (
    Analyzer,
    AsyncioScheduler,
    CallParams,
    CallSession,
    EndTrigger,
    EngineConfig,
    EventSink,
    Scheduler,
)
from callhook.events import Assistant, SttMetrics, TtsMetrics
from callhook.integrations.pipecat._turns import (
    ResponseState,
    UserTurnState,
    error_code,
    provider_of,
    result_confidence,
)

__all__ = ["CallhookObserver"]

logger = logging.getLogger("callhook.integrations")

Handler = Callable[["CallhookObserver", FramePushed], None]
_TRIGGERS = {trigger.value for trigger in EndTrigger}


class CallhookObserver(BaseObserver):  # type: ignore[misc]  # Pipecat's class is untyped
    """Emits callhook's five events for one Pipecat pipeline run.

    Pass it to the worker: ``PipelineWorker(pipeline, observers=[observer],
    params=PipelineParams(enable_metrics=True, enable_usage_metrics=True))``. Without both
    metrics flags the messages lack TTS timings and the report's cost lacks usage; the
    observer logs a warning and lists it in ``warnings``.

    The session (``self.session``) is created at once on ``scheduler`` (default: an
    ``AsyncioScheduler`` on the running loop) and hands its events to ``sink``, normally a
    ``Dispatcher``. The pipeline's start is ``initiated`` and ``answered``; with
    ``answer_on_client_connected`` the answer waits for the transport's
    ``ClientConnectedFrame``. ``EndFrame`` ends the call by the bot, ``CancelFrame`` by the
    system (a ``reason`` of ``"user"``, ``"bot"`` or ``"system"`` on either frame wins);
    ``attach_transport`` makes a client disconnect end it by the user.
    """

    def __init__(
        self,
        assistant: Assistant,
        params: CallParams,
        *,
        sink: EventSink,
        config: EngineConfig | None = None,
        analyzer: Analyzer | None = None,
        scheduler: Scheduler | None = None,
        answer_on_client_connected: bool = False,
    ) -> None:
        super().__init__(observe_every_push=True)
        self._scheduler = scheduler if scheduler is not None else AsyncioScheduler()
        self.session = CallSession(
            assistant,
            params,
            scheduler=self._scheduler,
            sink=sink,
            config=config,
            analyzer=analyzer,
        )
        #: Configuration problems found while running (metrics switched off, ...).
        self.warnings: list[str] = []
        self._answer_on_client = answer_on_client_connected
        self._user = UserTurnState()
        self._response: ResponseState | None = None
        self._stale_llm = False
        self._welcomed = False
        self._loose_audio_ms = 0.0  # TTS audio outside any LLM response (the welcome)
        self._handlers: dict[type, Handler | None] = {}

    # -- wiring ---------------------------------------------------------------------------

    def attach_transport(self, transport: Any) -> None:  # Any: any Pipecat transport
        """Answer on the transport's ``on_client_connected`` event and end the call by the
        user on ``on_client_disconnected`` (register before the worker runs)."""

        async def connected(*_: object) -> None:
            self._answer()

        async def disconnected(*_: object) -> None:
            self._end(EndTrigger.USER)

        transport.add_event_handler("on_client_connected", connected)
        transport.add_event_handler("on_client_disconnected", disconnected)

    async def cleanup(self) -> None:
        """Wait for the end-of-call report (the analysis runs in the background)."""
        await super().cleanup()
        if isinstance(self._scheduler, AsyncioScheduler):
            await self._scheduler.drain()

    async def on_push_frame(self, data: FramePushed) -> None:
        kind = type(data.frame)
        handler = self._handlers.get(kind, _UNRESOLVED)
        if handler is _UNRESOLVED:
            handler = self._handlers[kind] = _resolve(kind)
        if handler is None:
            return
        try:
            handler(self, data)
        except EngineError as exc:  # e.g. a frame after the call ended
            logger.debug("pipecat.frame_ignored %s %s: %s", self.session.call_id, kind, exc)

    # -- call -----------------------------------------------------------------------------

    def _on_start(self, data: FramePushed) -> None:
        source = data.source
        for flag, name in (("metrics_enabled", "enable_metrics"),
                           ("usage_metrics_enabled", "enable_usage_metrics")):  # fmt: skip
            if getattr(source, flag, True) is False:
                message = (
                    f"the pipeline runs without {name}: messages lack TTS timings and the "
                    f"report's cost lacks usage; set PipelineParams({name}=True)"
                )
                self.warnings.append(message)
                logger.warning("pipecat.%s_off %s: %s", name, self.session.call_id, message)
        if self.session.status is None:
            self.session.initiated()
        if not self._answer_on_client:
            self._answer()

    def _answer(self) -> None:
        if self.session.status == "initiated":
            self.session.answered()

    def _end(self, by: EndTrigger, reason: object = None) -> None:
        if self.session.status in (None, "finished", "failed"):
            return
        if isinstance(reason, str) and reason in _TRIGGERS:
            by = EndTrigger(reason)
        response = self._response
        if response is not None and response.audio_at is not None and not response.emitted:
            self._emit(response)
        self.session.ended(by)

    # -- user -----------------------------------------------------------------------------

    def _new_turn(self) -> None:
        if self._user.ended:  # the last turn ended without a transcript (an STT error)
            self._user = UserTurnState()

    def _on_vad_started(self, data: FramePushed) -> None:
        self._new_turn()
        if self._user.speech_started_at is None:
            start_secs = float(getattr(data.frame, "start_secs", 0.0) or 0.0)
            self._user.speech_started_at = self._scheduler.now_ms() - start_secs * 1000.0

    def _on_user_started(self, data: FramePushed) -> None:
        self._new_turn()
        if self._user.speech_started_at is None:
            self._user.speech_started_at = self._scheduler.now_ms()

    def _on_vad_stopped(self, data: FramePushed) -> None:
        stop_ms = float(getattr(data.frame, "stop_secs", 0.0) or 0.0) * 1000.0
        self._user.speech_ended_at = self._scheduler.now_ms() - stop_ms
        self._user.vad_ms = stop_ms

    def _on_transcription(self, data: FramePushed) -> None:
        frame = cast(TranscriptionFrame, data.frame)
        self._user.texts.append(frame.text)
        confidence = result_confidence(frame.result)
        if confidence is not None:
            self._user.confidence = confidence
        if self._user.ended:  # the transcript came after the end of the turn
            self._finalise_user()

    def _on_user_stopped(self, data: FramePushed) -> None:
        self._user.ended = True
        if self._user.speech_ended_at is None:
            self._user.speech_ended_at = self._scheduler.now_ms()
        self._finalise_user()

    def _finalise_user(self) -> None:
        turn = self._user
        if not turn.text:
            return  # wait for the transcript
        self._user = UserTurnState()
        stt = SttMetrics(
            **{
                key: value
                for key, value in (
                    ("confidence", turn.confidence),
                    ("vad_ms", round(turn.vad_ms) if turn.vad_ms is not None else None),
                    (
                        "relative_latency_ms",
                        round(turn.stt_latency_ms) if turn.stt_latency_ms is not None else None,
                    ),
                )
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

    def _on_interruption(self, data: FramePushed) -> None:
        if data.direction is not FrameDirection.DOWNSTREAM:
            return  # the upstream twin of the same broadcast
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

    # -- assistant ------------------------------------------------------------------------

    def _current(self) -> ResponseState:
        if self._response is None:
            self._response = ResponseState()
        return self._response

    def _on_llm_start(self, data: FramePushed) -> None:
        self._stale_llm = False
        self._current().llm_done = False

    def _on_llm_text(self, data: FramePushed) -> None:
        if self._stale_llm:
            return
        response = self._current()
        frame = cast(LLMTextFrame, data.frame)
        text = frame.text
        if response.llm_parts and not frame.includes_inter_frame_spaces:
            text = " " + text
        response.llm_parts.append(text)
        if not response.started:
            try:
                self.session.response_started()
            except EngineError:  # no user turn waits (a greeting, say): not a message
                return
            response.started = True

    def _on_llm_end(self, data: FramePushed) -> None:
        if self._stale_llm:
            self._stale_llm = False
            return
        if self._response is not None:
            self._response.llm_done = True
            self._maybe_emit()

    def _on_tool_started(self, data: FramePushed) -> None:
        response = self._current()
        response.tools_running.add(cast(FunctionCallInProgressFrame, data.frame).tool_call_id)
        response.llm_done = False

    def _on_tool_finished(self, data: FramePushed) -> None:
        if self._response is None:
            return
        frame = cast(FunctionCallResultFrame | FunctionCallCancelFrame, data.frame)
        self._response.tools_running.discard(frame.tool_call_id)
        properties = getattr(frame, "properties", None)
        run_llm = getattr(frame, "run_llm", None)
        if properties is not None and properties.run_llm is not None:
            run_llm = properties.run_llm
        if run_llm is False or isinstance(frame, FunctionCallCancelFrame):
            self._response.llm_done = True  # no follow-up inference comes
            self._maybe_emit()

    def _on_tts_started(self, data: FramePushed) -> None:
        if self._response is not None:
            self._response.tts_done = False

    def _on_tts_audio(self, data: FramePushed) -> None:
        if isinstance(data.source, BaseOutputTransport):
            return  # the transport's own playback chunks of audio already counted
        frame = cast(TTSAudioRawFrame, data.frame)
        rate = frame.sample_rate * frame.num_channels * 2
        if rate > 0 and self._response is not None:
            self._response.audio_ms += len(frame.audio) * 1000.0 / rate
        elif rate > 0:
            self._loose_audio_ms += len(frame.audio) * 1000.0 / rate

    def _on_tts_text(self, data: FramePushed) -> None:
        # The output transport pushes each TTS text on once the audio before it has played.
        if isinstance(data.source, BaseOutputTransport) and self._response is not None:
            self._response.heard.append(cast(TTSTextFrame, data.frame).text)

    def _on_tts_stopped(self, data: FramePushed) -> None:
        if self._response is not None:
            self._response.tts_done = True
            self._maybe_emit()

    def _on_bot_started(self, data: FramePushed) -> None:
        if data.direction is not FrameDirection.DOWNSTREAM:
            return
        response = self._response
        if response is not None and response.started:
            if response.audio_at is None:
                response.audio_at = self._scheduler.now_ms()
            self._maybe_emit()
        elif not self._welcomed and self.session.speaks_first and self.session.status == "ongoing":
            self._welcomed = True
            audio_ms = round(self._loose_audio_ms)
            self.session.welcome_played(tts=TtsMetrics(audio_duration_ms=audio_ms))

    def _on_bot_stopped(self, data: FramePushed) -> None:
        response = self._response
        if data.direction is not FrameDirection.DOWNSTREAM or response is None:
            return
        if not response.complete or response.audio_at is None:
            return  # a pause between sentences: more of this response is coming
        if not response.emitted:
            self._emit(response)
        self._response = None
        self.session.response_finished()

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
        """The message goes out once its whole text is known, stamped with its first audio."""
        response.emitted = True
        tts = TtsMetrics(audio_duration_ms=round(response.audio_ms))
        if response.tts_ttfb_ms is not None:
            tts = TtsMetrics(
                audio_duration_ms=round(response.audio_ms),
                generation_time_ms=round(response.tts_ttfb_ms),
            )
        self.session.response_audio_started(response.text, tts=tts, started_at=response.audio_at)

    # -- metrics and errors ---------------------------------------------------------------

    def _on_metrics(self, data: FramePushed) -> None:
        source = data.source
        for item in cast(MetricsFrame, data.frame).data:
            if isinstance(item, LLMUsageMetricsData):
                usage = item.value
                self.session.usage(
                    input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens
                )
            elif isinstance(item, TTSUsageMetricsData):
                self.session.usage(tts_characters=int(item.value))
            elif isinstance(item, STTUsageMetricsData):
                self.session.usage(stt_audio_ms=item.value.audio_seconds * 1000.0)
            elif isinstance(item, TurnMetricsData):
                self._user.eou_probability = item.probability
            elif isinstance(item, TTFBMetricsData) and item.value > 0:
                if isinstance(source, STTService):
                    self._user.stt_latency_ms = item.value * 1000.0
                elif (
                    isinstance(source, TTSService)
                    and self._response is not None
                    and self._response.tts_ttfb_ms is None
                ):
                    self._response.tts_ttfb_ms = item.value * 1000.0

    def _on_error(self, data: FramePushed) -> None:
        frame = cast(ErrorFrame, data.frame)
        processor = frame.processor if frame.processor is not None else data.source
        code, retryable = error_code(frame.category)
        provider = provider_of(processor)
        if isinstance(processor, LLMService):
            self.session.llm_failed(code, frame.error, provider=provider, retryable=retryable)
            response = self._response
            if not retryable and response is not None and not response.emitted:
                self._response = None
        elif isinstance(processor, STTService):
            self.session.stt_failed(code, frame.error, provider=provider, retryable=retryable)
        else:
            logger.warning("pipecat.error_not_reported %s %s", provider, frame.error)


_UNRESOLVED: Any = object()  # Any: a sentinel that is never a handler


def _first(method: Handler) -> Handler:
    """Only the frame's first push (a frame is pushed again by every processor it passes)."""

    def handler(observer: CallhookObserver, data: FramePushed) -> None:
        if data.first_push:
            method(observer, data)

    return handler


_TABLE: dict[type, Handler] = {
    StartFrame: _first(CallhookObserver._on_start),
    ClientConnectedFrame: _first(lambda self, data: self._answer()),
    EndFrame: _first(lambda self, data: self._end(EndTrigger.BOT, _reason(data))),
    CancelFrame: _first(lambda self, data: self._end(EndTrigger.SYSTEM, _reason(data))),
    VADUserStartedSpeakingFrame: _first(CallhookObserver._on_vad_started),
    UserStartedSpeakingFrame: _first(CallhookObserver._on_user_started),
    VADUserStoppedSpeakingFrame: _first(CallhookObserver._on_vad_stopped),
    TranscriptionFrame: _first(CallhookObserver._on_transcription),
    UserStoppedSpeakingFrame: _first(CallhookObserver._on_user_stopped),
    InterruptionFrame: _first(CallhookObserver._on_interruption),
    LLMFullResponseStartFrame: _first(CallhookObserver._on_llm_start),
    LLMTextFrame: _first(CallhookObserver._on_llm_text),
    LLMFullResponseEndFrame: _first(CallhookObserver._on_llm_end),
    FunctionCallInProgressFrame: _first(CallhookObserver._on_tool_started),
    FunctionCallResultFrame: _first(CallhookObserver._on_tool_finished),
    FunctionCallCancelFrame: _first(CallhookObserver._on_tool_finished),
    TTSStartedFrame: _first(CallhookObserver._on_tts_started),
    TTSAudioRawFrame: _first(CallhookObserver._on_tts_audio),
    TTSTextFrame: CallhookObserver._on_tts_text,  # every push: the output transport's counts
    TTSStoppedFrame: _first(CallhookObserver._on_tts_stopped),
    BotStartedSpeakingFrame: _first(CallhookObserver._on_bot_started),
    BotStoppedSpeakingFrame: _first(CallhookObserver._on_bot_stopped),
    MetricsFrame: _first(CallhookObserver._on_metrics),
    ErrorFrame: _first(CallhookObserver._on_error),
}


def _reason(data: FramePushed) -> object:
    return cast(EndFrame | CancelFrame, data.frame).reason


def _resolve(kind: type) -> Handler | None:
    """The handler of a frame class: its own or its nearest base class's, if any."""
    for base in kind.__mro__:
        if base in _TABLE:
            return _TABLE[base]
    return None
