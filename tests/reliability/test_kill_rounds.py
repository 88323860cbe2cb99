"""SIGKILL at seeded random moments under load, quick form of ``bench/kill_rounds.py`` (2 rounds
per side): every event ``callhook serve`` acknowledged is stored; every event the dispatcher
accepted is delivered, by webhook-id, in per-call order."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_two_kill_rounds_per_side_lose_nothing(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from kill_rounds import dispatcher_rounds, serve_rounds  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCH))
    assert serve_rounds(2, 5, tmp_path) == [0, 0]
    losses, _ = dispatcher_rounds(2, 5, tmp_path)
    assert losses == [0, 0]
