"""What happened on a call, kept as plain records until the end-of-call report is built.

Records are named tuples of scalars: the garbage collector stops tracking such tuples, so ten
thousand live sessions add little to each full collection.

Times named ``start``/``end``/``at`` are milliseconds from the call start (the answer), the
unit of ``turnsStats``; ``*_epoch`` values are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "CONFIDENCE_BUCKETS",
    "LLM_LATENCY_BUCKETS",
    "TTS_STT_LATENCY_BUCKETS",
    "BotTurnRecord",
    "Ledger",
    "TtsRecord",
    "UserTurnRecord",
    "histogram",
]

#: Histogram bucket lower bounds, SPEC §3.
TTS_STT_LATENCY_BUCKETS = ("0", "100", "200", "300", "600", "1000", "3000", "5000", "10000")
LLM_LATENCY_BUCKETS = ("0", "100", "300", "600", "1000", "1500", "2000", "5000", "10000")
CONFIDENCE_BUCKETS = ("0", "0.1", "0.3", "0.5", "0.7", "0.9")


def histogram(values: Iterable[float], bounds: Sequence[str]) -> dict[str, int | float]:
    """Count each value in the bucket of the largest lower bound ``<=`` it.

    Values below the first bound (negative latencies happen) count in the first bucket.
    """
    limits = [float(bound) for bound in bounds]
    counts: dict[str, int | float] = dict.fromkeys(bounds, 0)
    for value in values:
        index = 0
        for i, limit in enumerate(limits):
            if value >= limit:
                index = i
        counts[bounds[index]] += 1
    return counts


class UserTurnRecord(NamedTuple):
    message_id: str
    start: float
    end: float
    stt_latency_ms: float | None = None
    stt_relative_latency_ms: float | None = None
    confidence: float | None = None
    eou_probability: float | None = None


class BotTurnRecord(NamedTuple):
    """One played stretch of assistant audio (a whole response or one splitter segment)."""

    start: float
    end: float
    audio_ms: float
    user_message_id: str
    interrupted: bool = False
    stop_reason: str | None = None

    @property
    def played_ms(self) -> float:
        return self.end - self.start


class TtsRecord(NamedTuple):
    latency_ms: float
    cached: bool
    characters: int


@dataclass(slots=True)
class Ledger:
    user_turns: list[UserTurnRecord] = field(default_factory=list)
    bot_turns: list[BotTurnRecord] = field(default_factory=list)
    #: bot turn start - end of the user turn it answers (first segment only, welcome excluded).
    bot_response_times: list[float] = field(default_factory=list)
    tts: list[TtsRecord] = field(default_factory=list)
    llm_latencies: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    #: Provider-reported usage (``CallSession.usage``); ``None`` until reported.
    tts_characters: int | None = None
    stt_audio_ms: float | None = None
    llm_errors: int = 0
    stt_errors: int = 0
    hangs: int = 0
    #: Responses generated but never heard (the user barged in before they played).
    skipped_responses: int = 0
    #: For each barge-in over playing audio: ms the bot had been speaking when cut.
    barge_in_after_ms: list[float] = field(default_factory=list)
    barge_ins: int = 0
    #: Delayed inbound audio chunks: (ms from call start, latency ms).
    delayed_chunks: list[tuple[float, float]] = field(default_factory=list)
    dropped_chunks: int = 0
