"""Per-message sentiment with VADER (``vaderSentiment``, lexicon-based, offline).

Only user messages are scored, each once, by the monitor's background task (never on the
ingest path). The score is VADER's ``compound`` in -1 (most negative) .. +1 (most positive).
The lexicon is loaded on first use (about 7,500 entries, a few tens of milliseconds).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["CallSentiment", "SentimentPoint", "SentimentScorer", "trajectory"]


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
