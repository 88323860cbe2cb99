"""API fuzzing (quick form of ``bench/api_fuzz.py``): schemathesis against a running
``callhook serve``'s ``/openapi.json``, every route and parameter, every check: no 5xx, and
every response as documented."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    if importlib.util.find_spec("schemathesis") is None:
        pytest.skip("API fuzzing needs schemathesis: pip install -e '.[dev]'")
    sys.path.insert(0, str(BENCH))
    try:
        from api_fuzz import run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCH))
    cases, failures, server_errors, output = run(25, 1, tmp_path)
    assert (failures, server_errors) == (0, 0), output[-20000:]
    assert cases >= 500, output[-5000:]
