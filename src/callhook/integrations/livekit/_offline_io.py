"""The scripted session's audio input and outputs (for ``TranscriptSynchronizer``)."""

from __future__ import annotations

import asyncio
import time

from livekit import rtc
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities, TextOutput

__all__ = ["SAMPLE_RATE", "Microphone", "Speaker", "Transcript"]

#: Sample rate of the scripted audio (16 kHz mono, 16-bit).
SAMPLE_RATE = 16_000


class Microphone(AudioInput):  # type: ignore[misc]
    """The session's audio input: one frame of silence, then nothing (the STT is scripted)."""

    def __init__(self) -> None:
        super().__init__(label="callhook-offline")
        self._sent = False
        self._closed = asyncio.Event()

    async def __anext__(self) -> rtc.AudioFrame:
        if not self._sent:
            self._sent = True
            samples = SAMPLE_RATE // 10
            return rtc.AudioFrame(b"\x00\x00" * samples, SAMPLE_RATE, 1, samples)
        await self._closed.wait()
        raise StopAsyncIteration


class Speaker(AudioOutput):  # type: ignore[misc]
    """An audio output that plays in real time: playback ends when the audio would have."""

    def __init__(self) -> None:
        super().__init__(
            label="callhook-offline",
            next_in_chain=None,
            sample_rate=SAMPLE_RATE,
            capabilities=AudioOutputCapabilities(pause=False),
        )
        self._started_at = 0.0
        self._pushed_s = 0.0
        self._finish: asyncio.TimerHandle | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._pushed_s:
            self._started_at = time.time()
            self.on_playback_started(created_at=self._started_at)
        self._pushed_s += frame.duration

    def flush(self) -> None:
        super().flush()
        if not self._pushed_s:
            return
        left = self._pushed_s - (time.time() - self._started_at)
        if self._finish is not None:
            self._finish.cancel()
        self._finish = asyncio.get_running_loop().call_later(max(left, 0.0), self._finished)

    def _finished(self) -> None:
        self._finish = None
        self.on_playback_finished(playback_position=self._pushed_s, interrupted=False)
        self._pushed_s = 0.0

    def clear_buffer(self) -> None:
        if not self._pushed_s:
            return
        if self._finish is not None:
            self._finish.cancel()
            self._finish = None
        played = min(self._pushed_s, time.time() - self._started_at)
        self.on_playback_finished(playback_position=played, interrupted=True)
        self._pushed_s = 0.0


class Transcript(TextOutput):  # type: ignore[misc]
    """The agent's text output: keeps what was shown, segment by segment."""

    def __init__(self) -> None:
        super().__init__(label="callhook-offline", next_in_chain=None)
        self._text = ""
        self.segments: list[str] = []

    async def capture_text(self, text: str) -> None:
        self._text += text

    def flush(self) -> None:
        self.segments.append(self._text)
        self._text = ""
