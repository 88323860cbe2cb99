"""Fixtures of the pipeline-adapter tests: a real ``callhook serve`` process on a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhook.sim import running_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    """The base URL of a ``callhook serve`` process on its own SQLite file."""
    db = f"sqlite:///{tmp_path / 'receiver.sqlite3'}"
    with running_server(db, "127.0.0.1", _free_port()) as base:
        yield base
