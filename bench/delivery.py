"""Delivery benchmark: the durable outbox with its aiohttp sender vs a naive sender.

Run: ``.venv/bin/python bench/delivery.py [--events N] [--calls C] [--rounds R]``. Each
round runs these phases, in this order, in fresh databases; the receiver is a no-op HTTP/1.1
server in its own process (``noop_receiver.py``), so the CPU counted (user + system time of
this process, the database thread included) is the sender's:

1. outbox only: N events of C calls accepted at once through ``Dispatcher.emit`` and answered
   in-process by a transport that returns 200 at once: the outbox's own cost (SQLite);
2. burst: the same through ``AiohttpTransport`` over loopback, on SQLite, and on PostgreSQL
   when ``CALLHOOK_TEST_POSTGRES_URL`` is set (a private schema); deliveries/s = N / (first
   accept -> last result committed);
3. paced (SQLite): events accepted at half the burst rate; latency = accept -> 2xx response;
4. aiohttp only: the same bodies posted by ``AiohttpTransport`` alone, no outbox (the floor);
5. naive baseline: a fresh ``httpx.AsyncClient`` (new connection) per event, no outbox, the same
   concurrency (the baseline kept from the first version of this benchmark).

Every phase prints its CPU per delivery and its deliveries per CPU-second. The last line holds
the medians over the rounds: ``RESULT deliveries_per_s=... deliveries_per_cpu_s=...
p99_ms=... ratio_vs_naive=...`` (burst on SQLite; paced p99; burst over naive, deliveries/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from callhook import events
from callhook.delivery import Dispatcher, list_deliveries
from callhook.delivery._transport import AiohttpTransport, Reply, Transport
from callhook.events import encode
from callhook.store import make_engine

HERE = Path(__file__).parent
T = TypeVar("T")
POSTGRES_ENV = "CALLHOOK_TEST_POSTGRES_URL"


class Timing:
    """Wraps a transport and notes when each webhook-id got its 2xx."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.acked: dict[str, float] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> Reply:
        reply = await self.inner.post(url, body, headers, seconds)
        if 200 <= reply.status < 300:
            self.acked[headers["webhook-id"]] = time.perf_counter()
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()


class Answer200:
    """No network: every request is answered 200 at once."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> Reply:
        return Reply(200)

    async def aclose(self) -> None:
        pass


def make_envelopes(url: str, calls: int, per_call: int) -> list[events.Envelope[events.Event]]:
    server = {
        "enabled": True,
        "url": url,
        "secret": "bench-secret",
        "messages": ["conversation-update"],
    }
    out = []
    for n in range(per_call):
        for call in range(calls):
            message = {
                "timestamp": 1772702479627 + n,
                "type": "conversation-update",
                "call": {"id": f"WC-{call}", "status": "ongoing"},
                "assistant": {"_id": "asst-1", "assistantServer": server},
                "messages": [
                    {"messageId": f"user-{i + 1}", "role": "user", "text": "hello there"}
                    for i in range(4)
                ],
            }
            out.append(events.decode(json.dumps({"message": message})))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a private schema of the PostgreSQL server."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    import psycopg

    base = os.environ[POSTGRES_ENV]
    schema = f"callhook_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def durable(
    db_url: str,
    envelopes: list[events.Envelope[events.Event]],
    rate: float | None,
    in_flight: int,
    network: bool = True,
) -> dict[str, float]:
    """Deliver through the outbox; ``rate``: accepts per second (None: all at once);
    ``network``: over loopback with ``AiohttpTransport``, else answered in-process."""
    db = make_engine(db_url)
    inner: Transport = (
        AiohttpTransport(limit=in_flight, per_host=in_flight) if network else Answer200()
    )
    timing = Timing(inner)
    enqueued: dict[str, float] = {}
    async with Dispatcher(
        db, transport=timing, poll_interval=None, max_in_flight=in_flight, per_endpoint=in_flight
    ) as dispatcher:
        cpu0, t0 = cpu(), time.perf_counter()
        if rate is None:
            for env in envelopes:
                dispatcher.emit(env)
        else:
            step = 1.0 / rate
            for i, env in enumerate(envelopes):
                due = t0 + i * step
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                webhook_id = dispatcher._accept(env, None, None)  # its id, for the latency
                assert webhook_id is not None
                enqueued[webhook_id] = time.perf_counter()
        await dispatcher.wait_idle()
        elapsed = time.perf_counter() - t0
        used = cpu() - cpu0
    records = list_deliveries(db, limit=len(envelopes) + 1)
    db.dispose()
    assert len(records) == len(envelopes), "every event is in the outbox"
    assert {r.status for r in records} == {"delivered"}, "every event was delivered"
    result = {
        "per_s": len(envelopes) / elapsed,
        "cpu_us": used / len(envelopes) * 1e6,
        "per_cpu_s": len(envelopes) / used,
    }
    if enqueued:
        latencies = [(timing.acked[w] - t) * 1000 for w, t in enqueued.items()]
        result["p50_ms"] = pct(latencies, 0.50)
        result["p99_ms"] = pct(latencies, 0.99)
    return result


async def naive(url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    """A fresh client (and connection) per event, no outbox, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(body: bytes) -> None:
        nonlocal ok
        async with gate, httpx.AsyncClient(timeout=60) as client:
            response = await client.post(
                url, content=body, headers={"content-type": "application/json"}
            )
            ok += response.is_success

    cpu0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    elapsed = time.perf_counter() - t0
    used = cpu() - cpu0
    assert ok == len(bodies)
    return {
        "per_s": len(bodies) / elapsed,
        "cpu_us": used / len(bodies) * 1e6,
        "per_cpu_s": len(bodies) / used,
    }


async def client_only(url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    """The floor: ``AiohttpTransport`` alone (pooled), no outbox, ``concurrency`` at a time."""
    transport = AiohttpTransport(limit=concurrency, per_host=concurrency)
    gate = asyncio.Semaphore(concurrency)
    headers = {"content-type": "application/json"}

    async def one(body: bytes) -> None:
        async with gate:
            reply = await transport.post(url, body, headers, 10.0)
            assert reply.status == 200

    cpu0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    elapsed = time.perf_counter() - t0
    used = cpu() - cpu0
    await transport.aclose()
    return {
        "per_s": len(bodies) / elapsed,
        "cpu_us": used / len(bodies) * 1e6,
        "per_cpu_s": len(bodies) / used,
    }


def show(name: str, result: dict[str, float], extra: str = "") -> None:
    print(
        f"  {name:<16}: {result['per_s']:7.0f} deliveries/s, {result['cpu_us']:6.0f} us CPU "
        f"per delivery, {result['per_cpu_s']:6.0f} per CPU-second{extra}",
        flush=True,
    )


def run(coro: Coroutine[object, object, T], loop: str) -> T:
    """``asyncio.run`` on uvloop (what ``callhook serve`` and uvicorn apps run on), or on
    the standard loop (``--loop asyncio``)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def one_round(url: str, args: argparse.Namespace) -> dict[str, float]:
    per_call = max(1, args.events // args.calls)
    envelopes = make_envelopes(url, args.calls, per_call)
    with database("sqlite") as db:
        offline = run(durable(db, envelopes, None, args.concurrency, network=False), args.loop)
    show("outbox only", offline, " (no network)")
    with database("sqlite") as db:
        burst = run(durable(db, envelopes, None, args.concurrency), args.loop)
    show("burst sqlite", burst)
    if os.environ.get(POSTGRES_ENV):
        with database("postgresql") as db:
            burst_pg = run(durable(db, envelopes, None, args.concurrency), args.loop)
        show("burst postgresql", burst_pg)
    rate = round(burst["per_s"] * 0.5)
    paced_n = min(len(envelopes), max(2_000, rate * 3))
    with database("sqlite") as db:
        paced = run(durable(db, envelopes[:paced_n], rate, args.concurrency), args.loop)
    show(
        "paced sqlite",
        paced,
        f" at {rate}/s offered; accept->2xx p50 {paced['p50_ms']:.1f} ms, "
        f"p99 {paced['p99_ms']:.1f} ms",
    )
    floor = run(client_only(url, [encode(e) for e in envelopes], args.concurrency), args.loop)
    show("aiohttp only", floor, " (the client alone: no outbox, no ordering)")
    bodies = [encode(e) for e in envelopes[: args.naive_events]]
    base = run(naive(url, bodies, args.concurrency), args.loop)
    show("naive baseline", base, " (fresh httpx client per event, no outbox)")
    return {
        "deliveries_per_s": burst["per_s"],
        "deliveries_per_cpu_s": burst["per_cpu_s"],
        "p99_ms": paced["p99_ms"],
        "ratio_vs_naive": burst["per_s"] / base["per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=250)
    parser.add_argument("--naive-events", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()

    receiver = subprocess.Popen(
        [sys.executable, str(HERE / "noop_receiver.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        port = receiver.stdout.readline().split()[1]
        url = f"http://127.0.0.1:{port}/hook"
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python "
            f"{sys.version.split()[0]}; {args.events} events over {args.calls} calls, "
            f"{args.concurrency} in flight, {args.rounds} rounds, {args.loop} event loop",
            flush=True,
        )
        rounds = []
        for n in range(args.rounds):
            print(f"round {n + 1}", flush=True)
            rounds.append(one_round(url, args))
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(
            f"RESULT deliveries_per_s={median['deliveries_per_s']:.0f} "
            f"deliveries_per_cpu_s={median['deliveries_per_cpu_s']:.0f} "
            f"p99_ms={median['p99_ms']:.1f} ratio_vs_naive={median['ratio_vs_naive']:.2f}"
        )
    finally:
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
