"""Live dashboard benchmark: event → dashboard latency at a fixed event rate.

Starts ``callhook serve`` (its own process, SQLite file, durable commits) on loopback, opens
one server-sent-events client on ``/api/stream`` (what the dashboard opens), then POSTs
conversation-updates at ``--rate`` events/s for ``--seconds`` from keep-alive connections.
Each event adds one new message; the latency of an event is the time from just before its
request is written to the arrival of the SSE notice that carries its new message.

Bounded in count (rate x seconds events) and in time (``--max-seconds``); loopback only.

With ``--db postgresql://...`` the server uses PostgreSQL (the database must be empty or
callhook's); with ``--fanout`` as well, a second server process on the same database serves
the SSE client, so each notice crosses processes through ``LISTEN/NOTIFY``.

With ``--overview`` the dashboard's Overview is open too: the events carry the current time
(so they fall in its last-hour and today windows) and a second client does what the page does:
on the stream's notices it fetches ``/api/overview`` at most every 2 s (the page's
``REFRESH_MS``); the fetch times are printed. ``--rounds N`` alternates N runs without and N
with the overview (a fresh server each) and prints the medians side by side, with the
server's CPU time per event.

Usage: ``python bench/live.py [--rate 1000] [--seconds 10] [--connections 32] [--db URL
[--fanout]] [--overview [--rounds 3]]``.
The last line is ``RESULT p99_ms=...`` (with ``--overview``: the median p99 with the overview
open, and ``baseline_p99_ms=`` without it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MESSAGES_PER_CALL = 20
START = 1_772_702_480_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: How often the Overview page refreshes at most while events arrive (overview.js).
OVERVIEW_REFRESH_S = 2.0


def _events(count: int, start: int = START) -> list[tuple[str, bytes]]:
    """(key, request bytes): one conversation-update per event, each with one new message."""
    out = []
    for i in range(count):
        call, n = divmod(i, MESSAGES_PER_CALL)
        call_id = f"WC-bench-{call:06d}"
        messages = [
            {
                "messageId": f"user-{k + 1}",
                "role": "user",
                "text": f"message {k + 1} of the benchmark conversation, about forty characters",
                "timestamp": start + k * 1000,
                "metrics": {"stt": {"relativeLatencyMs": 200, "confidence": 0.93}},
                "skippedAssistantMessages": [],
            }
            for k in range(n + 1)
        ]
        body = json.dumps(
            {
                "message": {
                    "type": "conversation-update",
                    "timestamp": start + n * 1000,
                    "call": {"id": call_id, "status": "ongoing", "assistantId": "asst-bench"},
                    "messages": messages,
                }
            },
            separators=(",", ":"),
        ).encode()
        head = (
            f"POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        out.append((f"{call_id}/user-{n + 1}", head + body))
    return out


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _sse(port: int, arrived: dict[str, float], ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /api/stream HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n"
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    ready.set()
    buffer = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            buffer += chunk
            # Chunked transfer framing lines are not JSON; only "data: " lines are parsed.
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.startswith(b"data: "):
                    continue
                notice = json.loads(line[6:])
                for message in notice.get("messages", []):
                    arrived.setdefault(f"{notice['callId']}/{message['messageId']}", now)
    finally:
        writer.close()


async def _overview(port: int, arrived: dict[str, float], fetches: list[float]) -> None:
    """What the Overview page does: refresh on notices, at most every OVERVIEW_REFRESH_S."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen = 0
    try:
        while True:
            await asyncio.sleep(OVERVIEW_REFRESH_S)
            if len(arrived) == seen:
                continue
            seen = len(arrived)
            day_start = int(time.time() * 1000) - 3_600_000
            writer.write(
                f"GET /api/overview?dayStart={day_start} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                "accept: application/json\r\n\r\n".encode()
            )
            began = time.perf_counter()
            if await _read_response(reader) != 200:
                raise SystemExit("GET /api/overview failed")
            fetches.append((time.perf_counter() - began) * 1000)
    finally:
        writer.close()


async def _run(args: argparse.Namespace, port: int, stream_port: int) -> dict[str, float]:
    start = int(time.time() * 1000) - 60_000 if args.overview else START
    events = _events(int(args.rate * args.seconds), start)
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    arrived: dict[str, float] = {}
    ready = asyncio.Event()
    listener = asyncio.create_task(_sse(stream_port, arrived, ready), name="sse-client")
    await asyncio.wait_for(ready.wait(), 10)
    fetches: list[float] = []
    page = None
    if args.overview:
        page = asyncio.create_task(_overview(stream_port, arrived, fetches), name="overview")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(events)):
        queue.put_nowait(i)
    begin = time.perf_counter() + 0.2
    failures = 0

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                due = begin + i / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                key, request = events[i]
                sent[key] = time.perf_counter()
                writer.write(request)
                if await _read_response(reader) != 200:
                    failures += 1
                acked[key] = time.perf_counter()
        finally:
            writer.close()

    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(args.connections))), args.max_seconds
    )
    deadline = time.perf_counter() + 5
    while len(arrived) < len(sent) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # a bounded wait for stragglers, checked against the clock
    listener.cancel()
    if page is not None:
        page.cancel()
    elapsed = max(sent.values()) - min(sent.values())
    latencies = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
    acks = sorted((acked[k] - sent[k]) * 1000 for k in acked)
    if not latencies:
        raise SystemExit("no SSE notices arrived")

    def pct(q: float, values: list[float] | None = None) -> float:
        values = latencies if values is None else values
        return values[max(0, int(q * len(values) + 0.999999) - 1)]

    return {
        "events": len(sent),
        "rate": len(sent) / elapsed if elapsed else 0.0,
        "received": len(latencies),
        "failures": failures,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": latencies[-1],
        "ack_p50": pct(0.50, acks),
        "ack_p99": pct(0.99, acks),
        "overview_fetches": len(fetches),
        "overview_ms_max": max(fetches, default=0.0),
        "overview_ms_median": statistics.median(fetches) if fetches else 0.0,
    }


def _start(servers: list[subprocess.Popen[bytes]], db: str) -> int:
    """Start one ``callhook serve`` on a free loopback port; wait (bounded) until it listens."""
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from callhook.cli import main; main()",
        "serve",
        "--db",
        db,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-status",
    ]
    unset = ("CALLHOOK_WEBHOOK_SECRET", "CALLHOOK_SIGNING_SECRET", "CALLHOOK_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    servers.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("callhook serve did not start")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _once(args: argparse.Namespace, overview: bool) -> dict[str, float]:
    """One run on a fresh server (and database)."""
    args = argparse.Namespace(**{**vars(args), "overview": overview})
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite:///{Path(folder) / 'live.sqlite3'}"
        servers: list[subprocess.Popen[bytes]] = []
        try:
            port = _start(servers, db)
            stream_port = _start(servers, db) if args.fanout else port
            before = sum(_cpu_s(s.pid) for s in servers)
            result = asyncio.run(_run(args, port, stream_port))
            result["cpu_us_per_event"] = (
                (sum(_cpu_s(s.pid) for s in servers) - before) / result["events"] * 1e6
            )
        finally:
            for server in servers:
                server.send_signal(signal.SIGINT)
            for server in servers:
                server.wait(30)
    return result


def _print(result: dict[str, float], label: str = "") -> None:
    print(
        f"{label}events={result['events']:.0f} achieved_rate={result['rate']:.0f}/s "
        f"received={result['received']:.0f} http_failures={result['failures']:.0f}"
    )
    print(
        f"{label}latency_ms p50={result['p50']:.1f} p95={result['p95']:.1f} "
        f"p99={result['p99']:.1f} max={result['max']:.1f}"
    )
    print(
        f"{label}ack_ms (POST sent -> 2xx read, durable commit) p50={result['ack_p50']:.1f} "
        f"p99={result['ack_p99']:.1f}; server CPU {result['cpu_us_per_event']:.0f} us/event"
    )
    if result["overview_fetches"]:
        print(
            f"{label}overview: {result['overview_fetches']:.0f} fetches, "
            f"median {result['overview_ms_median']:.0f} ms, max {result['overview_ms_max']:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="hard time bound")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--fanout", action="store_true", help="SSE from a second process (PG)")
    parser.add_argument("--overview", action="store_true", help="the Overview page open too")
    parser.add_argument("--rounds", type=int, default=1, help="with --overview: rounds of each")
    args = parser.parse_args()
    if args.fanout and not (args.db or "").startswith("postgresql"):
        parser.error("--fanout needs --db postgresql://...")
    if args.db and args.rounds > 1:
        parser.error("--rounds needs a fresh database per run: leave out --db")
    if not args.overview:
        result = _once(args, overview=False)
        _print(result)
        print(f"RESULT p99_ms={result['p99']:.1f}")
        return
    baseline, opened = [], []
    for n in range(1, args.rounds + 1):
        print(f"round {n} of {args.rounds}")
        baseline.append(_once(args, overview=False))
        _print(baseline[-1], "  stream only   : ")
        opened.append(_once(args, overview=True))
        _print(opened[-1], "  overview open : ")

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    for label, runs in (("stream only", baseline), ("overview open", opened)):
        print(
            f"median of {len(runs)}, {label}: p99 {median(runs, 'p99'):.1f} ms, "
            f"ack p99 {median(runs, 'ack_p99'):.1f} ms, "
            f"server CPU {median(runs, 'cpu_us_per_event'):.0f} us/event"
        )
    print(
        f"RESULT p99_ms={median(opened, 'p99'):.1f} baseline_p99_ms={median(baseline, 'p99'):.1f}"
    )


if __name__ == "__main__":
    main()
