"""Simulation profiles: who the assistants are, how fast their providers answer, how calls go.

A profile is TOML (see ``DEFAULT_PROFILE`` for every key with its default). Unknown keys are
refused with their path, so a typo never passes silently.
"""

from __future__ import annotations

import math
import random
import tomllib
from pathlib import Path
from typing import Annotated

import msgspec

from callhook._exceptions import CallhookError

__all__ = [
    "AssistantProfile",
    "CallShape",
    "Latency",
    "LatencyProfile",
    "Profile",
    "ProfileError",
    "Rates",
    "load_profile",
]

_Z95 = 1.6448536269514722  # standard normal quantile of 0.95
Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
PositiveMs = Annotated[float, msgspec.Meta(gt=0.0)]


class ProfileError(CallhookError):
    """A simulation profile is invalid; the message names the key and the file."""


class _Model(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Latency(_Model, frozen=True):
    """A log-normal latency given by its median and 95th percentile, in ms."""

    p50: PositiveMs
    p95: PositiveMs

    def __post_init__(self) -> None:
        if self.p95 < self.p50:
            raise ValueError(f"p95 ({self.p95}) must be >= p50 ({self.p50})")

    def sample(self, rng: random.Random) -> float:
        sigma = (math.log(self.p95) - math.log(self.p50)) / _Z95
        return rng.lognormvariate(math.log(self.p50), sigma)


class LatencyProfile(_Model, frozen=True):
    """Latencies of one provider/model; missing ones fall back to ``[latency.default]``."""

    stt: Latency | None = None
    eou: Latency | None = None
    llm: Latency | None = None
    tts: Latency | None = None


class AssistantProfile(_Model, frozen=True):
    name: str
    provider: str = "openai"
    model: str = "gpt-4o-mini"
    welcome: str = "Thank you for calling Riverside Clinic, this is Rachel. How can I help you?"
    welcome_mode: str = "automatic"
    end_phrases: list[str] = msgspec.field(default_factory=lambda: ["Goodbye", "Bye"])
    end_message: str = "Thank you for calling. Goodbye!"
    barge_in: bool = True
    hang_threshold_ms: PositiveMs = 5000.0
    #: Relative share of calls that go to this assistant.
    weight: Annotated[float, msgspec.Meta(gt=0.0)] = 1.0


class Rates(_Model, frozen=True):
    """Shares of turns or calls; each from 0 to 1."""

    #: Assistant turns whose response starts after the hang threshold.
    hang: Share = 0.06
    #: Hangs followed by an LLM error instead of a late response.
    error_after_hang: Share = 0.3
    #: Turns failing with an LLM error without a hang first.
    llm_error: Share = 0.01
    #: User turns failing with an STT error.
    stt_error: Share = 0.01
    #: Responses the user talks over.
    barge_in: Share = 0.08
    #: Calls the user ends with one of the assistant's end phrases.
    end_phrase: Share = 0.6
    #: Calls forwarded to a human.
    forwarded: Share = 0.05
    #: Calls rejected before they start (concurrency limit).
    failed: Share = 0.03
    #: Calls placed from the web widget (the rest are phone calls).
    web: Share = 0.5


class CallShape(_Model, frozen=True):
    min_turns: Annotated[int, msgspec.Meta(ge=1)] = 3
    max_turns: Annotated[int, msgspec.Meta(ge=1)] = 9
    #: Pause of the user before speaking, and length of the user's speech.
    think: Latency = Latency(p50=900, p95=2500)
    speech: Latency = Latency(p50=2200, p95=5000)

    def __post_init__(self) -> None:
        if self.max_turns < self.min_turns:
            raise ValueError(
                f"max_turns ({self.max_turns}) must be >= min_turns ({self.min_turns})"
            )


class Profile(_Model, frozen=True):
    assistants: list[AssistantProfile]
    latency: dict[str, LatencyProfile]
    rates: Rates = Rates()
    calls: CallShape = CallShape()

    def __post_init__(self) -> None:
        if not self.assistants:
            raise ValueError("at least one [[assistants]] entry is needed")
        default = self.latency.get("default")
        if default is None or None in (default.stt, default.eou, default.llm, default.tts):
            raise ValueError("[latency.default] must give stt, eou, llm and tts")

    def latency_for(self, assistant: AssistantProfile) -> LatencyProfile:
        """The latencies of the assistant's provider/model, completed from the defaults."""
        default = self.latency["default"]
        own = self.latency.get(f"{assistant.provider}/{assistant.model}") or self.latency.get(
            assistant.provider, default
        )
        return LatencyProfile(
            stt=own.stt or default.stt,
            eou=own.eou or default.eou,
            llm=own.llm or default.llm,
            tts=own.tts or default.tts,
        )


DEFAULT_PROFILE = """\
# callhook simulation profile. Latencies are log-normal, given as p50/p95 in ms.

[calls]
min_turns = 3
max_turns = 9
think = { p50 = 900, p95 = 2500 }
speech = { p50 = 2200, p95 = 5000 }

[rates]
hang = 0.06
error_after_hang = 0.3
llm_error = 0.01
stt_error = 0.01
barge_in = 0.08
end_phrase = 0.6
forwarded = 0.05
failed = 0.03
web = 0.5

[[assistants]]
name = "Riverside Clinic - front desk"
provider = "openai"
model = "gpt-4o-mini"
welcome = "Thank you for calling Riverside Clinic, this is Rachel. How can I help you today?"
end_phrases = ["Goodbye", "Bye"]
weight = 3

[[assistants]]
name = "Apollo Dental - scheduling"
provider = "gemini"
model = "gemini-3-flash-preview"
welcome = "Welcome to Apollo Dental! I can book, move or cancel your visit."
end_phrases = ["Goodbye", "That's all"]
weight = 2

[[assistants]]
name = "Northside Pharmacy - refills"
provider = "anthropic"
model = "claude-haiku-4-5"
welcome = "Northside Pharmacy refill line. What can I do for you?"
barge_in = false
weight = 1

[latency.default]
stt = { p50 = 180, p95 = 450 }
eou = { p50 = 500, p95 = 1000 }
llm = { p50 = 900, p95 = 2600 }
tts = { p50 = 220, p95 = 600 }

[latency."openai/gpt-4o-mini"]
llm = { p50 = 750, p95 = 2100 }

[latency."gemini/gemini-3-flash-preview"]
llm = { p50 = 1100, p95 = 3200 }

[latency.anthropic]
llm = { p50 = 950, p95 = 2900 }
tts = { p50 = 260, p95 = 700 }
"""


def load_profile(path: Path | None = None) -> Profile:
    """Load a profile from a TOML file, or the built-in default when ``path`` is None."""
    text = DEFAULT_PROFILE if path is None else _read(path)
    where = "the built-in profile" if path is None else str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, Profile)
    except msgspec.ValidationError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read the profile {path}: {exc.strerror}") from None
