"""The call driver on a fake clock: planned outcomes become the right events, replayably."""

from __future__ import annotations

import random
from collections import Counter

from callhook import events
from callhook.engine import FakeScheduler, ListSink
from callhook.sim._driver import CallDriver, build_assistant, delivery_server
from callhook.sim._plan import CallPlan
from callhook.sim._profile import load_profile
from callhook.sim._runner import plan_calls


def _drive(plans: list[CallPlan], seed: int = 0) -> tuple[ListSink, list[CallDriver]]:
    profile = load_profile()
    scheduler = FakeScheduler()
    sink = ListSink()
    assistants = {
        a.name: build_assistant(a, delivery_server("http://127.0.0.1:9/webhook"))
        for a in profile.assistants
    }
    drivers = []
    for index, plan in enumerate(plans):
        driver = CallDriver(
            plan,
            assistants[plan.assistant.name],
            scheduler=scheduler,
            sink=sink,
            rng=random.Random(f"{seed}/{index}"),
        )
        driver.start()
        drivers.append(driver)
    scheduler.advance(24 * 3600 * 1000)
    return sink, drivers


def _by_call(sink: ListSink) -> dict[str, list[events.Event]]:
    calls: dict[str, list[events.Event]] = {}
    for event in sink.events:
        assert event.call_id is not None
        calls.setdefault(event.call_id, []).append(event)
    return calls


def test_same_seed_gives_the_same_events() -> None:
    plans = plan_calls(load_profile(), 15, seed=4)
    first, _ = _drive(plans)
    again, _ = _drive(plan_calls(load_profile(), 15, seed=4))
    assert [events.encode(e) for e in first.envelopes] == [
        events.encode(e) for e in again.envelopes
    ]


def test_every_call_ends_with_one_report_and_outcomes_match_the_plan() -> None:
    plans = plan_calls(load_profile(), 120, seed=9)
    sink, drivers = _drive(plans)
    assert all(d.done for d in drivers)
    calls = _by_call(sink)
    assert set(calls) == {p.call_id for p in plans}
    for plan in plans:
        evs = calls[plan.call_id]
        kinds = Counter(e.type for e in evs)
        assert kinds[events.EventType.END_OF_CALL_REPORT] == 1, plan.call_id
        assert evs[-1].type is events.EventType.END_OF_CALL_REPORT
        statuses = [
            e.call.status
            for e in evs
            if e.type is events.EventType.STATUS_UPDATE and isinstance(e.call, events.Call)
        ]
        if plan.failed:
            assert statuses == ["initiated", "failed"]
            continue
        assert statuses[:3] == ["initiated", "queued", "ongoing"]
        assert statuses[-1] == "finished"
        assert ("forwarded" in statuses) == (plan.forwarded and not plan.ends_with_phrase)
        report = evs[-1]
        assert isinstance(report.call, events.Call)
        if plan.ends_with_phrase:
            assert report.call.call_end_trigger_by == "bot"
        # A planned hang fires; an LLM error leaves the user unanswered, so it may hang too.
        late = sum(t.hang and not t.stt_error for t in plan.turns)
        unanswered = sum((t.hang or t.llm_error) and not t.stt_error for t in plan.turns)
        assert late <= kinds[events.EventType.HANG] <= unanswered, plan.call_id


def test_hangs_errors_and_barge_ins_all_occur() -> None:
    plans = plan_calls(load_profile(), 120, seed=9)
    sink, drivers = _drive(plans)
    kinds = Counter(e.type for e in sink.events)
    assert kinds[events.EventType.HANG] > 0
    assert kinds[events.EventType.ERROR] > 0
    assert sum(d.session.ledger.barge_ins for d in drivers) > 0
    skipped = [
        m
        for e in sink.events
        if isinstance(e, events.ConversationUpdate)
        for m in e.messages or []
        if isinstance(m.skipped_assistant_messages, list) and m.skipped_assistant_messages
    ]
    assert skipped, "barge-ins leave skipped assistant messages"
