"""The synchronous heart of the monitor: one decoded event in, alerts and actions out.

``MonitorCore.process(event, now)`` and ``MonitorCore.tick(now)`` do no I/O and read no clock:
``now`` is the monitor's time in epoch seconds (the event's ``received_at``). The async
``Monitor`` runs them in its background task and carries out the ``Outcome``.
"""

from __future__ import annotations

from callhook.events import (
    Call,
    EndOfCallReport,
    ErrorEvent,
    Event,
    HangEvent,
    LazyEvent,
    Message,
    StatusUpdate,
)
from callhook.monitor._alerts import Alert, AlertBook, Condition, RuleId, Severity
from callhook.monitor._calls import CallState, num, text
from callhook.monitor._config import MonitorConfig
from callhook.monitor._impact import HangImpact, HangOutcome, HangTracker
from callhook.monitor._lazy import materialize
from callhook.monitor._outcome import Outcome, SayAction, WebhookAction
from callhook.monitor._patterns import CallRecord, IncidentKind, IncidentRecord
from callhook.monitor._rules import RuleSet
from callhook.monitor._sentiment import SentimentPoint, SentimentScorer

__all__ = ["MonitorCore"]

TERMINAL_STATUSES = frozenset({"finished", "failed"})


class MonitorCore:
    """Rules, alert book, per-call state, hang impact and sentiment, without I/O."""

    def __init__(self, config: MonitorConfig, *, scorer: SentimentScorer | None = None) -> None:
        self.config = config
        self.rules = RuleSet(config.rules)
        self.book = AlertBook(config.suppress_s)
        self.calls: dict[str, CallState] = {}
        self.scorer = scorer or SentimentScorer()
        #: When set, user messages to score go to ``sentiment_backlog`` (call id, messageId,
        #: timestamp ms, text) for the caller to score elsewhere and hand to ``add_sentiment``.
        self.defer_sentiment = False
        self.sentiment_backlog: list[tuple[str, str, float | None, str]] = []
        self._error_seen: dict[str, float] = {}  # error alert scope -> last occurrence

    def add_sentiment(
        self, call_id: str, message_id: str, timestamp_ms: float | None, compound: float
    ) -> None:
        """Record a user message's score (ignored if the call has been forgotten)."""
        state = self.calls.get(call_id)
        if state is not None:
            point = SentimentPoint(
                message_id=message_id, timestamp_ms=timestamp_ms, compound=compound
            )
            state.sentiment.append(point)

    # -- one event -------------------------------------------------------------------------

    def process(self, event: Event | LazyEvent, now: float) -> Outcome:
        """Evaluate one event received at ``now`` (epoch seconds). A ``LazyEvent`` (the
        receiver's ``decode_lazy`` result) is decoded here, only as far as needed."""
        out = Outcome()
        call = event.call
        if not isinstance(call, Call):
            return out  # trimmed documentation examples carry no call: nothing to monitor
        call_id = call.id
        state = self.calls.get(call_id)
        length: int | None = None  # of the history, when ``messages`` holds only its tail
        if isinstance(event, LazyEvent):
            with_assistant = state is None or None in (state.provider, state.stt_vendor)
            event, length = materialize(
                event, state.seen if state else (), with_assistant=with_assistant
            )
        if state is None:
            state = self.calls[call_id] = CallState(
                call_id, first_seen=now, last_activity=now, hangs=HangTracker(self.config.impact)
            )
        state.last_activity = max(state.last_activity, now)
        state.learn(event)
        self.rules.call_seen(now, call_id)
        at_ms = num(event.timestamp)
        at_ms = at_ms if at_ms is not None else now * 1000
        messages = getattr(event, "messages", None)
        if isinstance(messages, list):
            length = len(messages) if length is None else length
            self._messages(state, messages, length, now, at_ms, out)
        self._apply(Condition(rule=RuleId.STALE_CALL, scope=f"call={call_id}", severity=None,
                              summary="activity resumed", call_id=call_id), now, out)  # fmt: skip
        if isinstance(event, HangEvent):
            self._hang(state, event, messages, length or 0, now, at_ms, out)
        elif isinstance(event, ErrorEvent):
            self._error(state, event, now, at_ms, out)
        terminal = isinstance(event, EndOfCallReport) or (
            isinstance(event, StatusUpdate)
            and isinstance(event.call, Call)
            and event.call.status in TERMINAL_STATUSES
        )
        if terminal and not state.ended:
            self._end(state, event, now, at_ms, out)
        for condition in self.rules.evaluate_changed(now):
            self._apply(condition, now, out)
        return out

    def _messages(
        self,
        state: CallState,
        messages: list[Message],
        length: int,
        now: float,
        at_ms: float,
        out: Outcome,
    ) -> None:
        # Every event carries the full history, so the unseen messages are a suffix.
        fresh: list[Message] = []
        for message in reversed(messages):
            if message.message_id in state.seen:
                break
            fresh.append(message)
        state.message_count = max(state.message_count, length)
        for message in reversed(fresh):
            state.seen.add(message.message_id)
            if message.role == "user":
                state.user_turns += 1
                self.rules.stt_result(now, state.stt_vendor)
                if self.config.sentiment and isinstance(message.text, str):
                    ts = num(message.timestamp)
                    if self.defer_sentiment:
                        item = (state.call_id, message.message_id, ts, message.text)
                        self.sentiment_backlog.append(item)
                    else:
                        score = self.scorer.score(message.text)
                        self.add_sentiment(state.call_id, message.message_id, ts, score)
            elif message.role == "assistant" and not message.message_id.startswith("welcome-"):
                llm = message.metrics.llm if message.metrics else None
                latency = num(llm.response_latency_ms) if llm else None
                self.rules.llm_response(now, state.provider, latency)
            for impact in state.hangs.on_message(message, at_ms):
                if impact.outcome is HangOutcome.RECOVERED:
                    self._resolve_hang(impact, "response arrived", now, out)

    def _hang(
        self,
        state: CallState,
        event: HangEvent,
        messages: list[Message] | None,
        length: int,
        now: float,
        at_ms: float,
        out: Outcome,
    ) -> None:
        info = event.hang or None
        pending = text(info.pending_message_id) if info else None
        pending_msg: Message | None = None
        for message in reversed(messages or []):
            if (pending and message.message_id == pending) or (
                not pending and message.role == "user"
            ):
                pending_msg = message
                break
        pending = pending or (pending_msg.message_id if pending_msg else f"hang@{int(at_ms)}")
        impact = state.hangs.on_hang(
            HangImpact(
                call_id=state.call_id,
                pending_message_id=pending,
                hung_at_ms=at_ms,
                pending_text=text(pending_msg.text) if pending_msg else None,
                pending_at_ms=num(pending_msg.timestamp) if pending_msg else None,
                threshold_ms=num(info.threshold_ms) if info else None,
                stage=text(info.stage) if info else None,
                assistant_id=state.assistant_id,
                provider=state.provider,
                model=state.model,
                message_count=length,
            )
        )
        if impact is None:
            return  # a duplicate delivery of a hang already counted
        self.rules.hang(now, state.call_id, state.assistant_id)
        rule = self.config.rules.hang
        if rule.enabled and impact.outcome is HangOutcome.PENDING:
            waited = num(info.waited_ms) if info else None
            self._apply(
                Condition(
                    rule=RuleId.HANG,
                    scope=f"call={state.call_id}/{pending}",
                    severity=Severity(rule.severity),
                    summary=f"call {state.call_id} hung on {pending}"
                    + (f" after {waited:.0f} ms" if waited is not None else "")
                    + (f" (stage {impact.stage})" if impact.stage else ""),
                    value=waited,
                    threshold=impact.threshold_ms,
                    call_id=state.call_id,
                    assistant_id=state.assistant_id,
                    provider=state.provider,
                ),
                now,
                out,
            )
        remediation = self.config.remediation
        if (
            remediation.say_on_hang
            and state.control_url
            and not state.ended
            and impact.outcome is HangOutcome.PENDING
        ):
            out.actions.append(
                SayAction(
                    call_id=state.call_id,
                    control_url=state.control_url,
                    message=remediation.say_message,
                    pending_message_id=pending,
                )
            )

    def _error(
        self, state: CallState, event: ErrorEvent, now: float, at_ms: float, out: Outcome
    ) -> None:
        info = event.error or None
        kind = text(info.type) if info else None
        code = text(info.code) if info else None
        provider = text(info.provider) if info else None
        if provider is None:
            provider = state.stt_vendor if kind == "stt_error" else state.provider
        self.rules.error(now, kind, provider)
        state.errors.append(
            IncidentRecord(
                kind=IncidentKind.ERROR,
                call_id=state.call_id,
                at_ms=at_ms,
                message_count=state.message_count,
                assistant_id=state.assistant_id,
                provider=provider,
                model=state.model,
                detail=kind,
            )
        )
        state.hangs.on_error(code)
        rule = self.config.rules.error
        if not rule.enabled:
            return
        scope = f"{kind or 'error'}/{provider or '-'}/{code or '-'}"
        self._error_seen[scope] = now
        current = self.book.get(RuleId.ERROR, scope)
        count = (current.value or 0) + 1 if current else 1
        message = text(info.message) if info else None
        self._apply(
            Condition(
                rule=RuleId.ERROR,
                scope=scope,
                severity=Severity(rule.severity),
                summary=f"{kind or 'error'} {code or ''} from {provider or 'unknown provider'}"
                f" in call {state.call_id}" + (f": {message}" if message else ""),
                value=count,
                call_id=state.call_id,
                assistant_id=state.assistant_id,
                provider=provider,
            ),
            now,
            out,
        )

    def _end(self, state: CallState, event: Event, now: float, at_ms: float, out: Outcome) -> None:
        state.ended = True
        state.ended_ms = at_ms
        trigger = text(event.call.call_end_trigger_by) if event.call else None
        for impact in state.hangs.on_end(at_ms, trigger):
            if impact.outcome is HangOutcome.UNANSWERED:
                self._resolve_hang(impact, "call ended without a response", now, out)

    def _resolve_hang(self, impact: HangImpact, why: str, now: float, out: Outcome) -> None:
        scope = f"call={impact.call_id}/{impact.pending_message_id}"
        waited = f" after {impact.waited_ms:.0f} ms" if impact.waited_ms is not None else ""
        self._apply(
            Condition(rule=RuleId.HANG, scope=scope, severity=None, summary=f"{why}{waited}"),
            now,
            out,
        )

    def _apply(self, condition: Condition, now: float, out: Outcome) -> None:
        if condition.severity is None and self.book.get(condition.rule, condition.scope) is None:
            return  # clear and nothing open: the common case, nothing to do
        saves, notices = self.book.apply(condition, now)
        out.saves.extend(saves)
        out.notices.extend(notices)
        url = self.config.remediation.systemic_hangs_webhook
        for notice in notices:
            if url and notice.alert.rule is RuleId.SYSTEMIC_HANGS and notice.kind != "resolved":
                out.actions.append(WebhookAction(url=url, alert=notice.alert))

    # -- time passing ----------------------------------------------------------------------

    def tick(self, now: float) -> Outcome:
        """Re-evaluate every rule (windows slide), find stale calls, forget old state."""
        out = Outcome()
        for condition in self.rules.evaluate(now):
            self._apply(condition, now, out)
        self.rules.prune(now)
        stale = self.config.rules.stale_calls
        for state in list(self.calls.values()):
            idle = now - state.last_activity
            if stale.enabled and not state.ended and idle >= stale.after_s:
                self._apply(
                    Condition(
                        rule=RuleId.STALE_CALL,
                        scope=f"call={state.call_id}",
                        severity=Severity(stale.severity),
                        summary=f"call {state.call_id}: no terminal event {idle:.0f} s"
                        " after its last activity",
                        value=idle,
                        threshold=stale.after_s,
                        call_id=state.call_id,
                        assistant_id=state.assistant_id,
                    ),
                    now,
                    out,
                )
            if idle >= self.config.forget_after_s:
                self._forget(state, idle, now, out)
        quiet = self.config.suppress_s
        for scope, last in list(self._error_seen.items()):
            if now - last >= quiet:
                del self._error_seen[scope]
                summary = f"no further {scope} for {quiet:g} s"
                self._apply(
                    Condition(rule=RuleId.ERROR, scope=scope, severity=None, summary=summary),
                    now,
                    out,
                )
        self.book.prune(now, keep_s=self.config.forget_after_s)
        return out

    def _forget(self, state: CallState, idle: float, now: float, out: Outcome) -> None:
        """Drop a call's state; close its alerts so that none stays open forever."""
        del self.calls[state.call_id]
        why = f"call forgotten after {idle:.0f} s without events"
        self._apply(
            Condition(rule=RuleId.STALE_CALL, scope=f"call={state.call_id}", severity=None,
                      summary=why), now, out
        )  # fmt: skip
        for impact in state.hangs.impacts:
            if impact.outcome is HangOutcome.PENDING:
                self._resolve_hang(impact, why, now, out)

    # -- read side -------------------------------------------------------------------------

    def open_alerts(self) -> list[Alert]:
        return self.book.open_alerts()

    def hang_impacts(self, call_id: str | None = None) -> list[HangImpact]:
        states = [self.calls[call_id]] if call_id in self.calls else []
        if call_id is None:
            states = list(self.calls.values())
        return [i for s in states for i in s.hangs.impacts]

    def records(self) -> tuple[list[CallRecord], list[IncidentRecord]]:
        """Pattern-analysis records of the calls the monitor still remembers."""
        calls = [s.record() for s in self.calls.values()]
        incidents: list[IncidentRecord] = []
        for s in self.calls.values():
            incidents.extend(s.errors)
            for h in s.hangs.impacts:
                incidents.append(
                    IncidentRecord(
                        kind=IncidentKind.HANG,
                        call_id=s.call_id,
                        at_ms=h.hung_at_ms,
                        message_count=h.message_count,
                        assistant_id=s.assistant_id,
                        provider=s.provider,
                        model=s.model,
                        detail=h.stage,
                    )
                )
        return calls, incidents
