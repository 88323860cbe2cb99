"""The emit example (README and docs/delivery.md) runs as written against a real receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO


def _example(page: str, marker: str) -> str:
    text = (REPO / page).read_text(encoding="utf-8")
    return text.split(f"<!-- example: {marker} -->\n```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("page", ["README.md", "docs/delivery.md"])
def test_the_emit_example_delivers_a_call(page: str, receiver: str, tmp_path: Path) -> None:
    code = _example(page, "emit").replace("http://127.0.0.1:8000", receiver)
    script = tmp_path / "emit.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, check=True, timeout=120)
    call = httpx.get(f"{receiver}/api/calls/WC-1").json()
    assert (call["status"], call["messageCount"], call["hasReport"]) == ("finished", 3, True)
    assert (tmp_path / "outbox.sqlite3").exists()
