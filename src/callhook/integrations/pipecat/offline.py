"""Scripted Pipecat services: a whole voice pipeline offline, no network and no keys.

For demos, tests and benchmarks of the observer. Each service is a subclass of Pipecat's own
base class and pushes the frames and metrics a real provider's service pushes, on a script:

- ``ScriptedUser`` (an ``STTService``): a caller with turn detection and speech-to-text:
  VAD and turn frames, an interruption at each turn start, the final ``TranscriptionFrame``
  with the provider's result, TTFB and usage metrics, or an STT error;
- ``ScriptedLLM`` (an ``LLMService``): answers each user turn after its TTFB, token by token,
  with usage metrics, or stalls, or fails;
- ``ScriptedTTS`` (a ``TTSService``): synthesises silence-free audio of a length set per word;
- ``Speaker`` (a ``BaseOutputTransport``): plays audio in real time, as a sound card would.

``offline_pipeline(turns, replies)`` wires the four together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage, STTUsage
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings, STTSettings, TTSSettings
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams
from pipecat.utils.errors import ErrorCategory

__all__ = [
    "SAMPLE_RATE",
    "Reply",
    "ScriptedLLM",
    "ScriptedTTS",
    "ScriptedUser",
    "Speaker",
    "UserTurn",
    "offline_pipeline",
]

#: Sample rate of the scripted audio (16 kHz mono, 16-bit).
SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class UserTurn:
    """One thing the caller says.

    The caller waits ``pause_ms`` after the bot stopped answering the previous turn (after
    the previous turn when ``after_reply`` is false, after the start for the first turn);
    with ``barge_in_ms`` it instead speaks that long after the bot started speaking. It
    speaks for ``speech_ms``; VAD calls the speech over ``vad_stop_ms`` later, and the
    transcript follows ``stt_ms`` after that.
    ``stt_error`` makes the STT fail this turn (no transcript).
    """

    text: str
    pause_ms: float = 500.0
    barge_in_ms: float | None = None
    after_reply: bool = True
    speech_ms: float = 900.0
    vad_start_ms: float = 200.0
    vad_stop_ms: float = 200.0
    stt_ms: float = 150.0
    confidence: float = 0.93
    stt_error: ErrorCategory | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The LLM's answer to one user turn: its text after ``ttfb_ms``, a token every
    ``ms_per_token``; or, with ``error``, a failure after ``ttfb_ms``. With ``tool_ms`` it
    first says ``filler`` (if any) and calls a function that runs ``tool_ms``, then answers
    ``text`` from the result in a second inference."""

    text: str
    ttfb_ms: float = 400.0
    ms_per_token: float = 10.0
    input_tokens: int = 0
    error: ErrorCategory | None = None
    filler: str = ""
    tool_ms: float | None = None

    @property
    def tokens(self) -> list[str]:
        return _tokens(self.text)


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]


class ScriptedUser(STTService):  # type: ignore[misc]  # Pipecat's classes are untyped
    """A caller behind VAD, turn detection and STT, speaking ``turns`` then hanging up
    (``EndWorkerFrame(reason="user")``) ``hangup_ms`` after the last reply. With
    ``after_welcome`` the first turn waits for the bot's welcome to end."""

    def __init__(
        self, turns: Sequence[UserTurn], *, hangup_ms: float = 800.0, after_welcome: bool = False
    ) -> None:
        super().__init__(settings=STTSettings(model="scripted", language="en"))
        self._turns = list(turns)
        self._hangup_ms = hangup_ms
        self._after_welcome = after_welcome
        #: Per spoken turn, the speech and STT delay as they really played out (ms).
        self.timings: list[dict[str, float]] = []
        self._bot_started = asyncio.Event()
        self._bot_stopped = asyncio.Event()

    def can_generate_metrics(self) -> bool:
        return True

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        yield None  # the script speaks; there is no audio to transcribe

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self.create_task(self._play(), "scripted-user")

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_started.set()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_stopped.set()

    async def _play(self) -> None:
        for index, turn in enumerate(self._turns):
            if turn.barge_in_ms is not None:
                await self._bot_started.wait()
                await _sleep_ms(turn.barge_in_ms)
            else:
                if turn.after_reply and (index or self._after_welcome):
                    await self._bot_stopped.wait()
                await _sleep_ms(turn.pause_ms)
            await self._speak(turn)
            # What the bot does from here on answers this turn (a barge-in stopped the last).
            self._bot_started.clear()
            self._bot_stopped.clear()
        await self._bot_stopped.wait()
        await _sleep_ms(self._hangup_ms)
        await self.push_frame(EndWorkerFrame(reason="user"))

    async def _speak(self, turn: UserTurn) -> None:
        clock = asyncio.get_running_loop().time
        await _sleep_ms(turn.vad_start_ms)
        detected = clock()
        await self.push_frame(VADUserStartedSpeakingFrame(start_secs=turn.vad_start_ms / 1000))
        await self.push_frame(UserStartedSpeakingFrame())
        await self.broadcast_interruption()
        await _sleep_ms(turn.speech_ms - turn.vad_start_ms + turn.vad_stop_ms)
        silent = clock()
        await self.push_frame(VADUserStoppedSpeakingFrame(stop_secs=turn.vad_stop_ms / 1000))
        await self.start_ttfb_metrics()
        await _sleep_ms(turn.stt_ms)
        # How long things really took on this loop (a busy machine stretches the sleeps).
        speech_s = (silent - turn.vad_stop_ms / 1000) - (detected - turn.vad_start_ms / 1000)
        self.timings.append({"speech_ms": speech_s * 1000, "stt_ms": (clock() - silent) * 1000})
        if turn.stt_error is not None:
            await self.cancel_ttfb_metrics()
            await self.push_error("Audio quality too low to transcribe", category=turn.stt_error)
        else:
            await self.stop_ttfb_metrics()
            result = {"confidence": turn.confidence, "transcript": turn.text}
            await self.push_frame(
                TranscriptionFrame(turn.text, "caller", "", result=result, finalized=True)
            )
        seconds = (turn.speech_ms + turn.vad_stop_ms + turn.stt_ms) / 1000
        await self.start_stt_usage_metrics(STTUsage(audio_seconds=seconds))
        await self.push_frame(UserStoppedSpeakingFrame())


class ScriptedLLM(LLMService):  # type: ignore[misc]  # Pipecat's classes are untyped
    """Answers each user turn with a transcript (at its ``UserStoppedSpeakingFrame``) with the
    next ``Reply``, as a streaming chat-completions service does; an interruption cancels the
    answer in progress."""

    def __init__(self, replies: Sequence[Reply], *, model: str = "scripted-llm") -> None:
        settings = LLMSettings(
            model=model,
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=None,
            user_turn_completion_config=None,
        )
        super().__init__(settings=settings)
        self._replies = list(replies)
        self._task: asyncio.Task[None] | None = None
        self._transcribed = False
        self._turn_ended = False
        #: Each answer's time to first token as it really played out (ms).
        self.ttfbs_ms: list[float] = []

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame) and self._task is not None:
            await self.cancel_task(self._task)
            self._task = None
        await self.push_frame(frame, direction)
        # The turn's end is a system frame and may overtake its transcript: answer once both
        # have arrived.
        if isinstance(frame, UserStartedSpeakingFrame):
            self._transcribed = self._turn_ended = False
        elif isinstance(frame, TranscriptionFrame):
            self._transcribed = True
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._turn_ended = True
        if self._transcribed and self._turn_ended and self._replies:
            self._transcribed = self._turn_ended = False
            self._task = self.create_task(self._answer(self._replies.pop(0)), "scripted-llm")

    async def _answer(self, reply: Reply) -> None:
        clock = asyncio.get_running_loop().time
        asked = clock()
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        await self.start_ttfb_metrics()
        try:
            await _sleep_ms(reply.ttfb_ms)
            self.ttfbs_ms.append((clock() - asked) * 1000)
            if reply.error is not None:
                await self.push_error("The scripted provider failed", category=reply.error)
                return
            await self.stop_ttfb_metrics()
            if reply.tool_ms is not None:
                await self._call_tool(reply)
            tokens = reply.tokens
            await self._stream(tokens, reply.ms_per_token)
            usage = LLMTokenUsage(
                prompt_tokens=reply.input_tokens,
                completion_tokens=len(tokens),
                total_tokens=reply.input_tokens + len(tokens),
            )
            await self.start_llm_usage_metrics(usage)
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())
            self._task = None

    async def _stream(self, tokens: list[str], ms_per_token: float) -> None:
        for index, token in enumerate(tokens):
            if index:
                await _sleep_ms(ms_per_token)
            await self._push_llm_text(token)

    async def _call_tool(self, reply: Reply) -> None:
        """The first inference: a filler, then a function call; its result starts a second."""
        call_id = f"call-{id(reply)}"
        if reply.filler:
            *head, last = _tokens(reply.filler)
            await self._stream([*head, last + " "], reply.ms_per_token)
        await self.push_frame(
            FunctionCallInProgressFrame(function_name="lookup", tool_call_id=call_id, arguments={})
        )
        await self.stop_processing_metrics()
        await self.push_frame(LLMFullResponseEndFrame())
        await _sleep_ms(reply.tool_ms or 0.0)
        await self.push_frame(
            FunctionCallResultFrame(
                function_name="lookup", tool_call_id=call_id, arguments={}, result={"ok": True}
            )
        )
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()


class ScriptedTTS(TTSService):  # type: ignore[misc]  # Pipecat's classes are untyped
    """Synthesises ``ms_per_word`` of audio per word after ``ttfb_ms``, per sentence."""

    def __init__(self, *, ttfb_ms: float = 150.0, ms_per_word: float = 300.0) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            sample_rate=SAMPLE_RATE,
            settings=TTSSettings(model="scripted-tts", voice="scripted", language="en"),
        )
        self.ttfb_ms = ttfb_ms
        self.ms_per_word = ms_per_word
        #: Each synthesis's time to first byte as it really played out (ms).
        self.ttfbs_ms: list[float] = []

    def can_generate_metrics(self) -> bool:
        return True

    def audio_ms(self, text: str) -> float:
        """How long the audio of ``text`` lasts."""
        return len(text.split()) * self.ms_per_word

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        clock = asyncio.get_running_loop().time
        asked = clock()
        await self.start_tts_usage_metrics(text)
        await _sleep_ms(self.ttfb_ms)
        self.ttfbs_ms.append((clock() - asked) * 1000)
        samples = round(SAMPLE_RATE * self.audio_ms(text) / 1000)
        await self.stop_ttfb_metrics()
        yield TTSAudioRawFrame(b"\x10\x00" * samples, SAMPLE_RATE, 1, context_id=context_id)


class Speaker(BaseOutputTransport):  # type: ignore[misc]  # Pipecat's classes are untyped
    """An output transport that plays each audio chunk in real time (no device)."""

    def __init__(self) -> None:
        super().__init__(TransportParams(audio_out_enabled=True, audio_out_sample_rate=SAMPLE_RATE))
        self._played_until = 0.0  # loop time the audio written so far has played out

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: Any) -> bool:  # Any: an OutputAudioRawFrame
        # Paced against the clock, not chunk by chunk, so a busy loop does not slow playback.
        loop = asyncio.get_running_loop()
        seconds = len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
        self._played_until = max(self._played_until, loop.time()) + seconds
        await asyncio.sleep(self._played_until - loop.time())
        return True


def offline_pipeline(
    turns: Sequence[UserTurn],
    replies: Sequence[Reply],
    *,
    tts: ScriptedTTS | None = None,
    hangup_ms: float = 800.0,
    after_welcome: bool = False,
) -> Pipeline:
    """``ScriptedUser → ScriptedLLM → ScriptedTTS → Speaker`` (``pipeline.processors``)."""
    return Pipeline(
        [
            ScriptedUser(turns, hangup_ms=hangup_ms, after_welcome=after_welcome),
            ScriptedLLM(replies),
            tts or ScriptedTTS(),
            Speaker(),
        ]
    )


async def _sleep_ms(ms: float) -> None:
    await asyncio.sleep(max(ms, 0.0) / 1000)
