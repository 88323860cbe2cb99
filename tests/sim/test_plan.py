"""Call plans: replayable from a seed, with the profile's outcomes."""

from __future__ import annotations

import random

from callhook.sim._plan import plan_call
from callhook.sim._profile import load_profile


def test_same_seed_same_calls() -> None:
    profile = load_profile()
    first = [plan_call(profile, random.Random(5)) for _ in range(3)]
    again = [plan_call(profile, random.Random(5)) for _ in range(3)]
    assert first == again
    assert plan_call(profile, random.Random(6)) != first[0]


def test_hang_turns_cross_the_threshold_and_others_stay_clear() -> None:
    profile = load_profile()
    rng = random.Random(1)
    hangs = 0
    for _ in range(400):
        plan = plan_call(profile, rng)
        threshold = plan.assistant.hang_threshold_ms
        for turn in plan.turns:
            response_start = turn.llm_ms + turn.tts_ms  # from the end of the user's turn
            if turn.hang:
                hangs += 1
                assert response_start > threshold
            else:
                assert response_start <= threshold - 299.999 or turn.llm_ms == 50.0
    assert hangs > 0


def test_outcome_rates_follow_the_profile() -> None:
    profile = load_profile()
    rng = random.Random(2)
    plans = [plan_call(profile, rng) for _ in range(2000)]
    turns = [t for p in plans for t in p.turns]
    hang_share = sum(t.hang for t in turns) / len(turns)
    assert abs(hang_share - profile.rates.hang) < 0.015
    end_share = sum(p.ends_with_phrase for p in plans) / len(plans)
    assert abs(end_share - profile.rates.end_phrase) < 0.05
    assert all(t.barge_in_at is None for p in plans if not p.assistant.barge_in for t in p.turns)
    ended = [p for p in plans if p.ends_with_phrase]
    assert all(
        any(phrase in p.turns[-1].user_text for phrase in p.assistant.end_phrases) for p in ended
    )
