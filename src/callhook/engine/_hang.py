"""The hang timer (SPEC §2, callhook decision).

It starts when a user message is finalised, restarts on a newer one, stops only when a
response starts playing, and fires at most once per pending user turn: a hang event with the
history so far and ``message.hang`` (callhook extension).
"""

from __future__ import annotations

import logging

from callhook.engine._core import Pending, SessionCore
from callhook.engine._messages import CallStatus
from callhook.events import Analysis, EventType, HangEvent, HangInfo

__all__ = ["HangTimer"]

logger = logging.getLogger("callhook.engine")


class HangTimer(SessionCore):
    """The session layer that owns ``_pending`` and its timer."""

    def _start_hang(self, user_message_id: str, now: float) -> None:
        self._cancel_hang()
        pending = Pending(user_message_id, now, now + self.hang_threshold_ms)
        pending.timer = self._scheduler.call_later(self.hang_threshold_ms, self._on_hang_timer)
        self._pending = pending

    def _cancel_hang(self) -> None:
        if self._pending is not None and self._pending.timer is not None:
            self._pending.timer.cancel()
        self._pending = None

    def _on_hang_timer(self) -> None:
        pending = self._pending
        if (
            pending is None
            or pending.hanged
            or self._status
            not in (
                CallStatus.ONGOING,
                CallStatus.FORWARDED,
            )
        ):
            return
        now = self._scheduler.now_ms()
        if now < pending.deadline:  # a timer may fire a hair early; wait out the rest
            pending.timer = self._scheduler.call_later(pending.deadline - now, self._on_hang_timer)
            return
        self._fire_hang(pending, now)

    def _fire_hang(self, pending: Pending, now: float) -> None:
        pending.hanged = True
        pending.timer = None
        self.ledger.hangs += 1
        waited = now - pending.ended_at
        logger.info("engine.hang %s %s waited_ms=%d", self.call_id, pending.user_message_id, waited)
        self._emit(
            HangEvent(
                timestamp=round(now),
                call=self._call,
                assistant=self._views.for_event(EventType.HANG),
                messages=self._history.compact(),
                phone=self._phone,
                customer=self._customer,
                analysis=Analysis(),
                hang=HangInfo(
                    pending_message_id=pending.user_message_id,
                    waited_ms=round(waited),
                    threshold_ms=self.hang_threshold_ms,
                    stage="tts" if pending.responding else "llm",
                ),
            )
        )
