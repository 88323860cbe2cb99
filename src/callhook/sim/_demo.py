"""``demo``: ``callhook serve`` on the embedded SQLite default, fed by simulated calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec

from callhook._exceptions import ConfigError
from callhook.sim._formats import SimFormat
from callhook.sim._profile import Profile, Rates, load_profile
from callhook.sim._simulate import SimulationResult, simulate

__all__ = ["demo_profile", "run_demo", "running_server"]

_READY_TIMEOUT_S = 60.0


def demo_profile(path: Path | None = None) -> Profile:
    """The profile, with hangs and errors frequent enough to see in a few minutes."""
    profile = load_profile(path)
    if path is not None:
        return profile
    rates = msgspec.structs.replace(Rates(), hang=0.15, llm_error=0.03, stt_error=0.02)
    return msgspec.structs.replace(profile, rates=rates)


@contextlib.contextmanager
def running_server(
    db: str, host: str, port: int, *, log_format: str | None = None, relay: bool = False
) -> Iterator[str]:
    """``callhook serve`` in a child process until the block ends; yields its base URL.

    ``log_format``: the child's ``--log-format`` (and ``--no-status``: the caller owns the
    terminal). ``relay``: its stderr is copied line by line to this process's ``sys.stderr``
    (where a live display keeps the lines whole) instead of shared."""
    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            raise ConfigError(
                f"port {port} on {host} is already in use; pick another with --port",
                setting="port",
            )
    command = [sys.executable, "-m", "callhook", "serve", "--db", db, "--host", host]
    command += ["--port", str(port)]
    if log_format is not None:
        command += ["--log-format", log_format, "--no-status"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE if relay else None)
    copier = None
    if relay:
        copier = threading.Thread(target=_copy_lines, args=(process,), name="callhook-demo-log")
        copier.start()
    base = f"http://{host}:{port}"
    try:
        _wait_ready(process, base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if copier is not None:
            copier.join(5)


def _copy_lines(process: subprocess.Popen[bytes]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        sys.stderr.write(line.decode("utf-8", "replace"))
        sys.stderr.flush()


def _wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"callhook serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1.0) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet (URLError), or not healthy yet (HTTPError)
            pass
        time.sleep(0.1)  # polling a child process's readiness, bounded by the deadline
    raise ConfigError(f"callhook serve did not answer on {base} within {_READY_TIMEOUT_S:.0f} s")


async def run_demo(
    base: str,
    profile: Profile,
    *,
    calls: int | None,
    concurrency: int,
    speed: float,
    seed: int,
    on_batch: Callable[[SimulationResult], None],
    on_call_done: Callable[[object], None] | None = None,
    formats: Sequence[SimFormat | str] = (SimFormat.INTERACTLY,),
) -> None:
    """Stream simulated calls into the receiver at ``base``: ``calls`` of them, or batches
    until cancelled (Ctrl-C). The outbox lives in a temporary folder. Batch after batch
    takes the next of ``formats``: callhook's own events to ``/webhook``, Vapi's or Retell's
    webhooks to ``/webhook/vapi`` or ``/webhook/retell`` (unsigned: the demo's receiver
    listens on loopback)."""
    batch = concurrency * 3
    done = 0
    rotation = [SimFormat(f) for f in formats] or [SimFormat.INTERACTLY]
    with tempfile.TemporaryDirectory(prefix="callhook-demo-") as folder:
        outbox = f"sqlite:///{Path(folder) / 'outbox.sqlite3'}"
        while calls is None or done < calls:
            size = batch if calls is None else min(batch, calls - done)
            chosen = rotation[(done // batch) % len(rotation)]
            path = "/webhook" if chosen is SimFormat.INTERACTLY else f"/webhook/{chosen.value}"
            result = await simulate(
                f"{base}{path}",
                profile,
                calls=size,
                outbox_url=outbox,
                concurrency=concurrency,
                speed=speed,
                seed=seed + done,
                wait_s=30.0,
                on_call_done=on_call_done,
                format=chosen,
            )
            done += size
            on_batch(result)
            await asyncio.sleep(0)
