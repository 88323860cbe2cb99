"""Receiver ingest benchmark: callhook serve vs a no-op ASGI app vs a guide-style reference.

Runs three servers one after the other on loopback, each in its own process under the same
uvicorn settings (uvloop + httptools, one worker, no access log):

  (a) ``callhook serve`` with its durable store (SQLite file, WAL, fsync on every commit);
  (b) a no-op ASGI app that reads the body and answers 200;
  (c) a reference receiver written the way Interactly's live-events guide writes one:
      FastAPI, an in-memory dict of calls, every raw event appended, the set of seen
      messageIds rebuilt from the stored messages on every event.

The load generator is this process: raw HTTP/1.1 keep-alive connections on asyncio, every
request pre-built, calls spread over the connections with each call's events sent in order.
It is bounded in count (``--calls``) and in time (``--max-seconds`` per server).

Each call: status-updates (initiated, queued, ongoing), one conversation-update per message
(40 messages; the last one ~25 KB), a hang, an error, the finished status-update and the
end-of-call report with the full history.

Each run prints the CPU time the receiver's processes spent per event, and separately its
monitor child's (``callhook serve`` runs the monitor in a child process by default).

With ``CALLHOOK_TEST_POSTGRES_URL`` (or ``--postgres URL``) set, each round also runs callhook
on that PostgreSQL database (a fresh schema per run), with one worker and with two
(``serve --workers 2``).

Usage: ``python bench/ingest.py [--calls 200] [--connections 32]`` (needs ``pip install -e
'.[bench]'`` for FastAPI). The last line is ``RESULT ratio_vs_noop=... ratio_vs_reference=...
storage_ratio=... server_cpu_us=...`` (rates: ratios of the medians over the rounds;
``server_cpu_us``: the median of the rounds' receiver CPU per event), followed with PostgreSQL
by ``pg_vs_sqlite=...`` (the median over the rounds of one worker's rate over SQLite's, each
round's runs back to back) and ``pg_2_workers_vs_1=...``.

``--monitor`` measures monitoring overhead instead: ``callhook serve`` with ``[monitor] enabled
= false`` against ``callhook serve`` with the default ``[monitor]`` (every rule, the log sink,
VADER, history in the database, all in the monitor's child process), side by side in the same
run, each on a fresh database, the order alternating between rounds. After each monitored run
it waits until the monitor has recorded every call's hang impact (``GET /api/hangs/impact``)
and prints how long that took after the last ack. Each run also prints the CPU time the
server process spent per event (and, monitored, its monitor child's). The last line is
``RESULT monitor_on_vs_off=...``, the median of the rounds' on/off ratios (target: at least
0.90; 5 rounds unless ``--rounds`` says otherwise). ``CALLHOOK_BENCH_MONITOR_TOML`` is
appended to the monitored server's config file to measure variants (e.g.
``[monitor]\nisolation = "inline"`` for the monitor in the server's own event loop).

``--forward`` measures the relay instead: ``callhook serve`` without a forward target against
``callhook serve`` with one (``[[forward]]`` to the no-op app, which runs in its own process;
the dispatcher inside ``serve``, the default), side by side, each on a fresh database, the
order alternating between rounds (5 unless ``--rounds`` says otherwise). After each
forwarding run it waits until every event was delivered to the no-op app and prints how many
were already delivered at the last ack, how long the rest took and the dispatcher child's CPU
per event. With PostgreSQL (``--postgres`` or ``CALLHOOK_TEST_POSTGRES_URL``) the same rounds
run on it too. The last line is ``RESULT forward_vs_without=...``, the median of the rounds'
with/without ratios on SQLite (target: at least 0.80), then ``pg_forward_vs_without=...``.
``--queue-only`` measures queuing alone: the forwarding server runs with ``[relay] deliver =
false``, so its rows are written in the ingest transaction and nothing is sent (nor waited
for). ``CALLHOOK_BENCH_FORWARD_TOML`` is appended to the target's ``[[forward]]`` table to
measure variants (e.g. ``messages = "new"``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # the reference receiver only; FastAPI is in the [bench] extra
    from fastapi import FastAPI, Request
except ImportError:  # pragma: no cover
    FastAPI = Request = None  # type: ignore[assignment,misc]

HERE = Path(__file__).resolve()
START = 1_772_702_480_000
WORDS = [
    "appointment",
    "doctor",
    "tomorrow",
    "morning",
    "insurance",
    "clinic",
    "available",
    "please",
    "schedule",
    "orthopedic",
    "consultation",
    "confirm",
    "number",
    "address",
    "follow-up",
    "prescription",
    "refill",
    "pain",
    "knee",
    "shoulder",
    "therapy",
    "coverage",
    "copay",
    "thank",
    "you",
    "great",
    "sounds",
    "good",
    "Tuesday",
    "Thursday",
]


# -- realistic calls ---------------------------------------------------------------------------


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _message(rng: random.Random, index: int, at: int, elapsed: int) -> dict[str, Any]:
    if index == 0:
        return {
            "messageId": "welcome-1",
            "role": "assistant",
            "text": "Welcome to Apollo clinic! How can I help you today?",
            "timestamp": at,
            "metrics": {
                "timeline": {"totalElapsedTimeMs": elapsed},
                "llm": {},
                "tts": {
                    "audioDurationMs": 2442,
                    "generationTimeMs": 7,
                    "queueLatencyMs": 1,
                    "isCachePlaying": True,
                },
            },
        }
    turn = (index + 1) // 2
    if index % 2 == 1:
        return {
            "messageId": f"user-{turn}",
            "role": "user",
            "text": _text(rng, rng.randint(8, 30)),
            "timestamp": at,
            "metrics": {
                "timeline": {"totalElapsedTimeMs": elapsed, "offsetFromPreviousTurnMs": 1834},
                "audio": {
                    "totalAudioReceivedMs": elapsed - 120,
                    "audioDelayPerTurnMs": 12,
                    "delayedPacketsPerTurnCount": 1,
                    "delayedPacketsCumulativeCount": turn,
                    "lostPacketsCumulativeCount": 0,
                    "audioDelayCumulativeMs": 12 * turn,
                },
                "stt": {
                    "timestampMs": at - 40,
                    "startOffsetMs": elapsed - 2400,
                    "endOffsetMs": elapsed - 300,
                    "durationMs": 2100,
                    "vadMs": 310,
                    "relativeLatencyMs": 230,
                    "confidence": round(rng.random(), 7),
                },
                "interactlyEOU": {"turnDetectionTimeMs": 180, "queueLatencyMs": 2},
            },
            "skippedAssistantMessages": [],
        }
    return {
        "messageId": f"user-{turn}-{''.join(rng.choices('abcdefghijKLMNOP', k=10))}-{at - 900}",
        "role": "assistant",
        "text": _text(rng, rng.randint(15, 40)),
        "timestamp": at,
        "metrics": {
            "timeline": {"totalElapsedTimeMs": elapsed},
            "llm": {
                "timestampMs": at - 900,
                "responseLatencyMs": rng.randint(500, 2500),
                "queueLatencyMs": 3,
            },
            "tts": {
                "audioDurationMs": rng.randint(1500, 6000),
                "generationTimeMs": 180,
                "queueLatencyMs": 2,
                "isCachePlaying": False,
            },
            "interactlyPlayer": {"waitTimeMs": 15},
        },
    }


def make_call(number: int, n_messages: int = 40) -> tuple[list[bytes], int]:
    """A call's event bodies in send order, and the size of its final transcript JSON."""
    rng = random.Random(number)
    call_id = f"WC-bench-{number:06d}-{rng.getrandbits(64):016x}"
    clock = START + number * 600_000
    start = clock
    assistant = {
        "_id": "697769ef5e6d94d5ad83e01e",
        "name": "Mary Dental - main",
        "welcomeMessage": "Welcome to Apollo clinic! How can I help you today?",
        "assistantProvider": "openai",
        "assistantModel": "gpt-4o-mini",
        "assistantSystemPrompt": "You are a voice assistant for Apollo clinic. " * 8,
        "assistantTemperature": 0,
        "assistantMaxTokens": 256,
    }

    def call(status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": call_id,
            "teamId": "67c0231ae6880fe48ef929ee",
            "assistantId": assistant["_id"],
            "callType": "web",
            "direction": "inbound",
            "startAt": "2026-03-05T09:21:20.063Z",
            "userNumber": "web-Ramesh Naik",
            "assistantNumber": assistant["_id"],
            "status": status,
            "phoneCallStatus": "in-progress",
            "phoneCallStatusReason": "Call is in progress",
            "callEndTriggerBy": "",
            "assistantCallDuration": clock - start,
            "analysis": {"summary": "", "successEvaluation": ""},
            "recording": {"s3Bucket": "", "path": ""},
            "assistantOverrides": {
                "dynamicVariables": {"serial_number": ""},
                "variablesValidations": {"serial_number": "none"},
            },
            "metadata": {},
            **extra,
        }

    bodies: list[bytes] = []
    history: list[dict[str, Any]] = []
    common = {"phone": {"provider": {"name": ""}}, "customer": {"number": "web-Ramesh Naik"}}

    def emit(kind: str, **message: Any) -> None:
        nonlocal clock
        body = {"message": {"timestamp": clock, "type": kind, **message, **common}}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
        clock += rng.randint(800, 4000)

    for status in ("initiated", "queued", "ongoing"):
        emit("status-update", call=call(status), assistant=assistant, analysis={})
    for index in range(n_messages):
        history.append(_message(rng, index, clock, clock - start))
        emit(
            "conversation-update",
            call=call("ongoing"),
            assistant={},
            messages=list(history),
            analysis={},
        )
        if index == 9:
            emit(
                "hang",
                call=call("ongoing"),
                messages=list(history),
                analysis={},
                hang={
                    "pendingMessageId": history[-1]["messageId"],
                    "waitedMs": 5200,
                    "thresholdMs": 5000,
                    "stage": "llm",
                },
            )
        if index == 20:
            emit(
                "error",
                call=call("ongoing"),
                messages=list(history),
                analysis={},
                error={
                    "type": "llm_error",
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit exceeded",
                    "provider": "openai",
                    "retryable": True,
                    "details": {"retry_after": 2},
                },
            )
    ended = {"endAt": "2026-03-05T09:31:20.063Z", "callEndTriggerBy": "user"}
    emit("status-update", call=call("finished", **ended), assistant=assistant, analysis={})
    cost = {
        "callDuration": 600,
        "interactlyCost": 0.05,
        "phoneCost": 0,
        "ttsVendorCost": 0.02,
        "sttVendorCost": 0.01,
        "llmVendorCost": 0.03,
        "totalCost": 0.11,
        "analysis": {"total": 0.001},
        "ttsGenCharsTotal": 4100,
        "inputTokensTotal": 52000,
        "outputTokensTotal": 1900,
    }
    stats = {
        "callStats": {
            "turns": {"user": 20, "bot": 21, "played": 20, "interrupted": 1, "skipped": 0},
            "turnsStats": {
                "botResponseTime": [rng.randint(600, 2500) for _ in range(20)],
                "bargeInCount": 1,
                "bargeInTimeAvg": 800,
            },
            "llmStats": {"count": 20, "avg": 1200, "errors": 1},
        }
    }
    emit(
        "end-of-call-report",
        call=call("finished", cost=cost, metrics=stats, **ended),
        assistant=assistant,
        messages=list(history),
        analysis={
            "summary": "The caller booked an appointment.",
            "successEvaluation": "Good",
            "structuredData": {"booked": True},
        },
    )
    transcript = len(json.dumps(history, separators=(",", ":")).encode())
    return bodies, transcript


# -- servers -----------------------------------------------------------------------------------


async def noop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def reference_app() -> Any:
    """FastAPI, in-memory, as the guide shows (raw events appended, seen set rebuilt)."""
    app = FastAPI()
    calls: dict[str, dict[str, Any]] = {}

    @app.post("/webhook")
    async def webhook(request: Request) -> dict[str, Any]:
        payload = await request.json()
        message = payload["message"]
        call_id = (message.get("call") or {}).get("id", "unknown")
        call = calls.setdefault(call_id, {"events": [], "messages": [], "status": None})
        call["events"].append(payload)
        seen = {m["messageId"] for m in call["messages"]}
        for item in message.get("messages") or []:
            if item["messageId"] not in seen:
                call["messages"].append(item)
                seen.add(item["messageId"])
        status = (message.get("call") or {}).get("status")
        if status:
            call["status"] = status
        return {"received": True}

    return app


def run_server(kind: str, port: int) -> None:
    import uvicorn

    app = noop_app if kind == "noop" else reference_app()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Where the ``callhook serve`` runs of the main comparison write their log.
SERVE_LOG = Path(tempfile.gettempdir()) / "callhook-bench-serve.log"

_MONITOR_CONFIG = {"monitor-off": "[monitor]\nenabled = false\n", "monitor-on": ""}
#: ``--forward``: the no-op app that the forward target points at (set by ``forward_overhead``).
FORWARD_TARGET: dict[str, str] = {}


def start(kind: str, port: int, db_url: str) -> subprocess.Popen[bytes]:
    stderr = None
    if kind.startswith("callhook"):
        command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
        if kind == "callhook-pg2":
            command += ["--workers", "2"]
        # The monitor's log sink writes one line per alert (each hang, each error).
        stderr = SERVE_LOG.open("ab")
    elif kind in _MONITOR_CONFIG or kind.startswith("forward-"):
        folder = (
            Path(db_url.removeprefix("sqlite:///")).parent
            if db_url.startswith("sqlite")
            else Path(FORWARD_TARGET["folder"])
        )
        config = folder / f"{kind}.toml"
        extra = os.environ.get("CALLHOOK_BENCH_MONITOR_TOML", "") if kind == "monitor-on" else ""
        if kind == "forward-on":
            extra = f'[[forward]]\nurl = "{FORWARD_TARGET["url"]}"\n'
            extra += os.environ.get("CALLHOOK_BENCH_FORWARD_TOML", "")
            if FORWARD_TARGET.get("queue_only"):
                extra += "\n[relay]\ndeliver = false\n"
        config.write_text(_MONITOR_CONFIG.get(kind, "") + extra, encoding="utf-8")
        command = [sys.executable, "-m", "callhook", "serve", "--db", db_url, "--port", str(port)]
        command += ["--config", str(config)]
        # The log sink writes one line per alert (each hang, each error): keep it out of the
        # report, in a file beside the database.
        stderr = (folder / f"{kind}.log").open("ab")
    else:
        command = [sys.executable, str(HERE), "--serve", kind, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                where = f"; its log: {stderr.name}" if stderr is not None else ""
                raise SystemExit(f"{kind} server exited with {process.returncode}{where}") from None
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{kind} server did not start within 60 s")


# -- load generator ----------------------------------------------------------------------------


def request(body: bytes) -> bytes:
    head = (
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, calls: list[list[bytes]], deadline: float, stats: dict[str, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        for call in calls:
            for raw in call:
                if time.monotonic() > deadline:
                    return
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                stats["ok" if 200 <= status < 300 else "failed"] += 1
    finally:
        writer.close()


async def load(
    port: int, calls: list[list[bytes]], connections: int, seconds: float
) -> tuple[int, int, float]:
    stats = {"ok": 0, "failed": 0}
    groups = [calls[i::connections] for i in range(connections)]
    began = time.perf_counter()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_connection(port, g, deadline, stats) for g in groups if g))
    return stats["ok"], stats["failed"], time.perf_counter() - began


#: Per kind, the receiver's and the monitor child's CPU microseconds per event of each round.
CPU: dict[str, list[tuple[float, float | None]]] = {}


def measure(
    kind: str,
    calls: list[list[bytes]],
    warmup: list[list[bytes]],
    args: argparse.Namespace,
    db_url: str,
    *,
    drain: int = 0,
) -> float:
    """One run of ``kind``: the ack rate of ``calls`` after ``warmup``. ``drain``: events
    the run forwards (``forward-on``): also wait until each was delivered."""
    port = free_port()
    process = start(kind, port, db_url)
    lag = None
    try:
        warmed, _, _ = asyncio.run(load(port, warmup, args.connections, args.max_seconds))
        receiver, monitor = process_groups(process.pid)
        before = (cpu_total(receiver), 0.0)
        ok, failed, elapsed = asyncio.run(load(port, calls, args.connections, args.max_seconds))
        after_receiver = cpu_total(receiver)
        if monitor:  # the child runs at idle priority: wait until it has caught up
            lag = monitor_lag(port, len(calls) + len(warmup), args.max_seconds)
        # The monitor child's whole life (warm-up included) over every event it was fed.
        spent = cpu_total(monitor) if monitor else None
        after = (after_receiver, spent * ok / (ok + warmed) if spent is not None else None)
        if drain and kind == "forward-on":
            waited, sent = drain_lag(db_url, drain, args.max_seconds)
            dispatcher = cpu_total(relay_children(process.pid)) or 0.0
            print(
                f"{'':>14}forwarded {sent} of {drain} events by the last ack; all delivered "
                f"{waited:.2f} s after it; dispatcher process "
                f"{dispatcher / drain * 1e6:,.0f} us/event over its life",
                flush=True,
            )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    rate = ok / elapsed
    print(
        f"{kind:>12}: {ok} events in {elapsed:.2f} s = {rate:,.0f} events/s"
        + (f"  ({failed} non-2xx)" if failed else "")
        + (f"; monitor caught up {lag:.2f} s after the last ack" if lag is not None else ""),
        flush=True,
    )
    if after[0] is not None and before[0] is not None and ok:
        server = (after[0] - before[0]) / ok * 1e6
        child = None
        if monitor and after[1] is not None and before[1] is not None:
            child = (after[1] - before[1]) / ok * 1e6
        CPU.setdefault(kind, []).append((server, child))
        line = f"{'':>14}receiver CPU {server:,.0f} us/event"
        if len(receiver) > 1:
            line += f" ({len(receiver)} processes)"
        if child is not None:
            line += f"; monitor process {child:,.0f} us/event"
        print(line, flush=True)
    if failed:
        raise SystemExit(f"{kind}: {failed} requests were not answered 2xx")
    return rate


def process_groups(pid: int) -> tuple[list[int], list[int]]:
    """The receiver's processes (``pid`` and its workers) and the monitor's child process(es)
    (``python -m callhook.monitor._child`` and what it starts), from Linux ``/proc``."""
    receiver: list[int] = [pid]
    monitor: list[int] = []
    pending = children(pid)
    while pending:
        child = pending.pop()
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"callhook.relay._child" in command:
            continue  # the relay's dispatcher: measured on its own (``relay_children``)
        (monitor if b"callhook.monitor._child" in command else receiver).append(child)
        if b"callhook.monitor._child" in command:
            monitor += _descendants(child)
        else:
            pending += children(child)
    return receiver, monitor


def relay_children(pid: int) -> list[int]:
    """The relay dispatcher's child process(es) of the receiver ``pid``."""
    found = []
    for child in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):
            if b"callhook.relay._child" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = children(pid)
    while pending:
        child = pending.pop()
        found.append(child)
        pending += children(child)
    return found


def cpu_total(pids: list[int]) -> float | None:
    """Total CPU seconds of ``pids`` (``None`` where ``/proc`` is not available)."""
    total = 0.0
    for pid in pids:
        seconds, known = cpu_seconds(pid)
        if not known:
            return None
        total += seconds
    return total


def cpu_seconds(pid: int) -> tuple[float, bool]:
    """User + system CPU seconds of a process (Linux ``/proc``); ``(0, False)`` elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0, False
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, True


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema on ``base`` for one run, dropped afterwards."""
    import psycopg

    schema = f"callhook_bench_{os.getpid()}_{int(time.time() * 1000)}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def monitor_lag(port: int, hangs: int, seconds: float) -> float:
    """Seconds until ``GET /api/hangs/impact`` lists ``hangs`` impacts (one per call)."""
    began = time.perf_counter()
    url = f"http://127.0.0.1:{port}/api/hangs/impact?limit=500"
    while time.perf_counter() - began < seconds:
        with urllib.request.urlopen(url) as response:
            if len(json.load(response)["impacts"]) >= hangs:
                return time.perf_counter() - began
        time.sleep(0.05)
    raise SystemExit(f"the monitor did not record {hangs} hang impacts within {seconds} s")


def monitor_overhead(
    calls: list[list[bytes]], warmup: list[list[bytes]], args: argparse.Namespace
) -> None:
    rates: dict[str, list[float]] = {"monitor-off": [], "monitor-on": []}
    with tempfile.TemporaryDirectory(prefix="callhook-bench-") as folder:
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds}", flush=True)
            kinds = list(rates) if round_ % 2 else list(reversed(rates))
            for kind in kinds:
                db = Path(folder) / f"bench-{round_}-{kind}.sqlite3"
                rates[kind].append(measure(kind, calls, warmup, args, f"sqlite:///{db}"))
    off, on = (statistics.median(rates[k]) for k in rates)
    paired = [b / a for a, b in zip(rates["monitor-off"], rates["monitor-on"], strict=True)]
    print(f"median events/s: monitoring off {off:,.0f}, on {on:,.0f} (ratio {on / off:.2f})")
    print("on/off per round: " + ", ".join(f"{r:.2f}" for r in paired))
    # The machine's speed drifts between rounds; each round's two runs are back to back, so
    # the median of the per-round ratios is the steadier figure.
    print(f"RESULT monitor_on_vs_off={statistics.median(paired):.2f}")


def forward_overhead(
    calls: list[list[bytes]], warmup: list[list[bytes]], args: argparse.Namespace
) -> None:
    """``callhook serve`` without and with one forward target (a no-op app in its own
    process), paired rounds in alternating order; after each forwarding run, how long the
    outbox took to be delivered in full after the last ack. With ``--postgres`` (or
    ``CALLHOOK_TEST_POSTGRES_URL``) the same on PostgreSQL afterwards, a fresh schema per run."""
    target_port = free_port()
    target = start("noop", target_port, "")
    FORWARD_TARGET["url"] = f"http://127.0.0.1:{target_port}/hooks"
    FORWARD_TARGET["queue_only"] = "yes" if args.queue_only else ""
    events = sum(len(c) for c in calls) + sum(len(c) for c in warmup)
    postgres = args.postgres or os.environ.get("CALLHOOK_TEST_POSTGRES_URL")
    results: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="callhook-bench-") as folder:
            FORWARD_TARGET["folder"] = folder
            for database in ["sqlite", "postgresql"] if postgres else ["sqlite"]:
                rates: dict[str, list[float]] = {"forward-off": [], "forward-on": []}
                CPU.clear()
                print(f"-- {database}", flush=True)
                for round_ in range(1, args.rounds + 1):
                    print(f"round {round_} of {args.rounds}", flush=True)
                    kinds = list(rates) if round_ % 2 else list(reversed(rates))
                    for kind in kinds:
                        with contextlib.ExitStack() as stack:
                            if database == "sqlite":
                                db = Path(folder) / f"bench-{round_}-{kind}.sqlite3"
                                url = f"sqlite:///{db}"
                            else:
                                assert postgres is not None
                                url = stack.enter_context(postgres_schema(postgres))
                            drain = 0 if args.queue_only else events
                            rate = measure(kind, calls, warmup, args, url, drain=drain)
                            rates[kind].append(rate)
                results[database] = _forward_summary(database, rates)
    finally:
        target.send_signal(signal.SIGINT)
        target.wait(timeout=30)
    line = f"RESULT forward_vs_without={results['sqlite']:.2f}"
    if "postgresql" in results:
        line += f" pg_forward_vs_without={results['postgresql']:.2f}"
    print(line)


def _forward_summary(database: str, rates: dict[str, list[float]]) -> float:
    off, on = (statistics.median(rates[k]) for k in rates)
    paired = [b / a for a, b in zip(rates["forward-off"], rates["forward-on"], strict=True)]
    print(
        f"{database}: median events/s: no forward target {off:,.0f}, one {on:,.0f} "
        f"(ratio {on / off:.2f}); with/without per round: " + ", ".join(f"{r:.2f}" for r in paired)
    )
    for kind, rounds in CPU.items():
        servers = [server for server, _ in rounds]
        median = statistics.median(servers)
        print(f"{database}: median receiver CPU per event, {kind}: {median:,.0f} us")
    return statistics.median(paired)


def drain_lag(db_url: str, events: int, seconds: float) -> tuple[float, int]:
    """Seconds until the outbox holds ``events`` rows, none pending; and how many were
    delivered by the time the wait began."""
    sql = (
        "SELECT count(*), count(*) FILTER (WHERE status = 'pending'), "
        "count(*) FILTER (WHERE status = 'delivered') FROM callhook_delivery_outbox"
    )
    began = time.perf_counter()
    delivered_at_start = -1
    while time.perf_counter() - began < seconds:
        if db_url.startswith("sqlite"):
            with sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30) as db:
                total, pending, delivered = db.execute(sql).fetchone()
        else:
            import psycopg

            with psycopg.connect(db_url) as pg:
                row = pg.execute(sql).fetchone()
                assert row is not None
                total, pending, delivered = row
        if delivered_at_start < 0:
            delivered_at_start = delivered
        if total >= events and pending == 0:
            if delivered != events:
                raise SystemExit(f"{events - delivered} forwarded events were not delivered")
            return time.perf_counter() - began, delivered_at_start
        time.sleep(0.05)
    raise SystemExit(f"the outbox was not delivered in full within {seconds} s")


def stored_bytes(path: Path) -> tuple[int, int]:
    """Database size after a WAL checkpoint, and the bytes of the rows themselves."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = 0
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            if table == "alembic_version":
                continue
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            expr = " + ".join(f'coalesce(length(CAST("{c}" AS BLOB)), 0)' for c in columns)
            rows += db.execute(f'SELECT coalesce(sum({expr}), 0) FROM "{table}"').fetchone()[0]
    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    return size, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument(
        "--rounds", type=int, help="median of this many runs each (default 3; --monitor: 5)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure callhook on this PostgreSQL database (a fresh schema per round)",
    )
    parser.add_argument("--serve", choices=["noop", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--monitor", action="store_true", help="monitoring on vs off instead (see above)"
    )
    parser.add_argument(
        "--forward", action="store_true", help="one forward target vs none instead (see above)"
    )
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="with --forward: serve only queues ([relay] deliver = false), nothing is sent",
    )
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 5 if args.monitor or args.forward else 3
    if args.serve:
        run_server(args.serve, args.port)
        return
    if FastAPI is None and not (args.monitor or args.forward):
        raise SystemExit("the reference receiver needs FastAPI: pip install -e '.[bench]'")
    made = [make_call(n, args.messages) for n in range(args.calls + 8)]
    calls = [[request(b) for b in bodies] for bodies, _ in made[8:]]
    warmup = [[request(b) for b in bodies] for bodies, _ in made[:8]]
    transcripts = [size for _, size in made[8:]]
    events = sum(len(c) for c in calls)
    sizes = sorted(len(b) for bodies, _ in made[8:] for b in bodies)
    largest_update = max(len(bodies[-3]) for bodies, _ in made[8:])
    print(
        f"{args.calls} calls x {len(calls[0])} events = {events} events; "
        f"body median {sizes[len(sizes) // 2]:,} B, max {sizes[-1]:,} B; "
        f"{args.messages}-message conversation-update {largest_update:,} B; "
        f"{args.connections} connections; {os.cpu_count()} CPUs",
        flush=True,
    )
    if args.monitor:
        monitor_overhead(calls, warmup, args)
        return
    if args.forward:
        forward_overhead(calls, warmup, args)
        return
    rates: dict[str, list[float]] = {"callhook": [], "noop": [], "reference": []}
    postgres = args.postgres or os.environ.get("CALLHOOK_TEST_POSTGRES_URL")
    pg: dict[str, list[float]] = {"callhook-pg": [], "callhook-pg2": []}
    print(f"callhook serve logs to {SERVE_LOG}", flush=True)
    with tempfile.TemporaryDirectory(prefix="callhook-bench-") as folder:
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds}", flush=True)
            db_path = Path(folder) / f"bench-{round_}.sqlite3"
            for kind in rates:
                rates[kind].append(measure(kind, calls, warmup, args, f"sqlite:///{db_path}"))
            if postgres:
                for kind in pg:  # one worker, then two
                    with postgres_schema(postgres) as url:
                        pg[kind].append(measure(kind, calls, warmup, args, url))
        size, rows = stored_bytes(db_path)
    callhook, noop, reference = (statistics.median(rates[k]) for k in rates)
    print(
        f"median events/s: callhook {callhook:,.0f}, noop {noop:,.0f}, reference {reference:,.0f}"
    )
    for kind, rounds in CPU.items():
        servers = [server for server, _ in rounds]
        children = [child for _, child in rounds if child is not None]
        line = f"median CPU per event, {kind}: receiver {statistics.median(servers):,.0f} us"
        if children:
            line += f", monitor process {statistics.median(children):,.0f} us"
        print(line)
    n_calls = args.calls + 8
    per_call = size / n_calls
    transcript = sum(transcripts) / len(transcripts)
    print(
        f"ratio callhook/noop = {callhook / noop:.2f}, callhook/reference = "
        f"{callhook / reference:.2f}"
    )
    print(
        f"stored: {per_call:,.0f} B per call (database file), {rows / n_calls:,.0f} B of row "
        f"data; final transcript JSON {transcript:,.0f} B"
    )
    server_cpu = statistics.median(server for server, _ in CPU.get("callhook", [(0.0, None)]))
    result = (
        f"RESULT ratio_vs_noop={callhook / noop:.2f} ratio_vs_reference="
        f"{callhook / reference:.2f} storage_ratio={per_call / transcript:.2f} "
        f"server_cpu_us={server_cpu:.0f}"
    )
    if postgres:
        one, two = (statistics.median(pg[k]) for k in pg)
        # Each round's runs are back to back: the per-round ratio is the steadier figure.
        paired = [a / b for a, b in zip(pg["callhook-pg"], rates["callhook"], strict=True)]
        print(
            f"callhook on PostgreSQL: median {one:,.0f} events/s with 1 worker, {two:,.0f} with "
            f"2 workers ({two / one:.2f}x); 1 worker over SQLite per round: "
            + ", ".join(f"{r:.2f}" for r in paired)
        )
        result += f" pg_vs_sqlite={statistics.median(paired):.2f} pg_2_workers_vs_1={two / one:.2f}"
    print(result)


if __name__ == "__main__":
    main()
