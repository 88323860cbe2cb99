"""Status changes of a call and its end: the finished status-update and the report.

The end is read from the clock once; the finished status-update and the end-of-call report
carry that one ``endAt`` and duration. The report's analysis runs in the background
(``Scheduler.spawn``) and the report goes out even when the analysis fails.
"""

from __future__ import annotations

import logging
from collections.abc import Container

from callhook._exceptions import EngineError
from callhook.engine._analysis import AnalysisInput
from callhook.engine._config import EndTrigger, Segment
from callhook.engine._core import Response
from callhook.engine._hang import HangTimer
from callhook.engine._ledger import BotTurnRecord
from callhook.engine._messages import CallStatus, status_call
from callhook.engine._report import build_report, final_call
from callhook.events import Analysis, Call, EventType

__all__ = ["Lifecycle"]

logger = logging.getLogger("callhook.engine")


class Lifecycle(HangTimer):
    """The session layer of status changes and the end of the call."""

    def initiated(self) -> None:
        """The call was created."""
        self._set_status(CallStatus.INITIATED, {None})

    def queued(self) -> None:
        """The call waits to start."""
        self._set_status(CallStatus.QUEUED, {CallStatus.INITIATED})

    def answered(self) -> None:
        """The call really started: ``startAt`` is rewritten, turn times count from here."""
        if self._status in (CallStatus.INITIATED, CallStatus.QUEUED):
            self._answered_at = self._scheduler.now_ms()
        self._set_status(CallStatus.ONGOING, {CallStatus.INITIATED, CallStatus.QUEUED})
        seconds = self.assistant.max_call_duration
        if isinstance(seconds, int | float) and seconds > 0:
            self._max_timer = self._scheduler.call_later(seconds * 1000.0, self._max_duration)

    def forwarded(self) -> None:
        """The call was forwarded to another party."""
        self._set_status(CallStatus.FORWARDED, {CallStatus.ONGOING})

    def failed_to_start(self, reason: str = "Call failed to start") -> None:
        """The call was rejected before it started (for example a concurrency limit)."""
        now = self._scheduler.now_ms()
        self._set_status(
            CallStatus.FAILED, {None, CallStatus.INITIATED, CallStatus.QUEUED}, reason, now=now
        )
        self.ended_by = EndTrigger.SYSTEM
        self._finish(failed=True, ended_at=now)

    def ended(self, by: EndTrigger | str) -> None:
        """Either side hung up, or the system ended the call. A second call does nothing."""
        if self._status in (CallStatus.FINISHED, CallStatus.FAILED):
            return
        live = {CallStatus.INITIATED, CallStatus.QUEUED, CallStatus.ONGOING, CallStatus.FORWARDED}
        if self._status not in live:
            raise EngineError("the call was never initiated", call_id=self.call_id)
        self.ended_by = EndTrigger(by)
        now = self._scheduler.now_ms()  # the one reading of the end: status, report, turns
        if self._response is not None and self._response.audio_at is not None:
            self._close_bot_turns(self._response, (), now)
        self._response = None
        self._cancel_hang()
        if self._max_timer is not None:
            self._max_timer.cancel()
        self._call = self._final_call(now)
        self._set_status(CallStatus.FINISHED, live, now=now)
        self._finish(failed=False, ended_at=now)

    def _set_status(
        self,
        status: CallStatus,
        allowed: Container[CallStatus | None],
        reason: str = "",
        *,
        now: float | None = None,
    ) -> None:
        if self._status not in allowed:
            before = self._status.value if self._status else "not initiated"
            raise EngineError(f"cannot go from {before} to {status.value}", call_id=self.call_id)
        self._status = status
        start = self._answered_at if self._answered_at is not None else self._created_at
        if status is not CallStatus.FINISHED:
            self._call = status_call(self._base, status, start, reason)
        self._emit_status(self._scheduler.now_ms() if now is None else now)

    def _max_duration(self) -> None:
        if self._status in (CallStatus.ONGOING, CallStatus.FORWARDED):
            self.ended(EndTrigger.SYSTEM)

    # -- bot turns ------------------------------------------------------------------------

    def _close_bot_turns(
        self, response: Response, segments: tuple[Segment, ...], now: float
    ) -> None:
        """Record the played stretches of ``response``, which stops playing at ``now``."""
        assert response.audio_at is not None
        start = self._elapsed(response.audio_at)
        end = self._elapsed(now)
        if not segments:
            self.ledger.bot_turns.append(
                BotTurnRecord(start, end, response.audio_ms, response.user_message_id)
            )
            return
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            stop = end if last else min(start + segment.played_ms, end)
            self.ledger.bot_turns.append(
                BotTurnRecord(start, stop, segment.audio_ms, response.user_message_id)
            )
            start = stop

    # -- the end --------------------------------------------------------------------------

    def _final_call(self, now: float) -> Call:
        start = self._answered_at if self._answered_at is not None else self._created_at
        return final_call(
            self._call,
            start_ms=start,
            end_ms=now,
            duration_ms=now - self._answered_at if self._answered_at is not None else 0,
            ended_by=self.ended_by.value if self.ended_by else "",
        )

    def _finish(self, *, failed: bool, ended_at: float) -> None:
        """Start the end-of-call report of a call that ended at ``ended_at`` (epoch ms): the
        same instant as the finished status-update's ``endAt`` and duration."""
        if self._pending is not None:
            self._cancel_hang()
        if self._max_timer is not None:
            self._max_timer.cancel()
        call = AnalysisInput(
            call_id=self.call_id,
            assistant=self.assistant,
            messages=tuple(self._history.bare()),
            system_prompt=self._render(self.assistant.assistant_system_prompt),
            ended_by=self.ended_by.value if self.ended_by else "",
            failed=failed,
            hangs=self.ledger.hangs,
            error_codes=tuple(self._error_codes),
            dynamic_variables=self.variables,
        )
        self._scheduler.spawn(self._report(call, ended_at), name=f"callhook.report.{self.call_id}")

    async def _report(self, call: AnalysisInput, ended_at: float) -> None:
        try:
            analysis = await self._analyzer.analyze(call)
        except Exception:  # the report must go out; analysis is best effort
            logger.exception("engine.analysis_failed %s", self.call_id)
            analysis = Analysis(summary="", success_evaluation="", structured_data={}, outcome="")
        report = build_report(
            self._final_call(ended_at),
            ledger=self.ledger,
            config=self.config,
            assistant=self.assistant,
            assistant_view=self._views.for_event(EventType.END_OF_CALL_REPORT),
            messages=self._history.bare(),
            phone=self._phone,
            customer=self._customer,
            analysis=analysis,
            now=self._scheduler.now_ms(),
            duration_ms=ended_at - self._answered_at if self._answered_at is not None else 0,
        )
        self.report = report
        self._emit(report)
