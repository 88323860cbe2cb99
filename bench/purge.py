"""Ingest during a retention purge: ``callhook serve`` taking ``bench/ingest.py``'s workload
while its ``[retention]`` task purges 100,000 old messages, against the same server and
database without retention, side by side in each round.

Each run starts from the same database: ``--old-calls`` calls (default 2,500 of 40 messages:
100,000 messages, every event of each call) received 30 days ago. The purging server has
``[retention] calls_days = 7``, so its purge task starts on start-up and works through them
in its paced batches while the load runs; the baseline server has no ``[retention]``. The
load is ``bench/ingest.py``'s (realistic 40-message calls, 32 keep-alive connections, every
event acknowledged after its commit), warm-up first. After each purging run the script
prints how many old messages the purge removed while the load ran (it must be removing them
for the whole load: the run fails if it finished before the load did).

Usage: ``python bench/purge.py [--db sqlite|postgresql] [--rounds 3] [--calls 200]``
(PostgreSQL: ``CALLHOOK_TEST_POSTGRES_URL``; each run gets its own schema, a copy of one
seeded schema). The last line is
``RESULT purge_ingest_ratio=...``: the median over rounds of (rate while purging / rate
without), target at least 0.90.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # bench/ingest.py: the workload and the load generator

from callhook.store import Store, make_engine, metadata, parse_event, upgrade

DAY_MS = 86_400_000
RETENTION = "[retention]\ncalls_days = 7\n"


async def seed(url: str, calls: int, messages: int, received_at: int) -> None:
    """``calls`` calls received at ``received_at``: of each, the status updates, the hang,
    the error and the end-of-call report (which carries every message); 64 at a time."""
    async with Store(url) as store:
        semaphore = asyncio.Semaphore(64)

        async def one(number: int) -> None:
            async with semaphore:
                bodies, _ = ingest.make_call(number, messages)
                for body in bodies:
                    if b'"conversation-update"' in body[:80]:
                        continue
                    # Other ids than the load's calls (which reuse these numbers).
                    old = body.replace(b'"WC-bench-', b'"WC-old-')
                    await store.ingest(parse_event(old, received_at=received_at))

        await asyncio.gather(*(one(n) for n in range(calls)))


def old_messages(url: str, before_ms: int) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT count(*) FROM messages m JOIN calls c ON c.pk = m.call_pk "
                "WHERE c.updated_at < :before"
            )
            return int(conn.execute(query, {"before": before_ms}).scalar_one())
    finally:
        engine.dispose()


@contextlib.contextmanager
def database(kind: str, template: str, folder: Path, name: str) -> Iterator[str]:
    """A copy of the seeded ``template`` database for one run."""
    if kind == "sqlite":
        target = folder / f"{name}.sqlite3"
        shutil.copyfile(template.removeprefix("sqlite:///"), target)
        yield f"sqlite:///{target}"
        for path in folder.glob(f"{name}.sqlite3*"):
            path.unlink()
        return
    with ingest.postgres_schema(postgres_base()) as url:
        copy_schema(template, url)
        yield url


def postgres_base() -> str:
    base = os.environ.get("CALLHOOK_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("--db postgresql needs CALLHOOK_TEST_POSTGRES_URL")
    return base


def _schema(url: str) -> str:
    return url.rpartition("search_path%3D")[2]


def copy_schema(source: str, target: str) -> None:
    """Migrate ``target`` and copy every row of ``source`` (PostgreSQL schemas) into it."""
    upgrade(target)
    engine = make_engine(target)
    try:
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                conn.execute(
                    sa.text(
                        f'INSERT INTO "{table.name}" SELECT * FROM "{_schema(source)}".'
                        f'"{table.name}"'
                    )
                )
                for column in table.primary_key.columns:
                    if column.autoincrement is True:
                        conn.execute(
                            sa.text(
                                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                                f"'{column.name}'), coalesce(max(\"{column.name}\"), 1)) "
                                f'FROM "{table.name}"'
                            )
                        )
    finally:
        engine.dispose()


def serve(
    url: str, folder: Path, name: str, config_text: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = ingest.free_port()
    config = folder / f"{name}.toml"
    config.write_text(config_text, encoding="utf-8")
    command = [sys.executable, "-m", "callhook", "serve", "--db", url, "--port", str(port)]
    command += ["--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    log = (folder / f"{name}.log").open("ab")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            ingest.socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            return process, port
        if process.poll() is not None:
            raise SystemExit(f"callhook serve exited with {process.returncode}; see {log.name}")
        time.sleep(0.05)
    process.kill()
    raise SystemExit("callhook serve did not start within 60 s")


def run(
    kind: str,
    url: str,
    folder: Path,
    purging: bool,
    calls: list[list[bytes]],
    warmup: list[list[bytes]],
    args: argparse.Namespace,
) -> float:
    name = "purging" if purging else "baseline"
    process, port = serve(url, folder, name, RETENTION if purging else "")
    cutoff = int(time.time() * 1000) - 7 * DAY_MS
    try:
        asyncio.run(ingest.load(port, warmup, args.connections, args.max_seconds))
        before_old = old_messages(url, cutoff)
        cpu_before = ingest.cpu_seconds(process.pid)
        ok, failed, elapsed = asyncio.run(
            ingest.load(port, calls, args.connections, args.max_seconds)
        )
        cpu_after = ingest.cpu_seconds(process.pid)
        after_old = old_messages(url, cutoff)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    if failed:
        raise SystemExit(f"{name}: {failed} requests were not answered 2xx")
    rate = ok / elapsed
    cpu = (cpu_after[0] - cpu_before[0]) / ok * 1e6 if ok and cpu_after[1] else float("nan")
    line = f"{name:>9}: {ok} events in {elapsed:.2f} s = {rate:,.0f} events/s, "
    line += f"server CPU {cpu:,.0f} us/event"
    if purging:
        line += f"; old messages {before_old:,} -> {after_old:,} during the load"
        if after_old == 0 or before_old == after_old:
            raise SystemExit(
                f"{name}: the purge did not run for the whole load ({before_old} -> "
                f"{after_old} old messages): use more --old-calls or fewer --calls"
            )
    print(line, flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--old-calls", type=int, default=2_500)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()
    calls = [ingest.make_call(n, args.messages)[0] for n in range(args.calls)]
    warmup = [ingest.make_call(100_000 + n, args.messages)[0] for n in range(20)]
    requests = [[ingest.request(b) for b in call] for call in calls]
    warm = [[ingest.request(b) for b in call] for call in warmup]
    old_at = int(time.time() * 1000) - 30 * DAY_MS
    total = args.old_calls * args.messages
    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="callhook-bench-purge-") as name:
        folder = Path(name)
        with contextlib.ExitStack() as stack:
            if args.db == "sqlite":
                template = f"sqlite:///{folder / 'template.sqlite3'}"
            else:
                template = stack.enter_context(ingest.postgres_schema(postgres_base()))
            began = time.perf_counter()
            asyncio.run(seed(template, args.old_calls, args.messages, old_at))
            if args.db == "sqlite":
                with sqlite3.connect(template.removeprefix("sqlite:///")) as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"seeded {total:,} old messages in {time.perf_counter() - began:.0f} s")
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_} of {args.rounds}", flush=True)
                for purging in (False, True) if round_ % 2 else (True, False):
                    with database(args.db, template, folder, f"r{round_}") as url:
                        rate = run(args.db, url, folder, purging, requests, warm, args)
                        rates[purging].append(rate)
    paired = [b / a for a, b in zip(rates[False], rates[True], strict=True)]
    print("purging/baseline per round: " + ", ".join(f"{r:.2f}" for r in paired))
    print(
        f"RESULT purge_ingest_ratio={statistics.median(paired):.2f} db={args.db} "
        f"old_messages={total}"
    )


if __name__ == "__main__":
    main()
