"""Shared parts of the reliability benches: a ``callhook serve`` process, process CPU and RSS,
valid call events, and a keep-alive HTTP/1.1 load generator on raw asyncio streams."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START = 1_772_702_480_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    db_url: str,
    folder: Path,
    *,
    toml: str = "",
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    name: str = "serve",
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``callhook serve`` on a free port (its log in ``folder``); stopped with SIGINT."""
    port = port or free_port()
    config = folder / f"{name}-{port}.toml"
    config.write_text(toml, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    environ.update(env or {})
    command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
    log = (folder / f"{name}-{port}.log").open("ab")
    process = subprocess.Popen(
        [*command, "--config", str(config)], env=environ, stdout=log, stderr=log
    )
    try:
        wait_ready(process, port)
        yield process, port
    finally:
        stop(process)
        log.close()


def wait_ready(process: subprocess.Popen[bytes], port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"callhook serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"callhook serve did not start within {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def call_events(call_id: str, n_messages: int = 6, start: int = START) -> list[bytes]:
    """A small valid call: initiated, one conversation-update per message, finished, report."""
    clock = start
    out: list[bytes] = []
    history: list[dict[str, Any]] = []

    def emit(kind: str, status: str, **rest: Any) -> None:
        nonlocal clock
        call = {"id": call_id, "assistantId": "asst-bench", "status": status, "callType": "web"}
        out.append(
            json.dumps(
                {"message": {"type": kind, "timestamp": clock, "call": call, **rest}}
            ).encode()
        )
        clock += 1000

    emit("status-update", "initiated")
    for i in range(n_messages):
        role = "user" if i % 2 else "assistant"
        mid = f"user-{(i + 1) // 2}" if role == "user" else f"a-{i}-{call_id}"
        history.append(
            {"messageId": mid, "role": role, "text": f"turn {i} of {call_id}", "timestamp": clock}
        )
        emit("conversation-update", "ongoing", messages=list(history))
    emit("status-update", "finished")
    emit("end-of-call-report", "finished", messages=list(history))
    return out


def request(body: bytes, path: str = "/webhook", headers: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{headers}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def load(
    port: int, calls: list[list[bytes]], connections: int, seconds: float
) -> tuple[int, int, float]:
    """Send each call's events in order, calls spread over keep-alive connections, for at most
    ``seconds``: (2xx answers, other answers, elapsed seconds)."""
    stats = {"ok": 0, "failed": 0}
    deadline = time.monotonic() + seconds

    async def connection(group: list[list[bytes]]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            for call in group:
                for body in call:
                    if time.monotonic() > deadline:
                        return
                    writer.write(request(body))
                    status, _ = await read_response(reader)
                    stats["ok" if 200 <= status < 300 else "failed"] += 1
        finally:
            writer.close()

    began = time.perf_counter()
    groups = [calls[i::connections] for i in range(connections)]
    await asyncio.gather(*(connection(g) for g in groups if g))
    return stats["ok"], stats["failed"], time.perf_counter() - began
