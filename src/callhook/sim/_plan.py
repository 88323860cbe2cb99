"""What happens on a synthetic call, decided up front from a profile and a seeded RNG.

A ``CallPlan`` is pure data in simulated milliseconds; the runner turns it into calls on a
``CallSession``. Planning first keeps a simulation replayable from its seed, whatever the
delivery timing does.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from callhook.sim._corpus import pick_dialogue
from callhook.sim._profile import AssistantProfile, Latency, Profile

__all__ = ["CallPlan", "TurnPlan", "plan_call"]

_HANG_EXTRA = Latency(p50=1500, p95=5000)


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """One user turn and the assistant's answer, times in ms."""

    user_text: str
    assistant_text: str
    #: Silence before the user speaks, then the length of their speech.
    think_ms: float
    speech_ms: float
    stt_ms: float
    eou_ms: float
    llm_ms: float
    tts_ms: float
    stt_confidence: float
    #: The response starts after the hang threshold.
    hang: bool = False
    #: An LLM error instead of a response (after a hang when ``hang``).
    llm_error: bool = False
    #: The STT fails on this turn: an error, no user message.
    stt_error: bool = False
    #: The user talks over the response after hearing this share of it.
    barge_in_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallPlan:
    call_id: str
    assistant: AssistantProfile
    web: bool
    failed: bool
    forwarded: bool
    #: The last user turn says one of the assistant's end phrases.
    ends_with_phrase: bool
    turns: tuple[TurnPlan, ...]
    scenario: str
    facts: dict[str, str]


def plan_call(profile: Profile, rng: random.Random) -> CallPlan:
    """Plan one call: every outcome and latency is drawn here, from ``rng`` only."""
    assistant = rng.choices(profile.assistants, weights=[a.weight for a in profile.assistants])[0]
    rates = profile.rates
    latency = profile.latency_for(assistant)
    web = rng.random() < rates.web
    call_id = _call_id(rng, web)
    count = rng.randint(profile.calls.min_turns, profile.calls.max_turns)
    dialogue = pick_dialogue(rng, count)
    ends_with_phrase = rng.random() < rates.end_phrase and bool(assistant.end_phrases)
    threshold = assistant.hang_threshold_ms
    turns = []
    for index, (user, bot) in enumerate(dialogue.turns):
        last = index == len(dialogue.turns) - 1
        if last and ends_with_phrase:
            user = f"Thanks, that's all. {rng.choice(assistant.end_phrases)}."
        assert latency.stt and latency.eou and latency.llm and latency.tts  # completed by Profile
        stt, eou, tts = (latency.stt.sample(rng), latency.eou.sample(rng), latency.tts.sample(rng))
        hang = rng.random() < rates.hang
        # The hang timer runs from the end of the user's turn (after end-of-utterance
        # detection) until the response plays: that is LLM plus TTS time.
        if hang:
            # The response starts past the threshold, by a log-normal margin.
            llm = threshold - tts + _HANG_EXTRA.sample(rng)
        else:
            # Keep clear of the threshold so that no planned turn hangs by accident.
            llm = min(latency.llm.sample(rng), threshold - tts - 300.0)
        turns.append(
            TurnPlan(
                user_text=user,
                assistant_text=bot,
                think_ms=profile.calls.think.sample(rng),
                speech_ms=profile.calls.speech.sample(rng),
                stt_ms=stt,
                eou_ms=eou,
                llm_ms=max(llm, 50.0),
                tts_ms=tts,
                stt_confidence=round(rng.uniform(0.55, 0.99), 4),
                hang=hang,
                llm_error=(hang and rng.random() < rates.error_after_hang)
                or rng.random() < rates.llm_error,
                # The closing phrase is always heard, so a planned end-phrase call ends so.
                stt_error=rng.random() < rates.stt_error and not (last and ends_with_phrase),
                barge_in_at=rng.uniform(0.2, 0.8)
                if assistant.barge_in and not last and rng.random() < rates.barge_in
                else None,
            )
        )
    return CallPlan(
        call_id=call_id,
        assistant=assistant,
        web=web,
        failed=rng.random() < rates.failed,
        forwarded=rng.random() < rates.forwarded,
        ends_with_phrase=ends_with_phrase,
        turns=tuple(turns),
        scenario=dialogue.scenario,
        facts=dialogue.facts,
    )


def _call_id(rng: random.Random, web: bool) -> str:
    value = uuid.UUID(int=rng.getrandbits(128), version=4)
    return f"WC-{value}" if web else f"CA{value.hex}"
