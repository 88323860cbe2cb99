"""A real ``callhook serve`` process for the reliability tests (config file, environment)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_SECRET_ENV = (
    "CALLHOOK_WEBHOOK_SECRET",
    "CALLHOOK_SIGNING_SECRET",
    "CALLHOOK_DATABASE_URL",
    "CALLHOOK_API_TOKEN",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serving(
    db_url: str,
    folder: Path,
    *,
    toml: str = "",
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    ready_headers: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """Start ``callhook serve --config`` (``toml`` is the file's text) and wait for /healthz."""
    port = port or free_port()
    config = folder / f"serve-{port}.toml"
    config.write_text(toml, encoding="utf-8")
    log = folder / f"serve-{port}.log"
    environ = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
    environ.update(env or {})
    command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--config", str(config)], env=environ, stdout=sink, stderr=sink
        )
    served = Served(process, f"http://127.0.0.1:{port}", port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"callhook serve exited with {process.returncode}: {served.log_text()}")
            try:
                answer = httpx.get(f"{served.base}/healthz", timeout=1, headers=ready_headers)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("callhook serve did not become ready within 60 s")
            time.sleep(0.05)  # polling readiness of a subprocess, bounded by the deadline
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
