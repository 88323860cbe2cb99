"""The repository's own Vapi and Retell sample deliveries (tests/samples/<platform>/)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent.parent / "samples"


def sample(platform: str, name: str) -> bytes:
    return (SAMPLES / platform / f"{name}.json").read_bytes()


def sample_names(platform: str) -> list[str]:
    return sorted(p.stem for p in (SAMPLES / platform).glob("*.json"))
