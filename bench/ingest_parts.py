"""Where ingest's CPU goes, in one process: the parse and the store's write, per event.

The same workload as ``bench/ingest.py`` (its ``make_call``): the calls' events interleaved
as 32 connections send them, parsed with ``parse_event``, then written by a ``Writer`` in
group commits of ``--batch`` events on a fresh database. CPU time is the process's
(``time.process_time``, so other processes on a busy machine count less than in wall time),
the best of ``--rounds`` rounds; the write is split into ``begin`` (SQLite: BEGIN IMMEDIATE),
``stage`` (the Python work and the statements) and ``commit`` (the fsync'd commit).

Usage: ``python bench/ingest_parts.py [--calls 40] [--batch 16] [--rounds 3]``; with
``CALLHOOK_TEST_POSTGRES_URL`` set the write is also measured on PostgreSQL. The last line is
``RESULT parse_us=... stage_us=... commit_us=...`` (SQLite).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import make_call, postgres_schema

from callhook.store import Writer, make_engine, parse_event, upgrade


def interleaved(calls: int) -> list[bytes]:
    """Every call's events in order, the calls taking turns (as concurrent connections)."""
    bodies = [make_call(n)[0] for n in range(calls)]
    order: list[bytes] = []
    for step in range(max(len(b) for b in bodies)):
        order += [b[step] for b in bodies if step < len(b)]
    return order


def parse_cpu(bodies: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for n, body in enumerate(bodies):
            parse_event(body, received_at=n)
        best = min(best, time.process_time() - started)
    return best / len(bodies) * 1e6


def write_cpu(url: str, bodies: list[bytes], batch: int) -> tuple[float, float, float]:
    engine = make_engine(url)
    upgrade(engine)
    writer = Writer(engine)
    try:
        parsed = [parse_event(body, received_at=n) for n, body in enumerate(bodies)]
        gc.collect()
        begin = stage = commit = 0.0
        for start in range(0, len(parsed), batch):
            t0 = time.process_time()
            writer.begin()
            t1 = time.process_time()
            staged = writer.stage(parsed[start : start + batch])
            t2 = time.process_time()
            results = writer.commit(staged)
            t3 = time.process_time()
            assert not any(isinstance(r, Exception) for r in results), results
            begin, stage, commit = begin + t1 - t0, stage + t2 - t1, commit + t3 - t2
    finally:
        writer.close()
        engine.dispose()
    n = len(parsed) / 1e6
    return begin / n, stage / n, commit / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bodies = interleaved(args.calls)
    print(f"{len(bodies)} events of {args.calls} calls; group commits of {args.batch}; best of "
          f"{args.rounds} rounds; CPU us per event")  # fmt: skip
    parse = parse_cpu(bodies, args.rounds)
    print(f"parse_event: {parse:.1f}")
    figures: dict[str, tuple[float, float, float]] = {}
    postgres = os.environ.get("CALLHOOK_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="callhook-bench-") as folder:
        for kind in ("sqlite", "postgresql") if postgres else ("sqlite",):
            best: tuple[float, float, float] | None = None
            for round_ in range(args.rounds):
                if kind == "sqlite":
                    url = f"sqlite:///{Path(folder) / f'parts-{round_}.sqlite3'}"
                    result = write_cpu(url, bodies, args.batch)
                else:
                    assert postgres is not None
                    with postgres_schema(postgres) as url:
                        result = write_cpu(url, bodies, args.batch)
                if best is None or sum(result) < sum(best):
                    best = result
            assert best is not None
            figures[kind] = best
            print(f"{kind} write: begin {best[0]:.1f}, stage {best[1]:.1f}, commit {best[2]:.1f}")
    begin, stage, commit = figures["sqlite"]
    print(f"RESULT parse_us={parse:.1f} stage_us={stage:.1f} commit_us={begin + commit:.1f}")


if __name__ == "__main__":
    main()
