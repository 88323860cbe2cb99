"""Soak: simulated calls streamed for N minutes at a steady rate through delivery into
``callhook serve``; nothing lost, memory flat, the query API fast.

``callhook serve`` runs as its own process (SQLite file; the monitor in its child process, as
by default). This process plays the calls (``callhook.sim``: real call sessions) into the
durable ``Dispatcher``, which delivers them over HTTP, at ``--rate`` new calls per second for
``--minutes``. Meanwhile a reader queries the API (calls list, a call, its messages) about five
times a second and records each latency, and every 10 s the RSS of serve, its monitor child and
this process (the delivery side) is sampled.

At the end it waits for the last deliveries and compares what was stored with what was
emitted: every call with its final status, every message (by id). ``lost`` counts emitted
messages and calls not stored, plus calls whose stored status differs. The RSS slope is a
least-squares fit over the samples after the first fifth of the run (warm-up), in MB per hour.

Usage: ``python bench/soak.py [--minutes 10] [--rate 1.0] [--speed 20]``. The last line is
``RESULT minutes=... events=... lost=... rss_growth_mb_per_hour=... api_p99_ms=...`` (serve's
RSS slope; the other processes' are printed above it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import children, rss_mb, serve

from callhook import events
from callhook.engine import ListSink
from callhook.sim import demo_profile, simulate


def _get(base: str, path: str, **params: Any) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}{path}?{query}", timeout=60) as answer:
        return json.loads(answer.read())


def _slope_per_hour(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return 0.0
    xs = [t for t, _ in samples]
    ys = [v for _, v in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


class Reader(threading.Thread):
    """Queries the API ~5 times a second; keeps each latency (ms)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                started = time.perf_counter()
                calls = _get(self.base, "/api/calls", limit=20)["calls"]
                self.latencies.append((time.perf_counter() - started) * 1000)
                if calls:
                    call_id = urllib.parse.quote(calls[0]["callId"], safe="")
                    for path in (f"/api/calls/{call_id}", f"/api/calls/{call_id}/messages"):
                        started = time.perf_counter()
                        _get(self.base, path)
                        self.latencies.append((time.perf_counter() - started) * 1000)
            except Exception:  # counted and reported: the soak goes on
                self.errors += 1


class Sampler(threading.Thread):
    """RSS of serve, its monitor child and this process every ``every`` seconds."""

    def __init__(self, serve_pid: int, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.serve_pid = serve_pid
        self.every = every
        self.samples: dict[str, list[tuple[float, float]]] = {
            "serve": [],
            "monitor": [],
            "delivery": [],
        }
        self.stop = threading.Event()
        self.began = time.monotonic()

    def sample(self) -> None:
        now = time.monotonic() - self.began
        self.samples["serve"].append((now, rss_mb(self.serve_pid)))
        kids = children(self.serve_pid)
        if kids:
            self.samples["monitor"].append((now, sum(rss_mb(k) for k in kids)))
        self.samples["delivery"].append((now, rss_mb(os.getpid())))

    def run(self) -> None:
        self.sample()
        while not self.stop.wait(self.every):
            self.sample()


def _expected(sink: ListSink) -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    for envelope in sink.envelopes:
        event = envelope.message
        if event.call_id is None:
            continue
        call = calls.setdefault(event.call_id, {"messages": set(), "status": None})
        if isinstance(event, events.StatusUpdate) and isinstance(event.call, events.Call):
            call["status"] = event.call.status
        for message in getattr(event, "messages", None) or []:
            call["messages"].add(message.message_id)
    return calls


def _lost(base: str, expected: dict[str, dict[str, Any]]) -> int:
    lost = 0
    for call_id, want in expected.items():
        quoted = urllib.parse.quote(call_id, safe="")
        try:
            detail = _get(base, f"/api/calls/{quoted}")
        except urllib.error.HTTPError:
            lost += 1 + len(want["messages"])
            continue
        stored: set[str] = set()
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = _get(base, f"/api/calls/{quoted}/messages", **params)
            stored |= {m["messageId"] for m in page["messages"]}
            cursor = page["nextCursor"]
            if not cursor:
                break
        lost += len(want["messages"] - stored)
        if want["status"] is not None and detail["status"] != want["status"]:
            lost += 1
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="new calls per second")
    parser.add_argument("--speed", type=float, default=20.0, help="call time compression")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    calls = max(1, int(args.rate * args.minutes * 60))
    with tempfile.TemporaryDirectory(prefix="callhook-soak-") as tmp:
        folder = Path(tmp)
        with serve(f"sqlite:///{folder / 'soak.sqlite3'}", folder) as (process, port):
            base = f"http://127.0.0.1:{port}"
            reader, sampler = Reader(base), Sampler(process.pid)
            reader.start()
            sampler.start()
            sink = ListSink()
            began = time.monotonic()
            result = asyncio.run(
                simulate(
                    f"{base}/webhook",
                    demo_profile(),
                    calls=calls,
                    outbox_url=f"sqlite:///{folder / 'outbox.sqlite3'}",
                    concurrency=max(10, int(args.rate * 60)),
                    rate=args.rate,
                    seed=args.seed,
                    speed=args.speed,
                    also=sink,
                    wait_s=300,
                )
            )
            minutes = (time.monotonic() - began) / 60
            reader.stop.set()
            sampler.stop.set()
            sampler.join()
            reader.join()
            sampler.sample()
            lost = _lost(base, _expected(sink))
            alive = process.poll() is None
    events_sent = len(sink.envelopes)
    latencies = sorted(reader.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    warm = {
        name: [(t, v) for t, v in s if t >= sampler.samples["serve"][-1][0] / 5]
        for name, s in sampler.samples.items()
    }
    slopes = {name: _slope_per_hour(s) for name, s in warm.items()}
    for name, samples in sampler.samples.items():
        if samples:
            print(
                f"{name:>9} RSS {samples[0][1]:.0f} → {samples[-1][1]:.0f} MB over "
                f"{len(samples)} samples; slope after warm-up {slopes[name]:+.1f} MB/hour"
            )
    d = result.delivery
    print(
        f"delivery: {d.delivered} delivered, {d.retries} retries, {d.pending} pending, "
        f"{d.dead} dead; {len(latencies)} API queries, {reader.errors} failed, p50 "
        f"{statistics.median(latencies) if latencies else float('nan'):.1f} ms; serve alive: "
        f"{alive}"
    )
    print(
        f"RESULT minutes={minutes:.1f} events={events_sent} lost={lost} "
        f"rss_growth_mb_per_hour={slopes['serve']:.1f} api_p99_ms={p99:.1f}"
    )


if __name__ == "__main__":
    main()
