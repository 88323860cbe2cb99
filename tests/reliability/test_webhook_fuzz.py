"""Webhook fuzzing, quick form of ``bench/fuzz_webhook.py`` (2,000 mutated payloads against a
real ``callhook serve``): no 5xx, every acknowledged event queryable, NUL strings kept exactly
or refused."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_two_thousand_mutated_payloads(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from fuzz_webhook import run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCH))
    result = run(2000, 7, tmp_path)
    assert result["problems"] == []
    assert (result["server_errors"], result["lost"], result["altered"]) == (0, 0, 0)
    assert result["cases"] == 2000
    assert result["acked"] > 500 and result["nul_checked"] > 10
    assert set(result["kinds"]) >= {"nul", "deep", "number", "chunked", "truncate", "hang_up"}
