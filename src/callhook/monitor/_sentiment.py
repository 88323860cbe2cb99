"""Per-message sentiment with VADER (``vaderSentiment``, lexicon-based, offline).

Only user messages are scored, each once, by the monitor's background task (never on the
ingest path), or with ``[monitor] sentiment_workers = N`` by a ``SentimentPool`` of N worker
processes (spawned), in batches, so that the receiver's process spends no CPU on VADER.
The score is VADER's ``compound`` in -1 (most negative) .. +1 (most positive).
The lexicon is loaded on first use (about 7,500 entries, a few tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

import msgspec

logger = logging.getLogger("callhook.monitor")

__all__ = [
    "CallSentiment",
    "SentimentPoint",
    "SentimentPool",
    "SentimentScorer",
    "score_texts",
    "trajectory",
]

#: A user message to score: call id, messageId, timestamp (epoch ms), text.
Item = tuple[str, str, float | None, str]


class SentimentPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One scored user message."""

    message_id: str
    #: ``messages[].timestamp`` (epoch ms) when present.
    timestamp_ms: float | None
    compound: float


class CallSentiment(msgspec.Struct, frozen=True, kw_only=True):
    """A call's sentiment: every scored user message in conversation order, and the mean."""

    call_id: str
    points: list[SentimentPoint]
    average: float | None


def trajectory(call_id: str, points: list[SentimentPoint]) -> CallSentiment:
    """The ``CallSentiment`` of ``points`` (ordered by timestamp, then arrival)."""
    ordered = sorted(
        points, key=lambda p: p.timestamp_ms if p.timestamp_ms is not None else float("inf")
    )
    average = sum(p.compound for p in ordered) / len(ordered) if ordered else None
    return CallSentiment(call_id=call_id, points=ordered, average=average)


class _Analyzer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class SentimentScorer:
    """VADER's analyser, loaded lazily and reused."""

    def __init__(self) -> None:
        self._analyzer: _Analyzer | None = None

    def score(self, text: str) -> float:
        """The VADER ``compound`` score of ``text`` (0.0 for empty text)."""
        if not text.strip():
            return 0.0
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            # vaderSentiment ships no type information; _Analyzer states what we use of it.
            self._analyzer = SentimentIntensityAnalyzer()
        return float(self._analyzer.polarity_scores(text)["compound"])


_worker_scorer: SentimentScorer | None = None


def score_texts(texts: list[str]) -> list[float]:
    """The ``compound`` score of each text: the entry point of the worker processes
    (``[monitor] sentiment_workers``); each worker loads the lexicon once."""
    global _worker_scorer
    if _worker_scorer is None:
        _worker_scorer = SentimentScorer()
    return [_worker_scorer.score(text) for text in texts]


class SentimentPool:
    """Scores queued user messages in worker processes, batching whatever has accumulated
    while the previous batch was scored; ``apply`` receives each result in the event loop."""

    def __init__(self, workers: int, apply: Callable[[str, str, float | None, float], None]):
        self._apply = apply
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._queue: asyncio.Queue[list[Item]] = asyncio.Queue()
        #: The workers failed once; scores are computed in-process since.
        self.broken = False

    def submit(self, items: list[Item]) -> None:
        self._queue.put_nowait(items)

    async def join(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        """The ``callhook-monitor-sentiment`` task."""
        loop = asyncio.get_running_loop()
        while True:
            batches = [await self._queue.get()]
            while not self._queue.empty():
                batches.append(self._queue.get_nowait())
            items = [item for batch in batches for item in batch]
            texts = [text for *_, text in items]
            try:
                if self.broken:
                    scores = score_texts(texts)
                else:
                    try:
                        scores = await loop.run_in_executor(self._executor, score_texts, texts)
                    # The workers could not start or died (BrokenProcessPool, a spawn that
                    # re-imports an unguarded __main__, ...): score here from now on.
                    except Exception:
                        self.broken = True
                        logger.exception("monitor.sentiment_workers_failed; scoring in-process")
                        scores = score_texts(texts)
                for (call_id, message_id, ts, _), score in zip(items, scores, strict=True):
                    self._apply(call_id, message_id, ts, score)
            finally:
                for _ in batches:
                    self._queue.task_done()

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
