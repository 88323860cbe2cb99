"""Hang recovery, repetition and abandonment on scripted calls."""

from __future__ import annotations

from callhook.events import decode
from callhook.monitor import HangOutcome, ImpactConfig, MonitorConfig, MonitorCore

from ..conftest import sample_path
from .calls import T0_MS, bot, conv, error, finished, hang, report, started, user, welcome

NOW = 1_000_000.0


def new_core(**impact: float) -> MonitorCore:
    return MonitorCore(MonitorConfig(sentiment=False, impact=ImpactConfig(**impact)))


def test_late_response_recovers_with_waited_ms_from_metrics() -> None:
    c = new_core()
    u1 = user(1, "I need an appointment", T0_MS + 1000)
    c.process(started("c"), NOW)
    c.process(hang("c", [welcome(), u1], T0_MS + 6000), NOW + 6)
    (impact,) = c.hang_impacts("c")
    assert impact.outcome is HangOutcome.PENDING and impact.pending_text == u1.text
    c.process(conv("c", [welcome(), u1, bot(1, "Sure", T0_MS + 8200, waited=7150)]), NOW + 8)
    (impact,) = c.hang_impacts("c")
    assert impact.outcome is HangOutcome.RECOVERED
    assert (impact.waited_ms, impact.waited_source) == (7150, "metrics")
    assert impact.response_message_id.startswith("user-1-")  # type: ignore[union-attr]
    assert impact.responded_at_ms == T0_MS + 8200
    assert (impact.provider, impact.model, impact.stage) == ("openai", "gpt-4o", "llm")


def test_waited_ms_is_computed_without_metrics() -> None:
    c = new_core()
    u1 = user(1, "hello", T0_MS + 1000)
    c.process(hang("c", [u1], T0_MS + 6000), NOW)
    c.process(conv("c", [u1, bot(1, "hi", T0_MS + 9500)]), NOW + 1)
    (impact,) = c.hang_impacts("c")
    assert (impact.waited_ms, impact.waited_source) == (8500, "computed")


def test_response_seen_before_the_hang_event_counts_as_recovered() -> None:
    c = new_core()
    u1 = user(1, "hello", T0_MS + 1000)
    c.process(conv("c", [u1, bot(1, "hi", T0_MS + 6500)]), NOW)
    out = c.process(hang("c", [u1], T0_MS + 6000), NOW + 1)  # delivered late
    assert c.hang_impacts("c")[0].outcome is HangOutcome.RECOVERED
    assert all(n.alert.rule != "hang" for n in out.notices)


def test_response_to_another_turn_does_not_recover() -> None:
    c = new_core()
    u1, u2 = user(1, "first", T0_MS), user(2, "second", T0_MS + 100)
    c.process(hang("c", [u1, u2], T0_MS + 6000), NOW)  # pending user-2
    c.process(conv("c", [u1, bot(1, "late one", T0_MS + 7000), u2]), NOW + 1)
    assert c.hang_impacts("c")[0].outcome is HangOutcome.PENDING


def test_error_after_hang_marks_it_errored_and_end_unanswered_otherwise() -> None:
    c = new_core()
    u1 = user(1, "hello", T0_MS)
    c.process(hang("a", [u1], T0_MS + 5000), NOW)
    c.process(error("a", T0_MS + 7000, code="service_unavailable"), NOW + 1)
    impact = c.hang_impacts("a")[0]
    assert (impact.outcome, impact.error_code) == (HangOutcome.ERRORED, "service_unavailable")
    c.process(hang("b", [u1], T0_MS + 5000), NOW)
    c.process(finished("b", T0_MS + 60_000, trigger="bot"), NOW + 60)
    impact = c.hang_impacts("b")[0]
    assert impact.outcome is HangOutcome.UNANSWERED and impact.abandoned is False


def test_user_repeating_after_a_hang_is_detected() -> None:
    c = new_core()
    u1 = user(1, "I need to book an appointment for a complex procedure", T0_MS)
    c.process(hang("c", [u1], T0_MS + 5000), NOW)
    u2 = user(2, "Hello? I need to book an appointment for a complex procedure", T0_MS + 9000)
    c.process(conv("c", [u1, u2]), NOW + 9)
    impact = c.hang_impacts("c")[0]
    assert impact.repeated and impact.repeat_message_id == "user-2"
    assert impact.repeat_similarity is not None and impact.repeat_similarity >= 80


def test_different_or_late_user_message_is_not_a_repetition() -> None:
    c = new_core(repeat_window_s=30)
    u1 = user(1, "I need to book an appointment", T0_MS)
    c.process(hang("c", [u1], T0_MS + 5000), NOW)
    u2 = user(2, "What are your opening hours", T0_MS + 8000)
    u3 = user(3, "I need to book an appointment", T0_MS + 5000 + 30_001)
    c.process(conv("c", [u1, u2, u3]), NOW + 40)
    assert c.hang_impacts("c")[0].repeated is False


def test_user_hanging_up_soon_after_a_hang_is_abandonment() -> None:
    c = new_core(abandon_window_s=30)
    u1 = user(1, "hello", T0_MS)
    c.process(hang("c", [u1], T0_MS + 5000), NOW)
    c.process(report("c", [u1], T0_MS + 35_000, trigger="user"), NOW + 30)
    impact = c.hang_impacts("c")[0]
    assert impact.abandoned and impact.ended_at_ms == T0_MS + 35_000
    c.process(hang("d", [u1], T0_MS + 5000), NOW)
    c.process(report("d", [u1], T0_MS + 35_001, trigger="user"), NOW + 31)
    assert c.hang_impacts("d")[0].abandoned is False


def test_bot_ending_the_call_is_not_abandonment() -> None:
    c = new_core()
    u1 = user(1, "hello", T0_MS)
    c.process(hang("c", [u1], T0_MS + 5000), NOW)
    c.process(finished("c", T0_MS + 6000, trigger="system"), NOW + 1)
    assert c.hang_impacts("c")[0].abandoned is False


def test_sample_hang_is_tracked() -> None:
    event = decode(sample_path("hang.short-1.json").read_bytes()).message
    c = new_core()
    c.process(event, NOW)
    (impact,) = c.hang_impacts()
    assert impact.pending_message_id == "user-1"
    assert impact.pending_text == "Hi, is this Harbor Bikes?"
    assert impact.hung_at_ms == 1778776334160 and impact.message_count == 2
