"""Slow clients: ingest rate with 2,000 stalled connections open, against the rate without.

One ``callhook serve`` (SQLite file, default settings: ``header_timeout`` 10 s, ``body_timeout``
30 s). Rounds alternate two phases of ``--seconds`` each, side by side in the same run:

- baseline: ``--connections`` keep-alive clients post valid call events as fast as answered;
- stalled: first ``--stalled`` connections each send the headers of a 100 KB POST and one byte
  of its body and then nothing; with all of them open, the same load as the baseline.

After each stalled phase it waits until the server has closed every stalled connection and
reports the longest time one stayed open (expected: about ``body_timeout``). The server's CPU per
event is printed for each phase. The last line is ``RESULT stalled=... rate_ratio=...
closed_within_s=...`` where ``rate_ratio`` is the median over rounds of stalled / baseline
(target: at least 0.80).

Usage: ``python bench/slow_clients.py [--rounds 3] [--stalled 2000] [--seconds 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import call_events, cpu_seconds, load, serve


async def _stall(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 102400\r\n\r\n{"
    )
    await writer.drain()
    return reader, writer


async def _stalled_phase(
    port: int, stalled: int, calls: list[list[bytes]], args: argparse.Namespace, pid: int
) -> tuple[float, float, float]:
    opened = []
    for start in range(0, stalled, 200):  # open them in batches, like a crowd arriving
        opened += await asyncio.gather(*(_stall(port) for _ in range(min(200, stalled - start))))
    began = time.monotonic()
    open_now = sum(1 for reader, _ in opened if not reader.at_eof())
    cpu = cpu_seconds(pid)
    ok, failed, elapsed = await load(port, calls, args.connections, args.seconds)
    cpu = cpu_seconds(pid) - cpu
    still = 0
    for reader, _ in opened:
        still += not reader.at_eof()
    if failed:
        raise SystemExit(f"{failed} events were not answered 2xx with stalled connections open")
    print(
        f"  stalled: {open_now} stalled connections open ({still} still open after the load); "
        f"{ok} events in {elapsed:.2f} s = {ok / elapsed:,.0f} events/s; "
        f"server CPU {cpu / max(ok, 1) * 1e6:,.0f} us/event",
        flush=True,
    )

    async def closed(reader: asyncio.StreamReader) -> float:
        while await reader.read(65536):
            pass
        return time.monotonic() - began

    waits = await asyncio.wait_for(asyncio.gather(*(closed(r) for r, _ in opened)), 120)
    for _, writer in opened:
        writer.close()
    return ok / elapsed, max(waits), float(open_now)


async def _baseline_phase(
    port: int, calls: list[list[bytes]], args: argparse.Namespace, pid: int
) -> float:
    cpu = cpu_seconds(pid)
    ok, failed, elapsed = await load(port, calls, args.connections, args.seconds)
    cpu = cpu_seconds(pid) - cpu
    if failed:
        raise SystemExit(f"{failed} events were not answered 2xx")
    print(
        f"  baseline: {ok} events in {elapsed:.2f} s = {ok / elapsed:,.0f} events/s; "
        f"server CPU {cpu / max(ok, 1) * 1e6:,.0f} us/event",
        flush=True,
    )
    return ok / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stalled", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    ratios: list[float] = []
    closed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="callhook-slow-") as tmp:
        folder = Path(tmp)
        with serve(f"sqlite:///{folder / 'slow.sqlite3'}", folder) as (process, port):
            serial = 0

            def calls() -> list[list[bytes]]:
                nonlocal serial
                serial += 1
                return [call_events(f"slow-{serial}-{n}") for n in range(2000)]

            asyncio.run(_baseline_phase(port, calls(), args, process.pid))  # warm-up
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}", flush=True)
                if round_ % 2 == 0:
                    base = asyncio.run(_baseline_phase(port, calls(), args, process.pid))
                    rate, waited, _ = asyncio.run(
                        _stalled_phase(port, args.stalled, calls(), args, process.pid)
                    )
                else:
                    rate, waited, _ = asyncio.run(
                        _stalled_phase(port, args.stalled, calls(), args, process.pid)
                    )
                    base = asyncio.run(_baseline_phase(port, calls(), args, process.pid))
                ratios.append(rate / base)
                closed.append(waited)
                print(
                    f"  ratio {rate / base:.2f}; the last stalled connection was closed "
                    f"{waited:.1f} s after the load began",
                    flush=True,
                )
    print(
        f"RESULT stalled={args.stalled} rate_ratio={statistics.median(ratios):.2f} "
        f"closed_within_s={max(closed):.1f}"
    )


if __name__ == "__main__":
    main()
