"""The receiver's fast path: a ``LazyEvent`` is monitored exactly like the decoded event,
decoding only the messages the call has not shown before."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from callhook.events import (
    UNSET,
    Envelope,
    Event,
    HangEvent,
    LazyEvent,
    decode,
    decode_lazy,
    encode,
)
from callhook.monitor import MonitorConfig, MonitorCore
from callhook.monitor._lazy import materialize

from ..conftest import sample_params
from .calls import T0_MS, bot, conv, error, hang, report, started, user

NOW = 1_000_000.0


def lazy(event: Event) -> LazyEvent:
    return decode_lazy(encode(Envelope(message=event)))


def script() -> list[Event]:
    u1 = user(1, "I need to book an appointment", T0_MS + 1000)
    u2 = user(2, "Hello? I need to book an appointment", T0_MS + 9000)
    b2 = bot(2, "Sure, when?", T0_MS + 12_000, latency=2500, waited=3000)
    return [
        started("c", control_url="http://127.0.0.1:9/control"),
        conv("c", [u1]),
        hang("c", [u1], T0_MS + 6000),
        conv("c", [u1, u2]),
        error("c", T0_MS + 10_000, messages=[u1, u2]),
        conv("c", [u1, u2, b2]),
        conv("c", [u1]),  # an old event, late
        report("c", [u1, u2, b2], T0_MS + 20_000),
    ]


def snapshot(core: MonitorCore) -> object:
    state = core.calls["c"]
    alerts = sorted((a.rule, a.scope, a.severity, a.summary) for a in core.open_alerts())
    return (
        msgspec.to_builtins(core.hang_impacts()),
        msgspec.to_builtins(state.sentiment),
        msgspec.to_builtins(core.records()),
        (state.provider, state.model, state.stt_vendor, state.control_url, state.ended),
        alerts,
    )


def test_lazy_and_decoded_events_give_the_same_monitoring() -> None:
    eager, fast = MonitorCore(MonitorConfig()), MonitorCore(MonitorConfig())
    for i, event in enumerate(script()):
        a = eager.process(event, NOW + i)
        b = fast.process(lazy(event), NOW + i)
        assert [(n.kind, n.alert.scope) for n in a.notices] == [
            (n.kind, n.alert.scope) for n in b.notices
        ]
    assert snapshot(eager) == snapshot(fast)
    impact = fast.hang_impacts()[0]
    assert impact.repeated and impact.waited_ms is None  # b2 answers user-2, not user-1


@pytest.mark.parametrize("path", sample_params())
def test_sample_payloads_via_both_paths(path: Path) -> None:
    body = path.read_bytes()
    eager, fast = MonitorCore(MonitorConfig()), MonitorCore(MonitorConfig())
    a = eager.process(decode(body).message, NOW)
    b = fast.process(decode_lazy(body), NOW)
    assert [(n.kind, n.alert.scope) for n in a.notices] == [
        (n.kind, n.alert.scope) for n in b.notices
    ]
    assert msgspec.to_builtins(eager.records()) == msgspec.to_builtins(fast.records())


def test_seen_messages_stay_undecoded_except_the_pending_one() -> None:
    u1, u2 = user(1, "first", T0_MS), user(2, "second", T0_MS + 10)
    b1 = bot(1, "ok", T0_MS + 5)
    event = hang("c", [u1, b1, u2], T0_MS + 6000, pending="user-2")
    out, length = materialize(
        lazy(event), {"user-1", b1.message_id, "user-2"}, with_assistant=False
    )
    assert isinstance(out, HangEvent) and out.hang == event.hang and length == 3
    assert [m.text for m in out.messages or []] == ["second"]
    out, length = materialize(lazy(event), {"user-1"}, with_assistant=False)
    assert [m.text for m in out.messages or []] == ["ok", "second"]
    assert out.assistant is UNSET
    out, _ = materialize(lazy(conv("c", [u1, b1, u2])), {"user-2"}, with_assistant=True)
    assert out.messages == [] and out.assistant is UNSET  # "{}" is not decoded
    out, length = materialize(lazy(started("c")), (), with_assistant=True)
    assert length is None and out.assistant is not UNSET
    assert out.assistant.assistant_provider == "openai"  # type: ignore[union-attr]
