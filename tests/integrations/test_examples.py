"""The example bots run offline against a real ``callhook serve``: their calls arrive whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("example", "framework", "extra"),
    [("pipecat_bot.py", "pipecat", "pipecat"), ("livekit_agent.py", "livekit.agents", "livekit")],
)
def test_an_example_bot_runs_offline_and_its_call_is_stored(
    example: str, framework: str, extra: str, receiver: str, tmp_path: Path
) -> None:
    pytest.importorskip(framework, reason=f"pip install 'callhook[{extra}]'")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / example),
            "--offline",
            "--to",
            f"{receiver}/webhook",
            "--outbox",
            f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    call_id = result.stdout.split("call ", 1)[1].split(":", 1)[0]
    with httpx.Client(base_url=receiver, timeout=30) as client:
        call = client.get(f"/api/calls/{call_id}").json()
        messages = client.get(f"/api/calls/{call_id}/messages", params={"limit": "500"}).json()
        hangs = client.get("/api/hangs").json()
    assert call["status"] == "finished"
    texts = [m["text"] for m in messages["messages"]]
    assert "Welcome to the clinic! How can I help?" in texts
    assert any(m.get("skippedAssistantMessages") for m in messages["messages"])  # the barge-in
    assert [h for h in hangs["hangs"] if call_id in str(h)]  # the slow reply's hang
