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
from pipecat.observers.base_observer import BaseObserver, FramePushed, ProcessorSetUp
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
from callhook.events import Assistant
from callhook.integrations.pipecat._conversation import Conversation
from callhook.integrations.pipecat._turns import error_code, provider_of, result_confidence

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
        super().__init__(observe_every_push=False)
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
        self._talk = Conversation(self.session, self._pushed_at)
        self._handlers: dict[type, Handler | None] = {}
        self._frame: FramePushed | None = None  # the push being handled

    # -- wiring ---------------------------------------------------------------------------

    def attach_transport(self, transport: Any) -> None:  # Any: any Pipecat transport
        """Answer on the transport's ``on_client_connected`` event and end the call by the
        user on ``on_client_disconnected`` (register before the worker runs)."""

        async def connected(*_: object) -> None:
            self._talk.answer()

        async def disconnected(*_: object) -> None:
            self._talk.end(EndTrigger.USER)

        transport.add_event_handler("on_client_connected", connected)
        transport.add_event_handler("on_client_disconnected", disconnected)

    async def on_processor_setup(self, data: ProcessorSetUp) -> None:
        # What the output transport releases is what the user heard: it pushes each TTS text on
        # once the audio before it has played. Its own hook sees those pushes inline, so the
        # observer itself needs only each frame's first push.
        if isinstance(data.processor, BaseOutputTransport):
            data.processor.add_event_handler("on_after_push_frame", self._released)

    async def _released(self, processor: Any, frame: Any) -> None:  # Any: Pipecat's objects
        if isinstance(frame, TTSTextFrame):
            self._talk.heard(frame.text)

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
        self._frame = data
        try:
            handler(self, data)
        except EngineError as exc:  # e.g. a frame after the call ended
            logger.debug("pipecat.frame_ignored %s %s: %s", self.session.call_id, kind, exc)

    def _pushed_at(self) -> float:
        """When the frame being handled was pushed (epoch ms). Observers see frames a little
        later, through a queue; the push's pipeline-clock timestamp says by how much."""
        now = self._scheduler.now_ms()
        data = self._frame
        if data is None or not data.timestamp:
            return now
        try:
            lag_ns = data.source.get_clock().get_time() - data.timestamp
        except Exception:  # a processor without a clock (not set up): take the present
            return now
        return float(now - max(lag_ns, 0) / 1e6)  # the clock is untyped (Any) without pipecat

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
            self._talk.answer()

    def _on_end(self, data: FramePushed, by: EndTrigger) -> None:
        reason = cast(EndFrame | CancelFrame, data.frame).reason
        self._talk.end(
            EndTrigger(reason) if isinstance(reason, str) and reason in _TRIGGERS else by
        )

    # -- user -----------------------------------------------------------------------------

    def _on_vad_started(self, data: FramePushed) -> None:
        start_secs = cast(VADUserStartedSpeakingFrame, data.frame).start_secs or 0.0
        self._talk.speech_started(detected_after_ms=start_secs * 1000.0)

    def _on_vad_stopped(self, data: FramePushed) -> None:
        stop_secs = cast(VADUserStoppedSpeakingFrame, data.frame).stop_secs or 0.0
        self._talk.speech_stopped(detected_after_ms=stop_secs * 1000.0)

    def _on_transcription(self, data: FramePushed) -> None:
        frame = cast(TranscriptionFrame, data.frame)
        self._talk.transcribed(frame.text, result_confidence(frame.result))

    def _on_interruption(self, data: FramePushed) -> None:
        if data.direction is FrameDirection.DOWNSTREAM:  # not the upstream twin of the broadcast
            self._talk.interrupted()

    # -- assistant ------------------------------------------------------------------------

    def _on_llm_text(self, data: FramePushed) -> None:
        frame = cast(LLMTextFrame, data.frame)
        self._talk.llm_text(frame.text, spaced=frame.includes_inter_frame_spaces)

    def _on_tool_started(self, data: FramePushed) -> None:
        self._talk.tool_started(cast(FunctionCallInProgressFrame, data.frame).tool_call_id)

    def _on_tool_finished(self, data: FramePushed) -> None:
        frame = cast(FunctionCallResultFrame | FunctionCallCancelFrame, data.frame)
        run_llm = getattr(frame, "run_llm", None)
        properties = getattr(frame, "properties", None)
        if properties is not None and properties.run_llm is not None:
            run_llm = properties.run_llm
        follows = run_llm is not False and not isinstance(frame, FunctionCallCancelFrame)
        self._talk.tool_finished(frame.tool_call_id, llm_follows=follows)

    def _on_tts_audio(self, data: FramePushed) -> None:
        if isinstance(data.source, BaseOutputTransport):
            return  # the transport's own playback chunks of audio already counted
        frame = cast(TTSAudioRawFrame, data.frame)
        rate = frame.sample_rate * frame.num_channels * 2
        if rate > 0:
            self._talk.tts_audio(len(frame.audio) * 1000.0 / rate)

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
                self._talk.eou_probability(item.probability)
            elif isinstance(item, TTFBMetricsData) and item.value > 0:
                if isinstance(source, STTService):
                    self._talk.stt_latency(item.value * 1000.0)
                elif isinstance(source, TTSService):
                    self._talk.tts_ttfb(item.value * 1000.0)

    def _on_error(self, data: FramePushed) -> None:
        frame = cast(ErrorFrame, data.frame)
        processor = frame.processor if frame.processor is not None else data.source
        code, retryable = error_code(frame.category)
        provider = provider_of(processor)
        if isinstance(processor, LLMService):
            self._talk.llm_failed(code, frame.error, provider=provider, retryable=retryable)
        elif isinstance(processor, STTService):
            self.session.stt_failed(code, frame.error, provider=provider, retryable=retryable)
        else:
            logger.warning("pipecat.error_not_reported %s %s", provider, frame.error)


_UNRESOLVED: Any = object()  # Any: a sentinel that is never a handler


def _down(method: Handler) -> Handler:
    """Only the downstream frame of a both-ways broadcast (each direction is its own frame)."""

    def handler(observer: CallhookObserver, data: FramePushed) -> None:
        if data.direction is FrameDirection.DOWNSTREAM:
            method(observer, data)

    return handler


_TABLE: dict[type, Handler] = {
    StartFrame: CallhookObserver._on_start,
    ClientConnectedFrame: lambda self, data: self._talk.answer(),
    EndFrame: lambda self, data: self._on_end(data, EndTrigger.BOT),
    CancelFrame: lambda self, data: self._on_end(data, EndTrigger.SYSTEM),
    VADUserStartedSpeakingFrame: CallhookObserver._on_vad_started,
    UserStartedSpeakingFrame: lambda self, data: self._talk.speech_started(),
    VADUserStoppedSpeakingFrame: CallhookObserver._on_vad_stopped,
    TranscriptionFrame: CallhookObserver._on_transcription,
    UserStoppedSpeakingFrame: lambda self, data: self._talk.turn_ended(),
    InterruptionFrame: CallhookObserver._on_interruption,
    LLMFullResponseStartFrame: lambda self, data: self._talk.llm_started(),
    LLMTextFrame: CallhookObserver._on_llm_text,
    LLMFullResponseEndFrame: lambda self, data: self._talk.llm_ended(),
    FunctionCallInProgressFrame: CallhookObserver._on_tool_started,
    FunctionCallResultFrame: CallhookObserver._on_tool_finished,
    FunctionCallCancelFrame: CallhookObserver._on_tool_finished,
    TTSStartedFrame: lambda self, data: self._talk.tts_started(),
    TTSAudioRawFrame: CallhookObserver._on_tts_audio,
    TTSStoppedFrame: lambda self, data: self._talk.tts_stopped(),
    BotStartedSpeakingFrame: _down(lambda self, data: self._talk.bot_started()),
    BotStoppedSpeakingFrame: _down(lambda self, data: self._talk.bot_stopped()),
    MetricsFrame: CallhookObserver._on_metrics,
    ErrorFrame: CallhookObserver._on_error,
}


def _resolve(kind: type) -> Handler | None:
    """The handler of a frame class: its own or its nearest base class's, if any."""
    for base in kind.__mro__:
        if base in _TABLE:
            return _TABLE[base]
    return None
