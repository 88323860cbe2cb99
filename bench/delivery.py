"""Delivery benchmark: durable outbox (SQLite) vs a naive sender, to a local no-op receiver.

Run: ``.venv/bin/python bench/delivery.py [--events N] [--calls C]``. Phases, same run:

1. outbox only: N events of C calls accepted at once through ``Dispatcher.emit`` and
   answered in-process by ``httpx.MockTransport``: the durable outbox's own cost;
2. burst: the same over loopback with httpx's pooled transport; deliveries/s = N / (first
   accept -> last result committed), the RESULT line's ``deliveries_per_s``; CPU seconds of
   this process give deliveries per core-second;
3. paced: events accepted at half that rate; p50/p99 = accept -> 2xx response (the RESULT
   line's ``p99_ms``);
4. naive baseline: a fresh ``httpx.AsyncClient`` (new connection) per event, no outbox,
   same concurrency.

The receiver runs in its own process. Last line:
``RESULT deliveries_per_s=... p99_ms=... ratio_vs_naive=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from callhook import events
from callhook.delivery import Dispatcher, list_deliveries
from callhook.events import encode
from callhook.store import make_engine

HERE = Path(__file__).parent


class Timing(httpx.AsyncBaseTransport):
    """Wraps the real transport and notes when each webhook-id got its 2xx."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.acked: dict[str, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if 200 <= response.status_code < 300:
            self.acked[request.headers["webhook-id"]] = time.perf_counter()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


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


async def durable(
    url: str,
    envelopes: list[events.Envelope[events.Event]],
    rate: float | None,
    in_flight: int,
    network: str = "httpx",
) -> dict[str, float]:
    """Deliver through the outbox; ``rate``: accepts per second (None: all at once);
    ``network``: ``httpx`` (httpx's pooled transport) or ``none`` (an in-process
    ``httpx.MockTransport`` answers 200: the outbox's cost only)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{tmp}/bench.sqlite3")
        inner: httpx.AsyncBaseTransport
        if network == "httpx":
            inner = httpx.AsyncHTTPTransport()
        else:
            inner = httpx.MockTransport(lambda request: httpx.Response(200))
        timing = Timing(inner)
        enqueued: dict[str, float] = {}
        async with Dispatcher(
            db,
            transport=timing,
            poll_interval=None,
            max_in_flight=in_flight,
            per_endpoint=in_flight,
        ) as dispatcher:
            cpu0, t0 = cpu(), time.perf_counter()
            if rate is None:
                for env in envelopes:
                    dispatcher.emit(env)
                # webhook-ids are assigned inside; map acceptance time by order instead
                start = time.perf_counter()
            else:
                start = time.perf_counter()
                step = 1.0 / rate
                for i, env in enumerate(envelopes):
                    due = start + i * step
                    now = time.perf_counter()
                    if due > now:
                        await asyncio.sleep(due - now)
                    webhook_id = dispatcher._accept(env, None, None)  # id for latency only
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
        "events": len(envelopes),
        "seconds": elapsed,
        "per_s": len(envelopes) / elapsed,
        "cpu_s": used,
        "per_cpu_s": len(envelopes) / used,
    }
    if enqueued:
        latencies = [(timing.acked[w] - t) * 1000 for w, t in enqueued.items()]
        result["p50_ms"] = pct(latencies, 0.50)
        result["p99_ms"] = pct(latencies, 0.99)
    else:
        latencies = [(t - start) * 1000 for t in timing.acked.values()]
        result["p99_ms"] = pct(latencies, 0.99)
    return result


async def naive(url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    """A fresh client (and connection) per event, no outbox, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(body: bytes) -> None:
        nonlocal ok
        async with gate, httpx.AsyncClient() as client:
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
        "events": len(bodies),
        "seconds": elapsed,
        "per_s": len(bodies) / elapsed,
        "cpu_s": used,
        "per_cpu_s": len(bodies) / used,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=250)
    parser.add_argument("--naive-events", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    args = parser.parse_args()

    receiver = subprocess.Popen(
        [sys.executable, str(HERE / "noop_receiver.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        port = receiver.stdout.readline().split()[1]
        url = f"http://127.0.0.1:{port}/hook"
        per_call = max(1, args.events // args.calls)
        envelopes = make_envelopes(url, args.calls, per_call)
        print(
            f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; receiver pid "
            f"{receiver.pid}; {len(envelopes)} events over {args.calls} calls"
        )

        offline = asyncio.run(durable(url, envelopes, None, args.concurrency, network="none"))
        print(
            f"outbox only   : {offline['per_s']:8.0f} deliveries/s wall, "
            f"{offline['per_cpu_s']:8.0f} per CPU-second (httpx.MockTransport, no network)"
        )
        burst = asyncio.run(durable(url, envelopes, None, args.concurrency, network="httpx"))
        print(
            f"burst         : {burst['per_s']:8.0f} deliveries/s wall, "
            f"{burst['per_cpu_s']:8.0f} per CPU-second ({burst['cpu_s']:.2f} s CPU)"
        )
        rate = round(burst["per_s"] * 0.5)
        paced_n = min(len(envelopes), max(2_000, rate * 3))
        paced = asyncio.run(
            durable(url, envelopes[:paced_n], rate, args.concurrency, network="httpx")
        )
        print(
            f"paced         : {paced['per_s']:8.0f} deliveries/s at {rate}/s offered, "
            f"enqueue->2xx p50 {paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms"
        )

        bodies = [encode(e) for e in envelopes[: args.naive_events]]
        base = asyncio.run(naive(url, bodies, args.concurrency))
        print(
            f"naive baseline: {base['per_s']:8.0f} deliveries/s wall, "
            f"{base['per_cpu_s']:8.0f} per CPU-second (fresh client per event, no outbox)"
        )
        ratio = burst["per_s"] / base["per_s"]
        print(
            f"RESULT deliveries_per_s={burst['per_s']:.0f} p99_ms={paced['p99_ms']:.1f} "
            f"ratio_vs_naive={ratio:.2f}"
        )
    finally:
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
