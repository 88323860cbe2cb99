"""Scripted LiveKit Agents plugins: a whole ``AgentSession`` offline, no room and no keys.

For demos, tests and benchmarks of the adapter. Each class subclasses LiveKit's own base class
and produces what a real plugin produces, on a script:

- ``ScriptedSTT``: a caller behind a streaming STT with its own turn detection: start of
  speech, the final transcript with its confidence, end of speech, usage; or an STT error;
- ``ScriptedLLM``: answers each user turn after its time to first token, in chunks, with
  token usage; or stalls, or fails once (a recoverable error, answered on the retry);
- ``ScriptedTTS``: synthesises ``ms_per_word`` of audio per word;
- ``Microphone`` / ``Speaker`` / ``Transcript``: the session's audio input, an audio output
  that plays in real time, and a text output, for ``TranscriptSynchronizer``.

``offline_session(turns, replies)`` builds an ``AgentSession`` (``vad=None``, turn detection
by the STT) wired to them; ``ScriptedSTT.play(session)`` runs the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from livekit.agents import (
    AgentSession,
    APIConnectionError,
    APIStatusError,
    LanguageCode,
    llm,
    stt,
    tts,
    utils,
)
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer

from callhook.integrations.livekit._offline_io import SAMPLE_RATE, Microphone, Speaker, Transcript

__all__ = [
    "SAMPLE_RATE",
    "Microphone",
    "Reply",
    "ScriptedLLM",
    "ScriptedSTT",
    "ScriptedTTS",
    "Speaker",
    "Transcript",
    "UserTurn",
    "offline_session",
]


@dataclass(frozen=True, slots=True)
class UserTurn:
    """One thing the caller says.

    The caller waits ``pause_ms`` after the agent stopped speaking (after the previous turn
    when ``after_reply`` is false, after the start for the first turn); with ``barge_in_ms``
    it instead speaks that long after the agent started speaking. It speaks ``speech_ms``;
    the final transcript follows ``stt_ms`` after the end of speech. ``stt_error`` makes
    the STT stream fail (recoverable) instead of transcribing.
    """

    text: str
    pause_ms: float = 500.0
    barge_in_ms: float | None = None
    after_reply: bool = True
    speech_ms: float = 900.0
    stt_ms: float = 150.0
    confidence: float = 0.93
    stt_error: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """The LLM's answer to one user turn: ``text`` after ``ttft_ms``, a chunk of a word every
    ``ms_per_token``; with ``fail_first`` the first attempt fails with a retryable 429."""

    text: str
    ttft_ms: float = 400.0
    ms_per_token: float = 10.0
    input_tokens: int = 0
    fail_first: bool = False


class ScriptedSTT(stt.STT[Any]):  # type: ignore[misc]  # LiveKit's classes are partly untyped
    """A caller speaking ``turns``, heard through a streaming STT with turn detection."""

    def __init__(self, turns: Sequence[UserTurn], *, after_welcome: bool = False) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._turns = list(turns)
        self._after_welcome = after_welcome
        self._next = 0
        self._new_reply = asyncio.Event()  # the agent began speaking since the last turn
        self._agent_quiet = asyncio.Event()
        self._speaking = False
        self.done = asyncio.Event()
        self._listening = False

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def model(self) -> str:
        return "scripted-stt"

    def listen_to(self, session: AgentSession[Any]) -> None:
        """Follow the agent's speaking state (the caller waits for it, or speaks over it)."""

        def changed(event: Any) -> None:  # Any: an AgentStateChangedEvent
            self._speaking = event.new_state == "speaking"
            if self._speaking:
                self._new_reply.set()
            elif event.old_state == "speaking":
                self._agent_quiet.set()

        session.on("agent_state_changed", changed)

    async def _recognize_impl(self, *args: Any, **kwargs: Any) -> stt.SpeechEvent:
        raise NotImplementedError("the scripted caller only streams")

    def stream(
        self,
        *,
        language: Any = NOT_GIVEN,  # Any: LiveKit's NotGivenOr[str]
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return _CallerStream(stt=self, conn_options=conn_options)

    async def _speak_next(self, send: Any) -> None:  # Any: the stream's event channel
        """Play the remaining turns; raises at a turn with an STT error (the stream retries)."""
        while self._next < len(self._turns):
            turn = self._turns[self._next]
            self._next += 1
            if turn.barge_in_ms is not None:
                await self._new_reply.wait()
                await _sleep_ms(turn.barge_in_ms)
            else:
                if turn.after_reply and (self._next > 1 or self._after_welcome):
                    await self._reply_heard()
                await _sleep_ms(turn.pause_ms)
            started = time.time()
            send(
                stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH, speech_start_time=started)
            )
            ended = started + turn.speech_ms / 1000  # the audio's own timeline, as STTs report
            await _sleep_until(ended)
            await _sleep_until(ended + turn.stt_ms / 1000)
            if turn.stt_error:
                raise APIConnectionError("the scripted STT lost its connection")
            data = stt.SpeechData(
                language=LanguageCode("en"), text=turn.text, confidence=turn.confidence
            )
            send(stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data]))
            seconds = (turn.speech_ms + turn.stt_ms) / 1000
            send(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.RECOGNITION_USAGE,
                    recognition_usage=stt.RecognitionUsage(audio_duration=seconds),
                )
            )
            send(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, speech_end_time=ended))
            self._new_reply.clear()  # what the agent says from here on answers this turn
        await self._reply_heard()
        self.done.set()

    async def _reply_heard(self) -> None:
        """Wait until the agent has answered the last turn and finished speaking."""
        await self._new_reply.wait()
        while self._speaking:
            self._agent_quiet.clear()
            await self._agent_quiet.wait()


class _CallerStream(stt.RecognizeStream):  # type: ignore[misc]
    async def _run(self) -> None:
        stt_ = self._stt
        assert isinstance(stt_, ScriptedSTT)
        if not stt_._listening:  # the first stream starts with the session's audio
            await self._input_ch.recv()
            stt_._listening = True
        await stt_._speak_next(self._event_ch.send_nowait)
        async for _ in self._input_ch:
            pass


class ScriptedLLM(llm.LLM[Any]):  # type: ignore[misc]
    """Answers each chat request with the next ``Reply``."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        super().__init__()
        self._replies = list(replies)
        self._failed: set[int] = set()

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def model(self) -> str:
        return "scripted-llm"

    def chat(self, *, chat_ctx: Any, tools: Any = None, **kwargs: Any) -> llm.LLMStream:
        conn_options = kwargs.get("conn_options", DEFAULT_API_CONNECT_OPTIONS)
        return _AnswerStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)

    def _take(self) -> tuple[int, Reply] | None:
        if not self._replies:
            return None
        return id(self._replies[0]), self._replies[0]


class _AnswerStream(llm.LLMStream):  # type: ignore[misc]
    async def _run(self) -> None:
        model = self._llm
        assert isinstance(model, ScriptedLLM)
        taken = model._take()
        if taken is None:
            return
        key, reply = taken
        await _sleep_ms(reply.ttft_ms)
        if reply.fail_first and key not in model._failed:
            model._failed.add(key)
            raise APIStatusError("rate limit exceeded", status_code=429, retryable=True)
        model._replies.pop(0)
        words = reply.text.split(" ")
        for index, word in enumerate(words):
            if index:
                await _sleep_ms(reply.ms_per_token)
            content = word if index == len(words) - 1 else word + " "
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id="scripted", delta=llm.ChoiceDelta(role="assistant", content=content)
                )
            )
        usage = llm.CompletionUsage(
            completion_tokens=len(words),
            prompt_tokens=reply.input_tokens,
            total_tokens=reply.input_tokens + len(words),
        )
        self._event_ch.send_nowait(llm.ChatChunk(id="scripted", usage=usage))


class ScriptedTTS(tts.TTS[Any]):  # type: ignore[misc]
    """``ms_per_word`` of audio per word, after ``ttfb_ms``."""

    def __init__(self, *, ttfb_ms: float = 150.0, ms_per_word: float = 300.0) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self.ttfb_ms = ttfb_ms
        self.ms_per_word = ms_per_word
        #: Each text it was asked to synthesise, in order.
        self.texts: list[str] = []

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def model(self) -> str:
        return "scripted-tts"

    def audio_ms(self, text: str) -> float:
        return len(text.split()) * self.ms_per_word

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        self.texts.append(text)
        return _Synthesis(tts=self, input_text=text, conn_options=conn_options)


class _Synthesis(tts.ChunkedStream):  # type: ignore[misc]
    async def _run(self, output_emitter: Any) -> None:  # Any: an AudioEmitter
        voice = self._tts
        assert isinstance(voice, ScriptedTTS)
        output_emitter.initialize(
            request_id=utils.shortuuid("scripted_"),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        await _sleep_ms(voice.ttfb_ms)
        samples = round(SAMPLE_RATE * voice.audio_ms(self.input_text) / 1000)
        output_emitter.push(b"\x10\x00" * samples)
        output_emitter.flush()


def offline_session(
    turns: Sequence[UserTurn],
    replies: Sequence[Reply],
    *,
    tts_: ScriptedTTS | None = None,
    after_welcome: bool = False,
) -> tuple[AgentSession[Any], ScriptedSTT, TranscriptSynchronizer]:
    """An ``AgentSession`` on the scripted plugins, its input and outputs set (start it with
    ``session.start(agent)``, then ``caller.listen_to(session)``)."""
    caller = ScriptedSTT(turns, after_welcome=after_welcome)
    session: AgentSession[Any] = AgentSession(
        stt=caller,
        llm=ScriptedLLM(replies),
        tts=tts_ or ScriptedTTS(),
        vad=None,
        turn_handling={"turn_detection": "stt"},
    )
    sync = TranscriptSynchronizer(next_in_chain_audio=Speaker(), next_in_chain_text=Transcript())
    session.input.audio = Microphone()
    session.output.audio = sync.audio_output
    session.output.transcription = sync.text_output
    caller.listen_to(session)
    return session, caller, sync


async def _sleep_ms(ms: float) -> None:
    await asyncio.sleep(max(ms, 0.0) / 1000)


async def _sleep_until(epoch_s: float) -> None:
    """Sleep to a wall-clock deadline, so one late wake-up does not delay the next step."""
    await asyncio.sleep(max(epoch_s - time.time(), 0.0))
