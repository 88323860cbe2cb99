"""Crash test: a real delivering process is killed with SIGKILL mid-stream and restarted.

The receiver (another real process) must end up with every accepted event exactly once per
``webhook-id``, in per-call order. Loopback only; every wait has a deadline.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from callhook.delivery import list_deliveries
from callhook.store import make_engine
from tests.databases import database_url

HERE = Path(__file__).parent
DEADLINE = 60.0
CALLS, EVENTS = 12, 25


class Process:
    """A child process whose stdout lines arrive on a queue (read by a thread)."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str | None:
        return self.lines.get(timeout=DEADLINE)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=DEADLINE)
        self.thread.join(timeout=DEADLINE)

    def rest(self) -> list[str]:
        lines = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return lines
            if line is not None:
                lines.append(line)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: a SQLite file, or a private PostgreSQL schema."""
    yield from database_url(request.param, tmp_path)


def test_sigkill_mid_stream_then_restart_delivers_everything_once_in_order(db: str) -> None:
    receiver = Process(str(HERE / "crash_receiver.py"))
    try:
        ready = receiver.next_line()
        assert ready is not None and ready.startswith("port ")
        url = f"http://127.0.0.1:{ready.split()[1]}/hook"
        received: list[str] = []

        sender = Process(
            str(HERE / "crash_sender.py"),
            db,
            url,
            str(CALLS),
            str(EVENTS),
        )
        accepted: list[str] = []
        while len(received) < CALLS * EVENTS // 3:  # kill once a third has arrived
            line = receiver.next_line()
            assert line is not None, "the receiver stopped"
            received.append(line)
        sender.stop(signal.SIGKILL)
        assert sender.proc.returncode == -signal.SIGKILL
        accepted = [line.split()[1] for line in sender.rest() if line.startswith("accepted ")]
        backlog = len(set(accepted) - {line.split()[0] for line in received})
        print(f"killed with {backlog} of {len(accepted)} accepted events not yet received")
        assert backlog > 0, "the kill did not land mid-stream"

        restarted = Process(
            str(HERE / "crash_sender.py"),
            db,
            url,
            str(CALLS),
            str(EVENTS),
            "--resume",
        )
        assert restarted.next_line() == "done"
        assert restarted.proc.wait(timeout=DEADLINE) == 0
        received.extend(receiver.rest())
    finally:
        receiver.stop()
    received.extend(receiver.rest())

    engine = make_engine(db)
    records = list_deliveries(engine, limit=10_000)
    engine.dispose()
    stored = {r.webhook_id for r in records}
    assert {r.status for r in records} == {"delivered"}
    assert set(accepted) <= stored, "an event accepted before the kill was lost"

    rows = [line.split() for line in received]
    ids = [webhook_id for webhook_id, _, _, _ in rows]
    assert set(ids) == stored, "every stored event reached the receiver, and nothing else"
    duplicates = len(ids) - len(set(ids))
    print(f"accepted before kill {len(accepted)}, stored {len(stored)}, duplicates {duplicates}")
    assert duplicates <= 4 * 2, "only requests in flight at the kill may arrive twice"

    by_call: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for webhook_id, call_id, sequence, _ in rows:
        if webhook_id not in seen:
            seen.add(webhook_id)
            by_call[call_id].append(int(sequence))
    for call_id, sequences in by_call.items():
        assert sequences == list(range(1, len(sequences) + 1)), f"{call_id} out of order"


def test_crash_scripts_are_importable() -> None:
    """The helper scripts parse (they run as separate processes in the test above)."""
    for name in ("crash_receiver.py", "crash_sender.py"):
        compile((HERE / name).read_text(), name, "exec")
    assert sa.__version__
