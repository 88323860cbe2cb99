"""What ``CallhookObserver`` costs a Pipecat pipeline: wall time with it over without it.

One real ``PipelineWorker`` of three relay processors carries 100,000 frames (the mix a voice
pipeline pushes: input audio, TTS audio, LLM text, TTS text, with a user turn and a response
every 100 frames), once with only Pipecat's own observers and once with a ``CallhookObserver``
added (a call session emitting into a null sink), and once with a do-nothing observer (what
Pipecat's hand-off of frames to any observer costs). Each round runs the three in rotating
order; the RESULT is the median of the per-round wall-time ratios with/without callhook's
observer. Process CPU per frame is reported beside it.

Run: ``.venv/bin/python bench/pipeline_overhead.py`` (needs ``pip install 'callhook[pipecat]'``;
``--frames`` and ``--rounds`` to change the load). Target (DESIGN.md): ratio ≤ 1.05.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any

from loguru import logger as pipecat_log
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from callhook.engine import CallParams
from callhook.events import Assistant, Envelope, Event
from callhook.integrations.pipecat import CallhookObserver

AUDIO = b"\x00\x01" * 320  # 20 ms at 16 kHz


class Relay(FrameProcessor):  # type: ignore[misc]
    """Passes every frame on, as a service does with frames it does not handle."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class NullSink:
    def __init__(self) -> None:
        self.count = 0

    def emit(self, envelope: Envelope[Event]) -> None:
        self.count += 1


def frames(count: int) -> list[Frame]:
    """``count`` frames: mostly audio, with a user turn and a short response every 100."""
    out: list[Frame] = []
    while len(out) < count:
        out.append(UserStartedSpeakingFrame())
        out.extend(InputAudioRawFrame(AUDIO, 16_000, 1) for _ in range(40))
        out.append(TranscriptionFrame("When are you open?", "caller", ""))
        out.append(UserStoppedSpeakingFrame())
        out.append(LLMFullResponseStartFrame())
        out.extend(LLMTextFrame(word) for word in ("We ", "open ", "at ", "eight."))
        out.append(LLMFullResponseEndFrame())
        out.extend(TTSAudioRawFrame(AUDIO, 16_000, 1) for _ in range(45))
        out.append(TTSTextFrame("We open at eight.", "sentence"))
        out.extend(InputAudioRawFrame(AUDIO, 16_000, 1) for _ in range(5))
    return out[:count]


class NoOpObserver(BaseObserver):  # type: ignore[misc]
    """Sees each frame's first push and does nothing: what any observer costs in Pipecat."""

    def __init__(self) -> None:
        super().__init__(observe_every_push=False)


async def run_once(count: int, *, observed: bool, noop: bool = False) -> tuple[float, float, int]:
    """(wall s, process CPU s, events emitted) for one pipeline run."""
    sink = NullSink()
    observers: list[Any] = [NoOpObserver()] if noop else []  # Any: Pipecat observers
    if observed:
        assistant = Assistant(id="bench", name="bench", assistant_provider="openai")
        observers.append(
            CallhookObserver(assistant, CallParams(id="WC-bench", team_id="b"), sink=sink)
        )
    worker = PipelineWorker(
        Pipeline([Relay(), Relay(), Relay()]),
        observers=observers,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    batch = frames(count)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[misc]
    async def go(worker: PipelineWorker, frame: Frame) -> None:
        started.set()

    async def feed() -> None:
        await started.wait()
        await worker.queue_frames([*batch, EndFrame()])

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(runner.run(), feed())
    return time.perf_counter() - wall, time.process_time() - cpu, sink.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pipecat_log.remove()  # Pipecat's debug log would dominate the measurement
    logging.disable(logging.WARNING)
    variants = ("without", "callhook", "do-nothing")
    ratios: dict[str, list[float]] = {"callhook": [], "do-nothing": []}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        walls: dict[str, float] = {}
        order = variants[round_ % 3 :] + variants[: round_ % 3]  # rotate who runs first
        for name in order:
            run = run_once(args.frames, observed=name == "callhook", noop=name == "do-nothing")
            wall, used, events = asyncio.run(run)
            walls[name] = wall
            cpu[name].append(used)
            print(f"round {round_ + 1} {name:>10} observer: {wall:6.2f} s wall, ", end="")
            print(f"{used:6.2f} s CPU, {events} events")
        for name in ratios:
            ratios[name].append(walls[name] / walls["without"])
    for name in variants:
        per_frame = statistics.median(cpu[name]) / args.frames * 1e6
        print(f"CPU per frame, {name} observer: {per_frame:.1f} µs")
    cpu_ratio = statistics.median(cpu["callhook"]) / statistics.median(cpu["without"])
    print(f"process CPU ratio with/without callhook's observer: {cpu_ratio:.3f}")
    # Pipecat hands each observer every frame through its own queue and task: the do-nothing
    # observer shows how much of the overhead is that hand-off rather than callhook's work.
    print(f"do-nothing observer: wall ratio {statistics.median(ratios['do-nothing']):.3f}")
    print(f"RESULT observer_overhead={statistics.median(ratios['callhook']):.3f}")


if __name__ == "__main__":
    main()
