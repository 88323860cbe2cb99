"""Hang detection under load: 10,000 concurrent call sessions on one asyncio event loop.

Each session answers, plays its welcome, then runs user turns whose responses come after a
random delay: most in time, some after the hang threshold, some never (an LLM error instead).
Every timer, scripted or the engine's own, rides on the loop (``loop.call_later``); there is
no task or thread per call. Every event is encoded to JSON, as a delivery layer would.

Checked against an independent record of each turn:
- lateness: when the hang fired minus its deadline (end of user turn + threshold);
- false hangs: a hang for a turn whose response started before the deadline;
- missed hangs: a turn with no response by the deadline and no hang.

Run: ``.venv/bin/python bench/engine_hang.py`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from dataclasses import dataclass, field

from callhook import events
from callhook.engine import AsyncioScheduler, CallParams, CallSession, EngineConfig
from callhook.events import Assistant, HangEvent, HangInfo, TtsMetrics


@dataclass(slots=True)
class Turn:
    """Clock readings just before and just after each engine call bracket the engine's own."""

    ended_before: float
    ended_after: float = 0.0
    response_before: float | None = None
    response_after: float | None = None
    hang_at: float | None = None
    hangs: int = 0


@dataclass(slots=True)
class Ledger:
    """What really happened, kept apart from the engine."""

    turns: dict[tuple[str, str], Turn] = field(default_factory=dict)
    events: int = 0
    bytes: int = 0
    reports: int = 0
    finished: int = 0


class BenchSink:
    def __init__(self, ledger: Ledger, scheduler: AsyncioScheduler) -> None:
        self.ledger = ledger
        self.scheduler = scheduler

    def emit(self, envelope: events.Envelope[events.Event]) -> None:
        now = self.scheduler.now_ms()
        self.ledger.events += 1
        self.ledger.bytes += len(events.encode(envelope))  # what a delivery layer would send
        event = envelope.message
        if isinstance(event, HangEvent) and isinstance(event.hang, HangInfo):
            key = (str(event.call_id), str(event.hang.pending_message_id))
            turn = self.ledger.turns[key]
            turn.hangs += 1
            turn.hang_at = now
        elif event.type == events.EventType.END_OF_CALL_REPORT:
            self.ledger.reports += 1


class Script:
    """Drives one session through its turns with loop callbacks (no task per call)."""

    def __init__(
        self,
        session: CallSession,
        loop: asyncio.AbstractEventLoop,
        scheduler: AsyncioScheduler,
        ledger: Ledger,
        rng: random.Random,
        turns: int,
        threshold_ms: float,
        on_done: asyncio.Future[None],
    ) -> None:
        self.session = session
        self.loop = loop
        self.scheduler = scheduler
        self.ledger = ledger
        self.rng = rng
        self.turns_left = turns
        self.threshold_s = threshold_ms / 1000
        self.on_done = on_done
        self.key: tuple[str, str] | None = None

    def start(self) -> None:
        self.session.initiated()
        self.session.answered()
        self.session.welcome_played(tts=TtsMetrics(audio_duration_ms=1200, is_cache_playing=True))
        self.loop.call_later(self.rng.uniform(1.2, 2.0), self.user_speaks)

    def user_speaks(self) -> None:
        turn = Turn(ended_before=self.scheduler.now_ms())
        message_id = self.session.user_turn_finalised(
            "I would like to book an appointment for next week, please."
        )
        turn.ended_after = self.scheduler.now_ms()
        self.key = (self.session.call_id, message_id)
        self.ledger.turns[self.key] = turn
        self.turns_left -= 1
        roll = self.rng.random()
        if roll < 0.1:  # no response at all: a hang, then an LLM error
            self.loop.call_later(self.threshold_s + 1.0, self.llm_fails)
            return
        if roll < 0.45:  # late
            delay = self.rng.uniform(self.threshold_s + 0.05, self.threshold_s + 3.0)
        else:  # in time
            delay = self.rng.uniform(0.3, self.threshold_s - 0.05)
        self.loop.call_later(delay, self.respond)

    def respond(self) -> None:
        assert self.key is not None
        turn = self.ledger.turns[self.key]
        turn.response_before = self.scheduler.now_ms()
        self.session.response_audio_started(
            "Sure, which day works best for you?",
            tts=TtsMetrics(audio_duration_ms=1500, generation_time_ms=150),
            input_tokens=500,
            output_tokens=12,
        )
        turn.response_after = self.scheduler.now_ms()
        self.loop.call_later(1.5, self.finished_speaking)

    def finished_speaking(self) -> None:
        self.session.response_finished()
        self.next_turn()

    def llm_fails(self) -> None:
        self.session.llm_failed("service_unavailable", "upstream 503", provider="openai")
        self.next_turn()

    def next_turn(self) -> None:
        if self.turns_left > 0:
            self.loop.call_later(self.rng.uniform(0.3, 1.0), self.user_speaks)
        else:
            self.session.ended("user")
            self.ledger.finished += 1
            if self.ledger.finished == self.on_done_total:
                self.on_done.set_result(None)

    on_done_total = 0


def assistant() -> Assistant:
    return Assistant(
        id="bench-assistant",
        name="Bench",
        welcome_message="Welcome!",
        welcome_message_mode="automatic",
        barge_in_enabled=True,
        assistant_provider="openai",
        assistant_model="gpt-4o-mini",
        assistant_system_prompt="You book appointments.",
    )


async def run(
    sessions: int, turns: int, threshold_ms: float, seed: int, ramp_s: float, gc_mode: str
) -> int:
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    ledger = Ledger()
    config = EngineConfig(hang_threshold_ms=threshold_ms)
    the_assistant = assistant()
    done: asyncio.Future[None] = loop.create_future()
    Script.on_done_total = sessions
    cpu0, wall0 = time.process_time(), time.perf_counter()
    freeze = 1.0 if gc_mode == "freeze" else None
    async with AsyncioScheduler(gc_freeze_every_s=freeze) as scheduler:
        sink = BenchSink(ledger, scheduler)
        for index in range(sessions):
            session = CallSession(
                the_assistant,
                CallParams(id=f"WC-bench-{index:05d}", team_id="bench", user_number="web-Bench"),
                scheduler=scheduler,
                sink=sink,
                config=config,
                rng=rng,
            )
            script = Script(
                session, loop, scheduler, ledger, rng, turns,
                threshold_ms, done,
            )  # fmt: skip
            loop.call_later(rng.uniform(0, ramp_s), script.start)
        await done
        await scheduler.drain()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc.unfreeze()
    leaked = gc.collect()  # cyclic garbage that frozen objects would have kept

    lateness: list[float] = []
    false_hangs = missed_hangs = double_hangs = 0
    for turn in ledger.turns.values():
        # Surely in time: even the widest bracket is under the threshold. Surely late: even
        # the narrowest is not. A response inside the bracket's uncertainty is neither.
        surely_in_time = (
            turn.response_after is not None
            and turn.response_after - turn.ended_before < threshold_ms
        )
        surely_late = (
            turn.response_before is None or turn.response_before - turn.ended_after >= threshold_ms
        )
        if turn.hangs > 1:
            double_hangs += 1
        if turn.hangs and surely_in_time:
            false_hangs += 1
        elif not turn.hangs and surely_late:
            missed_hangs += 1
        if turn.hang_at is not None:  # measured from the earliest possible deadline
            lateness.append(turn.hang_at - (turn.ended_before + threshold_ms))
    lateness.sort()
    p50 = statistics.median(lateness) if lateness else 0.0
    p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] if lateness else 0.0
    print(
        f"sessions            {sessions} ({turns} user turns each, threshold {threshold_ms:.0f} ms)"
    )
    print(f"gc                  {gc_mode}")
    print(f"turns               {len(ledger.turns)}")
    print(f"hangs               {len(lateness)}")
    print(f"hang lateness ms    p50={p50:.2f} p99={p99:.2f} max={max(lateness, default=0):.2f}")
    print(f"false hangs         {false_hangs}")
    print(f"missed hangs        {missed_hangs}")
    print(f"double hangs        {double_hangs}")
    print(f"events              {ledger.events} ({ledger.bytes / 1e6:.1f} MB of JSON)")
    print(f"end-of-call reports {ledger.reports}")
    print(f"cpu seconds         {cpu:.2f}")
    print(f"wall seconds        {wall:.2f}")
    print(f"cyclic garbage      {leaked} objects found after the run")
    print(
        f"RESULT sessions={sessions} hang_p99_ms={p99:.2f} false_hangs={false_hangs} "
        f"missed_hangs={missed_hangs}"
    )
    ok = false_hangs == 0 and missed_hangs == 0 and double_hangs == 0 and ledger.reports == sessions
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--threshold-ms", type=float, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ramp-s", type=float, default=10.0, help="spread of session starts")
    parser.add_argument(
        "--gc",
        choices=["freeze", "default"],
        default="freeze",
        help="freeze: AsyncioScheduler(gc_freeze_every_s=1.0), as the docs advise; default: off",
    )
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(
            run(args.sessions, args.turns, args.threshold_ms, args.seed, args.ramp_s, args.gc)
        )
    )


if __name__ == "__main__":
    main()
