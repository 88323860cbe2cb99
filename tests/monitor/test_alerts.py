"""Alert lifecycle: deduplication, suppression, escalation, resolution, history; and the
one-shot alerts of each hang and each error."""

from __future__ import annotations

import pytest

from callhook.monitor import (
    AlertState,
    Condition,
    InMemoryAlertStore,
    MonitorConfig,
    MonitorCore,
    NoticeKind,
    RuleId,
    Severity,
)
from callhook.monitor._alerts import AlertBook

from .calls import T0_MS, bot, conv, error, finished, hang, started, user

NOW = 1_000_000.0


def cond(severity: Severity | None, scope: str = "global") -> Condition:
    return Condition(rule=RuleId.HANG_RATE, scope=scope, severity=severity, summary="s", value=1)


def test_same_condition_is_notified_once() -> None:
    book = AlertBook(suppress_s=300)
    saves, notices = book.apply(cond(Severity.WARNING), NOW)
    assert [n.kind for n in notices] == [NoticeKind.FIRING] and len(saves) == 1
    assert book.apply(cond(Severity.WARNING), NOW + 1) == ([], [])


def test_two_monitors_never_make_the_same_alert_id() -> None:
    # Two receiver processes' monitors on one database, the same condition in the same ms.
    one, two = AlertBook(suppress_s=300), AlertBook(suppress_s=300)
    (first,), _ = one.apply(cond(Severity.WARNING), NOW)
    (second,), _ = two.apply(cond(Severity.WARNING), NOW)
    assert first.fired_at_ms == second.fired_at_ms and first.id != second.id
    assert first.id.startswith(f"hang_rate:global:{int(NOW * 1000)}:")


def test_escalation_notifies_and_deescalation_does_not() -> None:
    book = AlertBook(suppress_s=300)
    book.apply(cond(Severity.WARNING), NOW)
    _, notices = book.apply(cond(Severity.CRITICAL), NOW + 1)
    assert [n.kind for n in notices] == [NoticeKind.ESCALATED]
    saves, notices = book.apply(cond(Severity.WARNING), NOW + 2)
    assert notices == [] and saves[0].severity is Severity.WARNING


def test_clear_resolves_with_a_notice() -> None:
    book = AlertBook(suppress_s=300)
    _, (first,) = book.apply(cond(Severity.WARNING), NOW)
    saves, notices = book.apply(cond(None), NOW + 5)
    assert [n.kind for n in notices] == [NoticeKind.RESOLVED]
    assert saves[0].id == first.alert.id
    assert saves[0].state is AlertState.RESOLVED and saves[0].resolved_at_ms == (NOW + 5) * 1000
    assert book.apply(cond(None), NOW + 6) == ([], [])  # nothing open: nothing to say


def test_a_resolved_alert_keeps_the_summary_of_its_value() -> None:
    """The alert shows the value that fired it beside the summary of that value, not the
    summary of the cleared state (issue 20: "0/8 failed (0.00 %)" beside 0.052 / 0.05)."""
    book = AlertBook(suppress_s=300)
    firing = Condition(
        rule=RuleId.LLM_ERROR_RATE,
        scope="global",
        severity=Severity.WARNING,
        summary="3/58 LLM requests failed (5.17 %)",
        value=0.0517,
        threshold=0.05,
    )
    book.apply(firing, NOW)
    clear = Condition(
        rule=RuleId.LLM_ERROR_RATE,
        scope="global",
        severity=None,
        summary="0/8 LLM requests failed (0.00 %)",
        value=0.0,
    )
    (resolved,), (notice,) = book.apply(clear, NOW + 60)
    assert resolved.state is AlertState.RESOLVED
    assert resolved.value == 0.0517
    assert resolved.summary == (
        "3/58 LLM requests failed (5.17 %); at resolution: 0/8 LLM requests failed (0.00 %)"
    )
    assert notice.text.endswith(resolved.summary)


def test_refiring_within_suppression_window_is_suppressed_then_reported() -> None:
    book = AlertBook(suppress_s=300)
    book.apply(cond(Severity.WARNING), NOW)
    book.apply(cond(None), NOW + 10)
    saves, notices = book.apply(cond(Severity.WARNING), NOW + 20)  # flapping
    assert notices == [] and saves[0].notified is False  # stored, not sent
    assert book.apply(cond(None), NOW + 30)[1] == []  # its resolution is silent too
    book.apply(cond(Severity.WARNING), NOW + 299.9)
    book.apply(cond(None), NOW + 299.95)
    _, notices = book.apply(cond(Severity.WARNING), NOW + 300)  # window over
    assert [n.kind for n in notices] == [NoticeKind.FIRING]
    assert notices[0].alert.suppressed == 2
    assert "2 earlier firing(s) suppressed" in notices[0].text


def test_suppression_is_per_key() -> None:
    book = AlertBook(suppress_s=300)
    book.apply(cond(Severity.WARNING, "a"), NOW)
    _, notices = book.apply(cond(Severity.WARNING, "b"), NOW + 1)
    assert len(notices) == 1


def test_notice_text_is_one_slack_line() -> None:
    book = AlertBook(suppress_s=0)
    _, (notice,) = book.apply(cond(Severity.CRITICAL), NOW)
    assert notice.text == "[CRITICAL] hang_rate global firing: s"


@pytest.mark.asyncio
async def test_in_memory_store_keeps_history_newest_first() -> None:
    store = InMemoryAlertStore(capacity=2)
    book = AlertBook(suppress_s=0)
    for i, scope in enumerate("abc"):
        (alert,), _ = book.apply(cond(Severity.WARNING, scope), NOW + i)
        await store.save(alert)
    (resolved,), _ = book.apply(cond(None, "c"), NOW + 5)
    await store.save(resolved)
    listed = await store.list()
    assert [a.scope for a in listed] == ["c", "b"]  # capacity 2, "a" dropped
    assert [a.scope for a in await store.list(state=AlertState.FIRING)] == ["b"]
    assert [a.scope for a in await store.list(since_ms=int((NOW + 2) * 1000))] == ["c"]
    assert len(await store.list(limit=1)) == 1


# -- one-shot alerts -------------------------------------------------------------------------


@pytest.fixture
def core() -> MonitorCore:
    return MonitorCore(MonitorConfig(sentiment=False))


def test_each_hang_alerts_and_resolves_when_the_response_arrives(core: MonitorCore) -> None:
    msgs = [user(1, "book me in", T0_MS)]
    core.process(started("c1"), NOW)
    out = core.process(hang("c1", msgs, T0_MS + 5000), NOW + 5)
    (notice,) = [n for n in out.notices if n.alert.rule is RuleId.HANG]
    assert notice.kind is NoticeKind.FIRING and notice.alert.scope == "call=c1/user-1"
    assert "after 5000 ms (stage llm)" in notice.alert.summary
    assert core.process(hang("c1", msgs, T0_MS + 5000), NOW + 6).notices == []  # duplicate
    out = core.process(conv("c1", [*msgs, bot(1, "done", T0_MS + 7000, waited=7000)]), NOW + 7)
    (notice,) = [n for n in out.notices if n.alert.rule is RuleId.HANG]
    assert notice.kind is NoticeKind.RESOLVED and "after 7000 ms" in notice.alert.summary


def test_hang_alert_resolves_when_the_call_ends_unanswered(core: MonitorCore) -> None:
    core.process(hang("c2", [user(1, "hello?", T0_MS)], T0_MS + 5000), NOW)
    out = core.process(finished("c2", T0_MS + 9000), NOW + 4)
    (notice,) = [n for n in out.notices if n.alert.rule is RuleId.HANG]
    assert notice.kind is NoticeKind.RESOLVED
    assert notice.alert.summary.endswith("; at resolution: call ended without a response")
    assert notice.alert.summary.startswith("call c2 hung on user-1")


def test_each_error_alerts_then_deduplicates_then_resolves_when_quiet(core: MonitorCore) -> None:
    out = core.process(error("c3", T0_MS), NOW)
    (notice,) = [n for n in out.notices if n.alert.rule is RuleId.ERROR]
    assert notice.alert.scope == "llm_error/openai/rate_limit_exceeded"
    assert notice.alert.severity is Severity.WARNING and notice.alert.call_id == "c3"
    out = core.process(error("c4", T0_MS), NOW + 10)
    assert [n for n in out.notices if n.alert.rule is RuleId.ERROR] == []
    alert = core.book.get(RuleId.ERROR, "llm_error/openai/rate_limit_exceeded")
    assert alert is not None and alert.value == 2
    assert [n for n in core.tick(NOW + 309).notices if n.alert.rule is RuleId.ERROR] == []
    out = core.tick(NOW + 310)
    assert [n.kind for n in out.notices if n.alert.rule is RuleId.ERROR] == [NoticeKind.RESOLVED]


def test_one_shot_alerts_can_be_disabled() -> None:
    from callhook.monitor import RulesConfig
    from callhook.monitor._config import EventRuleConfig

    off = EventRuleConfig(enabled=False)
    core = MonitorCore(MonitorConfig(sentiment=False, rules=RulesConfig(hang=off, error=off)))
    out = core.process(hang("c5", [user(1, "x", T0_MS)], T0_MS + 5000), NOW)
    out2 = core.process(error("c5", T0_MS), NOW)
    assert out.notices == [] and out2.notices == []
