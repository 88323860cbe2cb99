"""Shared test helpers: callhook's own sample payloads in ``tests/samples/``.

The samples are written by the team to the published Interactly shapes (every key path of the
published examples, with the same JSON types, plus trimmed variants);
``tests/events/test_published_shapes.py`` cross-checks them against the published examples when
those are beside the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"


def sample_files() -> list[Path]:
    """Every sample payload, sorted by name (``<event type>.<variant>.json``)."""
    files = sorted(SAMPLES.glob("*.json"))
    assert files, f"no sample payloads in {SAMPLES}"
    return files


def sample_params() -> list[object]:
    """``sample_files()`` as pytest params named after each file."""
    return [pytest.param(f, id=f.name) for f in sample_files()]


def sample_path(name: str) -> Path:
    """One named sample payload."""
    path = SAMPLES / name
    assert path.is_file(), f"no sample payload {name} in {SAMPLES}"
    return path
