"""Simulation profiles: the built-in default, TOML files, and clear errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from callhook.sim._profile import Latency, ProfileError, load_profile


def test_builtin_profile_loads_with_defaults_completed() -> None:
    profile = load_profile()
    assert [a.provider for a in profile.assistants] == ["openai", "gemini", "anthropic"]
    pharmacy = profile.assistants[2]
    latency = profile.latency_for(pharmacy)
    assert latency.llm == Latency(p50=950, p95=2900)  # by provider
    assert latency.stt == Latency(p50=180, p95=450)  # from [latency.default]
    assert profile.latency_for(profile.assistants[0]).llm == Latency(p50=750, p95=2100)


def test_latency_samples_have_the_given_percentiles() -> None:
    rng = random.Random(11)
    samples = sorted(Latency(p50=800, p95=2400).sample(rng) for _ in range(20_000))
    assert samples[10_000] == pytest.approx(800, rel=0.05)
    assert samples[19_000] == pytest.approx(2400, rel=0.07)


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[rates]\nhangs = 0.1\n[[assistants]]\nname = "a"\n')
    with pytest.raises(
        ProfileError, match=r"Object contains unknown field `hangs` - at `\$.rates`"
    ):
        load_profile(path)


def test_bad_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[[assistants]]\nname = "a"\n[latency.default]\n'
        "stt = {p50 = 100, p95 = 50}\neou = {p50 = 1, p95 = 2}\n"
        "llm = {p50 = 1, p95 = 2}\ntts = {p50 = 1, p95 = 2}\n"
    )
    with pytest.raises(ProfileError, match=r"p95 \(50.0\) must be >= p50 \(100.0\)"):
        load_profile(path)
    path.write_text('[[assistants]]\nname = "a"\n[latency.default]\nstt = {p50 = 1, p95 = 2}\n')
    with pytest.raises(ProfileError, match=r"\[latency.default\] must give stt, eou, llm and tts"):
        load_profile(path)
    path.write_text("[rates\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)


def test_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"cannot read the profile .*nope\.toml"):
        load_profile(tmp_path / "nope.toml")
