"""Every windowed rule on a fake clock: fires at its threshold, not below; windows slide;
conditions resolve; defaults are SPEC §5's."""

from __future__ import annotations

import msgspec
import pytest

from callhook.monitor import (
    MonitorConfig,
    MonitorCore,
    NoticeKind,
    Outcome,
    RuleConfig,
    RuleId,
    RulesConfig,
    Severity,
)

from .calls import T0_MS, bot, conv, error, hang, started, user

NOW = 1_000_000.0


def core(**rules: RuleConfig) -> MonitorCore:
    return MonitorCore(MonitorConfig(sentiment=False, rules=RulesConfig(**rules)))


def fired(out: Outcome, rule: RuleId) -> list[Severity]:
    return [
        n.alert.severity
        for n in out.notices
        if n.alert.rule is rule and n.kind in (NoticeKind.FIRING, NoticeKind.ESCALATED)
    ]


def resolved(out: Outcome, rule: RuleId) -> bool:
    return any(n.alert.rule is rule and n.kind is NoticeKind.RESOLVED for n in out.notices)


def merge(outs: list[Outcome]) -> Outcome:
    total = Outcome()
    for out in outs:
        total.saves += out.saves
        total.notices += out.notices
        total.actions += out.actions
    return total


def responses(
    c: MonitorCore, n: int, now: float, *, prefix: str = "r", latency: float = 500
) -> Outcome:
    """``n`` calls, each with one new assistant response (an LLM request)."""
    outs = []
    for i in range(n):
        cid = f"{prefix}-{i}"
        c.process(started(cid), now)
        outs.append(c.process(conv(cid, [bot(1, "ok", T0_MS + 1000, latency=latency)]), now))
    return merge(outs)


def utterances(c: MonitorCore, n: int, now: float) -> Outcome:
    """``n`` calls, each with one new user message (an STT result)."""
    outs = []
    for i in range(n):
        cid = f"u-{i}"
        c.process(started(cid), now)
        outs.append(c.process(conv(cid, [user(1, "hello there", T0_MS + 1000)]), now))
    return merge(outs)


def test_defaults_are_the_documented_thresholds() -> None:
    r = RulesConfig()
    assert (r.response_time_p95.warning, r.response_time_p95.critical) == (3000, None)
    assert (r.hang_rate.critical, r.hang_rate.window_s) == (0.05, 3600)
    assert r.provider_error_rate.warning == 0.02
    assert (r.llm_error_rate.warning, r.llm_error_rate.critical, r.llm_error_rate.window_s) == (
        0.02,
        0.05,
        300,
    )
    assert (r.stt_error_rate.warning, r.stt_error_rate.critical) == (0.01, 0.03)
    assert (r.provider_response_time.warning, r.provider_response_time.critical) == (3000, 5000)
    assert r.provider_response_time.window_s == 60
    assert (r.systemic_hangs.critical, r.systemic_hangs.window_s) == (3, 600)


# -- hang rate -------------------------------------------------------------------------------


def hang_calls(c: MonitorCore, calls: int, hung: int, now: float) -> Outcome:
    outs = []
    for i in range(calls):
        cid = f"h-{i}"
        outs.append(c.process(started(cid, assistant_id=f"a-{i}"), now))
        if i < hung:
            msgs = [user(1, "hello?", T0_MS + 1000)]
            outs.append(c.process(hang(cid, msgs, T0_MS + 6000, assistant_id=f"a-{i}"), now))
    return merge(outs)


def test_hang_rate_fires_critical_at_five_percent_of_calls() -> None:
    c = core()
    out = hang_calls(c, 20, 1, NOW)  # 1/20 = 5 %
    assert fired(out, RuleId.HANG_RATE) == [Severity.CRITICAL]
    alert = c.book.get(RuleId.HANG_RATE, "global")
    assert alert is not None and alert.value == 0.05 and alert.threshold == 0.05


def test_hang_rate_below_five_percent_does_not_fire() -> None:
    c = core()
    hang_calls(c, 21, 0, NOW)
    out = hang_calls(c, 1, 1, NOW)  # the same h-0 hangs: 1/21 calls
    assert fired(out, RuleId.HANG_RATE) == []


def test_hang_rate_needs_min_count_calls() -> None:
    c = core()
    out = hang_calls(c, 19, 1, NOW)  # 1/19 > 5 % but fewer than 20 calls
    assert fired(out, RuleId.HANG_RATE) == []


def test_hang_rate_window_slides_and_resolves() -> None:
    c = core()
    hang_calls(c, 20, 1, NOW)
    assert fired(c.tick(NOW + 3599), RuleId.HANG_RATE) == []
    assert c.book.get(RuleId.HANG_RATE, "global") is not None
    out = c.tick(NOW + 3600)  # the window no longer holds them
    assert resolved(out, RuleId.HANG_RATE)
    assert c.book.get(RuleId.HANG_RATE, "global") is None


# -- LLM / STT / provider error rates --------------------------------------------------------


def test_llm_error_rate_warning_at_two_percent_critical_at_five() -> None:
    c = core()
    responses(c, 49, NOW)
    out = c.process(error("r-0", T0_MS), NOW)  # 1 / (49 + 1) = 2 %
    assert fired(out, RuleId.LLM_ERROR_RATE) == [Severity.WARNING]
    c2 = core()
    responses(c2, 95, NOW)
    outs = [c2.process(error(f"r-{i}", T0_MS), NOW) for i in range(5)]  # 5 / 100
    assert fired(merge(outs), RuleId.LLM_ERROR_RATE) == [Severity.WARNING, Severity.CRITICAL]
    assert [n.kind for n in merge(outs).notices if n.alert.rule is RuleId.LLM_ERROR_RATE] == [
        NoticeKind.FIRING,
        NoticeKind.ESCALATED,
    ]


def test_llm_error_rate_below_two_percent_does_not_fire() -> None:
    c = core()
    responses(c, 50, NOW)
    out = c.process(error("r-0", T0_MS), NOW)  # 1 / 51
    assert fired(out, RuleId.LLM_ERROR_RATE) == []


def test_llm_error_rate_window_is_five_minutes() -> None:
    c = core()
    responses(c, 49, NOW)
    c.process(error("r-0", T0_MS), NOW + 299)
    assert c.book.get(RuleId.LLM_ERROR_RATE, "global") is not None
    assert resolved(c.tick(NOW + 300), RuleId.LLM_ERROR_RATE)  # the 49 responses slid out


def test_stt_error_rate_warning_at_one_percent_critical_at_three() -> None:
    c = core()
    utterances(c, 97, NOW)
    outs = [
        c.process(error(f"u-{i}", T0_MS, kind="stt_error", provider="deepgram"), NOW)
        for i in range(3)
    ]
    # 1/98 and 2/99 are below min_count (100 requests); 3/100 = 3 % is critical at once
    assert fired(merge(outs), RuleId.STT_ERROR_RATE) == [Severity.CRITICAL]
    c2 = core()
    utterances(c2, 99, NOW)
    c2.process(error("u-0", T0_MS, kind="stt_error", provider="deepgram"), NOW)  # 1 / 100
    assert c2.book.get(RuleId.STT_ERROR_RATE, "global").severity is Severity.WARNING  # type: ignore[union-attr]
    c3 = core()
    utterances(c3, 100, NOW)
    out = c3.process(error("u-0", T0_MS, kind="stt_error", provider="deepgram"), NOW)  # 1 / 101
    assert fired(out, RuleId.STT_ERROR_RATE) == []


def test_provider_error_rate_is_per_provider() -> None:
    c = core(llm_error_rate=RuleConfig(enabled=False))
    responses(c, 49, NOW)  # 49 openai requests
    out = c.process(error("r-0", T0_MS), NOW)
    assert fired(out, RuleId.PROVIDER_ERROR_RATE) == [Severity.WARNING]
    alert = c.book.get(RuleId.PROVIDER_ERROR_RATE, "provider=openai")
    assert alert is not None and alert.provider == "openai"
    out = c.process(error("r-1", T0_MS, provider="anthropic"), NOW)
    assert c.book.get(RuleId.PROVIDER_ERROR_RATE, "provider=anthropic") is None  # 1 request only
    c2 = core(llm_error_rate=RuleConfig(enabled=False))
    responses(c2, 50, NOW)
    assert fired(c2.process(error("r-0", T0_MS), NOW), RuleId.PROVIDER_ERROR_RATE) == []


# -- latency ---------------------------------------------------------------------------------


def test_response_time_p95_fires_at_3000_ms() -> None:
    c = core()
    responses(c, 18, NOW, latency=800)
    out = responses(c, 2, NOW, prefix="slow", latency=3000)  # p95 of 20 = the 19th = 3000
    assert fired(out, RuleId.RESPONSE_TIME_P95) == [Severity.WARNING]
    c2 = core()
    responses(c2, 18, NOW, latency=800)
    out = responses(c2, 2, NOW, prefix="slow", latency=2999)
    assert fired(out, RuleId.RESPONSE_TIME_P95) == []


def test_response_time_p95_slides_out() -> None:
    c = core()
    responses(c, 20, NOW, latency=4000)
    assert c.book.get(RuleId.RESPONSE_TIME_P95, "global") is not None
    assert not resolved(c.tick(NOW + 299.5), RuleId.RESPONSE_TIME_P95)
    assert resolved(c.tick(NOW + 300), RuleId.RESPONSE_TIME_P95)


@pytest.mark.parametrize(
    ("latency", "severity"),
    [(2999, None), (3000, Severity.WARNING), (4999, Severity.WARNING), (5000, Severity.CRITICAL)],
)
def test_provider_response_time_thresholds(latency: float, severity: Severity | None) -> None:
    c = core()
    out = responses(c, 5, NOW, latency=latency)
    assert fired(out, RuleId.PROVIDER_RESPONSE_TIME) == ([severity] if severity else [])


def test_provider_response_time_window_is_one_minute() -> None:
    c = core()
    responses(c, 5, NOW, latency=6000)
    assert c.book.get(RuleId.PROVIDER_RESPONSE_TIME, "provider=openai") is not None
    assert resolved(c.tick(NOW + 60), RuleId.PROVIDER_RESPONSE_TIME)


# -- systemic hangs --------------------------------------------------------------------------


def assistant_hang(c: MonitorCore, i: int, now: float) -> Outcome:
    cid = f"s-{i}"
    c.process(started(cid), now)
    return c.process(hang(cid, [user(1, "hi", T0_MS)], T0_MS + 6000), now)


def test_systemic_hangs_three_in_ten_minutes() -> None:
    c = core()
    assert fired(assistant_hang(c, 0, NOW), RuleId.SYSTEMIC_HANGS) == []
    assert fired(assistant_hang(c, 1, NOW + 100), RuleId.SYSTEMIC_HANGS) == []
    out = assistant_hang(c, 2, NOW + 599)
    assert fired(out, RuleId.SYSTEMIC_HANGS) == [Severity.CRITICAL]
    alert = c.book.get(RuleId.SYSTEMIC_HANGS, "assistant=asst-1")
    assert alert is not None and alert.assistant_id == "asst-1" and alert.value == 3


def test_systemic_hangs_window_slides() -> None:
    c = core()
    assistant_hang(c, 0, NOW)
    assistant_hang(c, 1, NOW + 100)
    out = assistant_hang(c, 2, NOW + 600)  # the first one slid out
    assert fired(out, RuleId.SYSTEMIC_HANGS) == []


def test_duplicate_hang_delivery_counts_once() -> None:
    c = core()
    assistant_hang(c, 0, NOW)
    assistant_hang(c, 0, NOW + 1)
    out = assistant_hang(c, 1, NOW + 2)
    assert fired(out, RuleId.SYSTEMIC_HANGS) == []


# -- stale calls -----------------------------------------------------------------------------


def test_stale_call_after_ten_minutes_without_terminal_event() -> None:
    c = core()
    c.process(started("st-1"), NOW)
    c.process(conv("st-1", [user(1, "hi", T0_MS)]), NOW + 10)
    assert fired(c.tick(NOW + 609.9), RuleId.STALE_CALL) == []
    out = c.tick(NOW + 610)
    assert fired(out, RuleId.STALE_CALL) == [Severity.WARNING]
    assert out.notices[0].alert.call_id == "st-1"
    assert fired(c.tick(NOW + 700), RuleId.STALE_CALL) == []  # deduplicated
    out = c.process(conv("st-1", [user(1, "hi", T0_MS), user(2, "hello?", T0_MS + 9)]), NOW + 800)
    assert resolved(out, RuleId.STALE_CALL)


def test_finished_call_is_never_stale() -> None:
    from .calls import finished

    c = core()
    c.process(started("st-2"), NOW)
    c.process(finished("st-2", T0_MS + 1000), NOW + 1)
    assert fired(c.tick(NOW + 10_000), RuleId.STALE_CALL) == []


def test_disabled_rule_never_fires() -> None:
    c = core(hang_rate=msgspec.structs.replace(RulesConfig().hang_rate, enabled=False))
    assert fired(hang_calls(c, 20, 20, NOW), RuleId.HANG_RATE) == []


def test_forgotten_call_closes_its_stale_and_hang_alerts() -> None:
    c = core()
    c.process(hang("f-1", [user(1, "hi", T0_MS)], T0_MS + 5000), NOW)
    assert fired(c.tick(NOW + 600), RuleId.STALE_CALL) == [Severity.WARNING]
    out = c.tick(NOW + 7200)
    assert resolved(out, RuleId.STALE_CALL) and resolved(out, RuleId.HANG)
    assert "f-1" not in c.calls
    assert [a.rule for a in c.open_alerts()] == []


def test_refiring_rule_within_the_suppression_window_is_held_back() -> None:
    from callhook.monitor import RemediationConfig

    config = MonitorConfig(
        sentiment=False,
        suppress_s=300,
        rules=RulesConfig(systemic_hangs=RuleConfig(window_s=60, critical=3)),
        remediation=RemediationConfig(systemic_hangs_webhook="http://127.0.0.1:9/x"),
    )
    c = MonitorCore(config)
    out = merge([assistant_hang(c, i, NOW) for i in range(3)])
    assert fired(out, RuleId.SYSTEMIC_HANGS) == [Severity.CRITICAL] and len(out.actions) == 1
    assert resolved(c.tick(NOW + 60), RuleId.SYSTEMIC_HANGS)
    out = merge([assistant_hang(c, i, NOW + 100) for i in range(3, 6)])
    assert fired(out, RuleId.SYSTEMIC_HANGS) == [] and out.actions == []  # suppressed
    assert c.book.get(RuleId.SYSTEMIC_HANGS, "assistant=asst-1") is not None  # yet open
    assert not resolved(c.tick(NOW + 160), RuleId.SYSTEMIC_HANGS)  # closes silently
    out = merge([assistant_hang(c, i, NOW + 400) for i in range(6, 9)])
    (notice,) = [n for n in out.notices if n.alert.rule is RuleId.SYSTEMIC_HANGS]
    assert notice.alert.suppressed == 1 and len(out.actions) == 1
