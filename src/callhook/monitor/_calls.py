"""What the monitor remembers of each call, learnt from whichever events carry it.

The assistant's id, LLM provider and model and the STT vendor usually come with the
``status-update`` events (full ``assistant`` object); later events may carry ``{}``. The
control URL comes from ``call.monitor.controlUrl``. Nothing here rolls back when an older
event arrives late.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callhook.events import Assistant, Event
from callhook.monitor._impact import HangTracker
from callhook.monitor._patterns import CallRecord, IncidentRecord
from callhook.monitor._sentiment import SentimentPoint

__all__ = ["CallState", "num", "text"]


def text(value: object) -> str | None:
    """A non-empty string, or ``None`` (for ``UNSET``, ``None``, ``""`` or another type)."""
    return value if isinstance(value, str) and value else None


def num(value: object) -> float | None:
    """A JSON number as a float, or ``None`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(slots=True)
class CallState:
    """What the monitor remembers of one call."""

    call_id: str
    first_seen: float
    last_activity: float
    hangs: HangTracker
    assistant_id: str | None = None
    provider: str | None = None
    model: str | None = None
    stt_vendor: str | None = None
    control_url: str | None = None
    started_ms: float | None = None
    ended: bool = False
    ended_ms: float | None = None
    message_count: int = 0
    user_turns: int = 0
    seen: set[str] = field(default_factory=set)
    errors: list[IncidentRecord] = field(default_factory=list)
    sentiment: list[SentimentPoint] = field(default_factory=list)

    def learn(self, event: Event) -> None:
        call = event.call
        if call:
            self.assistant_id = text(call.assistant_id) or self.assistant_id
            monitor = call.monitor
            if monitor and text(monitor.control_url):
                self.control_url = text(monitor.control_url)
        if isinstance(event.assistant, Assistant):
            a = event.assistant
            self.assistant_id = text(a.id) or self.assistant_id
            self.provider = text(a.assistant_provider) or self.provider
            self.model = text(a.assistant_model) or self.model
            speech = a.config.speech if a.config else None
            stt = speech.stt if speech else None
            if stt:
                self.stt_vendor = text(stt.vendor) or self.stt_vendor
        ts = num(event.timestamp)
        if self.started_ms is None or (ts is not None and ts < self.started_ms):
            self.started_ms = ts

    def record(self) -> CallRecord:
        return CallRecord(
            call_id=self.call_id,
            started_at_ms=self.started_ms or self.first_seen * 1000,
            assistant_id=self.assistant_id,
            provider=self.provider,
            model=self.model,
            message_count=self.message_count,
            user_turns=self.user_turns,
        )
