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

Usage: ``python bench/live.py [--rate 1000] [--seconds 10] [--connections 32] [--db URL
[--fanout]]``.
The last line is ``RESULT p99_ms=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
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


def _events(count: int) -> list[tuple[str, bytes]]:
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
                "timestamp": START + k * 1000,
                "metrics": {"stt": {"relativeLatencyMs": 200, "confidence": 0.93}},
                "skippedAssistantMessages": [],
            }
            for k in range(n + 1)
        ]
        body = json.dumps(
            {
                "message": {
                    "type": "conversation-update",
                    "timestamp": START + n * 1000,
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


async def _run(args: argparse.Namespace, port: int, stream_port: int) -> dict[str, float]:
    events = _events(int(args.rate * args.seconds))
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    arrived: dict[str, float] = {}
    ready = asyncio.Event()
    listener = asyncio.create_task(_sse(stream_port, arrived, ready), name="sse-client")
    await asyncio.wait_for(ready.wait(), 10)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="hard time bound")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--fanout", action="store_true", help="SSE from a second process (PG)")
    args = parser.parse_args()
    if args.fanout and not (args.db or "").startswith("postgresql"):
        parser.error("--fanout needs --db postgresql://...")
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite:///{Path(folder) / 'live.sqlite3'}"
        servers = []
        try:
            port = _start(servers, db)
            stream_port = _start(servers, db) if args.fanout else port
            result = asyncio.run(_run(args, port, stream_port))
        finally:
            for server in servers:
                server.send_signal(signal.SIGINT)
            for server in servers:
                server.wait(30)
    print(
        f"events={result['events']:.0f} achieved_rate={result['rate']:.0f}/s "
        f"received={result['received']:.0f} http_failures={result['failures']:.0f}"
    )
    print(
        f"latency_ms p50={result['p50']:.1f} p95={result['p95']:.1f} "
        f"p99={result['p99']:.1f} max={result['max']:.1f}"
    )
    print(
        f"ack_ms (POST sent -> 2xx read, durable commit) p50={result['ack_p50']:.1f} "
        f"p99={result['ack_p99']:.1f}"
    )
    print(f"RESULT p99_ms={result['p99']:.1f}")


if __name__ == "__main__":
    main()
