"""Shared test fixtures: the published Interactly payloads beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("CALLHOOK_FIXTURES", REPO.parent / "shared/fixtures/interactly"))


def fixture_files() -> list[Path]:
    """Every published example payload; in CI their absence is an error, not a skip."""
    files = sorted(FIXTURES.glob("*.json"))
    if not files and os.environ.get("CI"):
        raise RuntimeError(f"no fixtures in {FIXTURES}; set CALLHOOK_FIXTURES to their folder")
    return files


def fixture_params() -> list[object]:
    files = fixture_files()
    if not files:
        reason = f"Interactly fixtures not found in {FIXTURES} (set CALLHOOK_FIXTURES)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-fixtures")]
    return [pytest.param(f, id=f.name) for f in files]


def fixture_path(name: str) -> Path:
    """One named fixture; skips the test with the reason when the folder is absent."""
    path = FIXTURES / name
    if not path.exists():
        fixture_files()  # raises in CI
        pytest.skip(f"Interactly fixture {name} not found in {FIXTURES} (set CALLHOOK_FIXTURES)")
    return path
