"""Simulated calls keep the invariants the published captures keep, over many seeded calls
(issue 21 items 12-16): one end time per call, stt and audio figures that agree with each
other and with the events carrying them, a filled recording, and overrides per SPEC §3."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from callhook import events
from callhook.engine import FakeScheduler, ListSink
from callhook.sim import CallDriver, build_assistant, delivery_server, load_profile, plan_calls


def _simulate(count: int, seed: int) -> dict[str, list[events.Event]]:
    """``count`` planned calls of ``seed`` on a fake clock; each call's events in order."""
    profile = load_profile()
    scheduler = FakeScheduler()
    sink = ListSink()
    server = delivery_server("http://127.0.0.1:9/webhook")
    assistants = {a.name: build_assistant(a, server) for a in profile.assistants}
    for index, plan in enumerate(plan_calls(profile, count, seed)):
        CallDriver(
            plan,
            assistants[plan.assistant.name],
            scheduler=scheduler,
            sink=sink,
            rng=random.Random(f"{seed}/{index}"),
        ).start()
    scheduler.advance(24 * 3600 * 1000)
    calls: dict[str, list[events.Event]] = {}
    for event in sink.events:
        assert event.call_id is not None
        calls.setdefault(event.call_id, []).append(event)
    return calls


def _wire(event: events.Event) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(event)
    return data


def _message_problems(call_events: list[events.Event]) -> list[str]:
    """Where one call's messages contradict themselves or the events that carry them."""
    problems: list[str] = []
    first_carried: dict[str, int] = {}
    last: list[dict[str, Any]] = []
    for event in call_events:
        if isinstance(event, events.ConversationUpdate):
            data = _wire(event)
            for message in data["messages"]:
                first_carried.setdefault(message["messageId"], data["timestamp"])
            last = data["messages"]
    received = -1
    for message in last:
        where = f"{message['messageId']}"
        metrics = message.get("metrics", {})
        audio = metrics.get("audio", {}).get("totalAudioReceivedMs")
        if not isinstance(audio, int) or audio < received:
            problems.append(f"{where}: totalAudioReceivedMs {audio} after {received}")
        received = audio if isinstance(audio, int) else received
        if message["role"] != "user":
            continue
        stt = metrics["stt"]
        if stt["durationMs"] != stt["endOffsetMs"] - stt["startOffsetMs"]:
            problems.append(f"{where}: stt {stt}")
        if not 0 <= stt["startOffsetMs"] <= stt["endOffsetMs"]:
            problems.append(f"{where}: stt offsets {stt}")
        if stt["timestampMs"] > min(message["timestamp"], first_carried[message["messageId"]]):
            problems.append(f"{where}: transcript done {stt['timestampMs']} after the message")
    return problems


def _end_problems(call_events: list[events.Event]) -> list[str]:
    """Where one call's end contradicts itself or SPEC §2-§3."""
    report = call_events[-1]
    assert isinstance(report, events.EndOfCallReport) and isinstance(report.call, events.Call)
    problems: list[str] = []
    call = _wire(report)["call"]
    if not call["recording"]["s3Bucket"] or call["recording"]["path"] != (
        f"{call['teamId']}/{call['id']}.mp3"
    ):
        problems.append(f"recording {call['recording']}")
    overrides = call["assistantOverrides"]
    if set(overrides.get("variablesValidations", {})) != set(overrides["dynamicVariables"]):
        problems.append(f"assistantOverrides {overrides}")
    finished = [
        e
        for e in call_events
        if isinstance(e, events.StatusUpdate)
        and isinstance(e.call, events.Call)
        and e.call.status == "finished"
    ]
    for status in finished:
        assert isinstance(status.call, events.Call)
        ours = (status.call.end_at, status.call.assistant_call_duration)
        theirs = (report.call.end_at, report.call.assistant_call_duration)
        if ours != theirs:
            problems.append(f"finished {ours} but report {theirs}")
        end = datetime.fromisoformat(str(status.call.end_at)).timestamp() * 1000
        if status.timestamp != round(end):
            problems.append(f"finished at {status.timestamp}, endAt {status.call.end_at}")
    return problems


def test_three_hundred_simulated_calls_keep_every_invariant() -> None:
    calls = _simulate(300, seed=21)
    problems = {
        call_id: found
        for call_id, evs in calls.items()
        if (found := _message_problems(evs) + _end_problems(evs))
    }
    assert problems == {}
    users = sum(
        1
        for evs in calls.values()
        for e in evs[-1].messages or []  # type: ignore[union-attr]
        if e.role == "user"
    )
    assert users > 500  # the sweep covered many user turns


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_seed_gives_consistent_calls(seed: int) -> None:
    for call_id, evs in _simulate(6, seed).items():
        assert _message_problems(evs) + _end_problems(evs) == [], (seed, call_id)


def test_the_echoed_server_is_the_one_delivery_uses() -> None:
    """The payload states the secret as ``[REDACTED]`` and the timeout used (item 16)."""
    profile = load_profile()
    server = delivery_server("http://127.0.0.1:9/webhook", secret="s3cret", timeout_seconds=7)
    scheduler = FakeScheduler()
    sink = ListSink()
    plan = next(p for p in plan_calls(profile, 10, seed=1) if not p.failed)
    assistant = build_assistant(plan.assistant, server)
    CallDriver(plan, assistant, scheduler=scheduler, sink=sink, rng=random.Random(1)).start()
    scheduler.advance(3600 * 1000)
    echoed = _wire(sink.events[0])["assistant"]["assistantServer"]
    assert echoed["secret"] == "[REDACTED]"
    assert echoed["timeoutSeconds"] == 7
    assert echoed["url"] == "http://127.0.0.1:9/webhook"
    assert sorted(echoed["messages"]) == sorted(t.value for t in events.EventType)
