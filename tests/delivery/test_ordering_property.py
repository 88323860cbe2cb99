"""Property: whatever the endpoint answers, each call's events are attempted in order."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.delivery import list_deliveries
from callhook.store import make_engine

from .conftest import FakeClock, dispatcher, envelope

ANSWERS = st.sampled_from(["200", "204", "500", "503", "429", "404", "410", "timeout", "refused"])


def _answer(kind: str, request: httpx.Request) -> httpx.Response:
    if kind == "timeout":
        raise httpx.ReadTimeout("timed out", request=request)
    if kind == "refused":
        raise httpx.ConnectError("refused", request=request)
    headers = {"retry-after": "3"} if kind == "429" else {}
    return httpx.Response(int(kind), headers=headers)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.lists(st.sampled_from(["WC-a", "WC-b", "WC-c"]), min_size=1, max_size=12),
    answers=st.lists(ANSWERS, min_size=1, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_per_call_order_and_final_states_hold_for_any_answers(
    order: list[str], answers: list[str], seed: int
) -> None:
    attempts: list[tuple[str, int, str]] = []  # (call, sequence, answer)
    rng = random.Random(seed)

    def handler(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)["message"]["call"]["id"]
        sequence = int(request.headers["x-callhook-call-sequence"])
        kind = answers[len(attempts) % len(answers)] if rng.random() < 0.9 else "200"
        attempts.append((call, sequence, kind))
        return _answer(kind, request)

    async def run(path: Path) -> None:
        engine = make_engine(f"sqlite:///{path}")
        async with dispatcher(engine, handler, clock=FakeClock()) as d:
            for n, call in enumerate(order):
                d.emit(envelope(call, "conversation-update", n=n))
            await d.wait_idle()
        records = list_deliveries(engine, limit=100)
        engine.dispose()
        assert len(records) == len(order)
        assert {r.status for r in records} <= {"delivered", "dead"}
        for r in records:
            assert r.attempts <= 8
            disabled = r.last_error is not None and "endpoint disabled" in r.last_error
            assert r.attempts >= 1 or disabled, "only a disabled endpoint skips sending"

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp) / "outbox.sqlite3"))

    for call in set(order):
        sequences = [seq for c, seq, _ in attempts if c == call]
        assert sequences == sorted(sequences), f"{call} attempted out of order: {sequences}"
