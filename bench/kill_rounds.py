"""SIGKILL at seeded random moments, under load: ``callhook serve`` and the delivering process.

serve side, each round: ``callhook serve`` (one SQLite file kept across rounds) takes the events
of 8 calls sent concurrently; after a random number of acknowledgements (seeded) it gets
SIGKILL. It is started again and every event it acknowledged must be stored (by body digest).

dispatcher side, each round: a process accepting events into a ``Dispatcher`` (durable outbox,
fresh per round) delivers them to a loopback receiver; once a random share of them (seeded,
5-90 %) has arrived it gets SIGKILL, is started again with ``--resume``, and must deliver every
accepted event: the receiver sees each webhook-id, in per-call order, and nothing else (the
helper processes are the crash test's, ``tests/delivery/crash_*.py``).

Usage: ``python bench/kill_rounds.py [--rounds 20] [--seed 1] [--side serve|dispatcher|both]``.
The last line is ``RESULT serve_rounds=... serve_lost=... dispatcher_rounds=...
dispatcher_lost=... redelivered=...`` (``redelivered``: webhook-ids that arrived twice because
they were in flight at a kill; receivers drop them by webhook-id).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import call_events, free_port, read_response, request, wait_ready

REPO = Path(__file__).resolve().parents[1]
CRASH = REPO / "tests" / "delivery"
DEADLINE = 120.0


def _serve(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
    wait_ready(process, port)
    return process


async def _load_until_killed(
    port: int,
    calls: list[tuple[str, list[bytes]]],
    kill_after: int,
    process: subprocess.Popen[bytes],
) -> dict[str, set[str]]:
    acked: dict[str, set[str]] = defaultdict(set)
    count = 0

    async def sender(call_id: str, bodies: list[bytes]) -> None:
        nonlocal count
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        try:
            for body in bodies:
                writer.write(request(body))
                status, _ = await read_response(reader)
                if status == 200:
                    acked[call_id].add(hashlib.sha256(body).hexdigest()[:16])
                    count += 1
                    if count == kill_after:
                        process.send_signal(signal.SIGKILL)
        except (OSError, asyncio.IncompleteReadError):
            return  # the server died: what was acknowledged is recorded
        finally:
            writer.close()

    await asyncio.gather(*(sender(cid, bodies) for cid, bodies in calls))
    return acked


def _stored(base: str, call_id: str) -> set[str]:
    quoted = urllib.parse.quote(call_id, safe="")
    url = f"{base}/api/calls/{quoted}/events?limit=500"
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return {e["digest"] for e in json.loads(answer.read())["events"]}
    except urllib.error.HTTPError:
        return set()


def serve_rounds(rounds: int, seed: int, folder: Path, db_url: str | None = None) -> list[int]:
    """Lost acknowledged events per round."""
    db = db_url or f"sqlite:///{folder / 'kill.sqlite3'}"
    losses = []
    for round_ in range(rounds):
        rng = random.Random(seed * 1000 + round_)
        calls = [
            (f"kill-{seed}-{round_}-{n}", call_events(f"kill-{seed}-{round_}-{n}", 30))
            for n in range(8)
        ]
        total = sum(len(b) for _, b in calls)
        kill_after = rng.randint(10, total - 10)
        port = free_port()
        process = _serve(db, port, folder / "serve.log")
        acked = asyncio.run(_load_until_killed(port, calls, kill_after, process))
        process.wait(timeout=DEADLINE)
        killed = process.returncode == -signal.SIGKILL
        port = free_port()
        again = _serve(db, port, folder / "serve.log")
        try:
            base = f"http://127.0.0.1:{port}"
            lost = sum(len(d - _stored(base, cid)) for cid, d in acked.items())
        finally:
            again.send_signal(signal.SIGINT)
            again.wait(timeout=DEADLINE)
        acks = sum(len(d) for d in acked.values())
        print(
            f"serve round {round_ + 1}: SIGKILL after {kill_after} of {total} events "
            f"({'killed' if killed else 'NOT killed'}); {acks} acknowledged, {lost} lost",
            flush=True,
        )
        losses.append(lost if killed else max(lost, 1))
    return losses


class _Lines:
    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
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

    def next(self) -> str | None:
        return self.lines.get(timeout=DEADLINE)

    def rest(self) -> list[str]:
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return out
            if line is not None:
                out.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=DEADLINE)
        self.thread.join(timeout=DEADLINE)


def dispatcher_rounds(rounds: int, seed: int, folder: Path) -> tuple[list[int], int]:
    """(lost or misordered events per round, redelivered webhook-ids in all)."""
    calls, per_call = 12, 25
    losses, redelivered = [], 0
    for round_ in range(rounds):
        rng = random.Random(seed * 7919 + round_)
        share = rng.uniform(0.05, 0.9)
        outbox = f"sqlite:///{folder / f'outbox-{round_}.sqlite3'}"
        receiver = _Lines(str(CRASH / "crash_receiver.py"))
        try:
            ready = receiver.next()
            assert ready is not None and ready.startswith("port ")
            url = f"http://127.0.0.1:{ready.split()[1]}/hook"
            args = [str(CRASH / "crash_sender.py"), outbox, url, str(calls), str(per_call)]
            sender = _Lines(*args)
            received: list[str] = []
            while len(received) < int(calls * per_call * share):
                line = receiver.next()
                if line is None:
                    raise SystemExit("the receiver stopped")
                received.append(line)
            sender.stop(signal.SIGKILL)
            accepted = {line.split()[1] for line in sender.rest() if line.startswith("accepted ")}
            restarted = _Lines(*args, "--resume")
            if restarted.next() != "done":
                raise SystemExit("the restarted sender did not finish")
            restarted.stop()
            received += receiver.rest()
        finally:
            receiver.stop()
        received += receiver.rest()
        ids = [line.split()[0] for line in received]
        lost = len(accepted - set(ids))
        by_call: dict[str, list[int]] = defaultdict(list)
        seen: set[str] = set()
        for webhook_id, call_id, sequence, _ in (line.split() for line in received):
            if webhook_id not in seen:
                seen.add(webhook_id)
                by_call[call_id].append(int(sequence))
        misordered = sum(s != list(range(1, len(s) + 1)) for s in by_call.values())
        again = len(ids) - len(set(ids))
        redelivered += again
        print(
            f"dispatcher round {round_ + 1}: SIGKILL after {share:.0%} received; "
            f"{len(accepted)} accepted before the kill, {len(set(ids))} delivered, {lost} lost, "
            f"{misordered} calls out of order, {again} redelivered",
            flush=True,
        )
        losses.append(lost + misordered)
    return losses, redelivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--side", choices=["serve", "dispatcher", "both"], default="both")
    args = parser.parse_args()
    serve_lost: list[int] = []
    dispatcher_lost: list[int] = []
    redelivered = 0
    with tempfile.TemporaryDirectory(prefix="callhook-kill-") as tmp:
        if args.side in ("serve", "both"):
            serve_lost = serve_rounds(args.rounds, args.seed, Path(tmp))
        if args.side in ("dispatcher", "both"):
            dispatcher_lost, redelivered = dispatcher_rounds(args.rounds, args.seed, Path(tmp))
    print(
        f"RESULT serve_rounds={len(serve_lost)} serve_lost={sum(serve_lost)} "
        f"dispatcher_rounds={len(dispatcher_lost)} dispatcher_lost={sum(dispatcher_lost)} "
        f"redelivered={redelivered}"
    )


if __name__ == "__main__":
    main()
