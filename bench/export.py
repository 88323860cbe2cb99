"""``callhook export`` at 1,000 and 10,000 calls: peak memory, time, and a full read-back.

Builds a SQLite database of ``bench/ingest.py``'s simulated calls (40 messages each, with a
hang and an error; each call's status updates, hang, error and end-of-call report go through
the store's ingest), then copies those rows in SQL to reach the larger count. For each count
and each format (jsonl, csv, parquet) it runs ``callhook export`` in a child process and
reads the child's peak resident memory (``VmHWM``) and CPU time. At 1,000 calls every file
is read back with the format's usual reader (``json``, ``csv``, ``pyarrow.parquet``) and every
message of the database must be in ``messages``.

Usage: ``python bench/export.py [--calls 1000] [--factor 10]``. The last line is
``RESULT export_peak_rss_ratio=...``: the largest, over formats, of peak RSS at
``calls * factor`` over peak RSS at ``calls`` (flat memory: close to 1).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # bench/ingest.py: realistic simulated calls

from callhook.store import Store, parse_event

FORMATS = ("jsonl", "csv", "parquet")


async def seed(url: str, calls: int) -> None:
    async with Store(url) as store:
        semaphore = asyncio.Semaphore(64)

        async def one(number: int) -> None:
            async with semaphore:
                bodies, _ = ingest.make_call(number)
                for body in bodies:
                    if b'"conversation-update"' not in body[:80]:
                        await store.ingest(parse_event(body, received_at=ingest.START))

        await asyncio.gather(*(one(n) for n in range(calls)))


def multiply(path: Path, calls: int, factor: int) -> None:
    """Copy the ``calls`` calls (pks 1..calls) and their rows ``factor - 1`` times."""
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT min(pk), max(pk), count(*) FROM calls").fetchone() == (
            1,
            calls,
            calls,
        )

        def columns(table: str) -> list[str]:
            return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]

        for k in range(1, factor):
            shift = k * calls
            names = [c for c in columns("calls") if c != "pk"]
            picked = [f"call_id || '-copy{k}'" if c == "call_id" else c for c in names]
            db.execute(
                f"INSERT INTO calls (pk, {', '.join(names)}) "
                f"SELECT pk + {shift}, {', '.join(picked)} FROM calls WHERE pk <= {calls}"
            )
            for table, key in (("messages", "seq"), ("hangs", "pk"), ("errors", "pk")):
                names = [c for c in columns(table) if c != key]
                picked = [f"call_pk + {shift}" if c == "call_pk" else c for c in names]
                db.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"SELECT {', '.join(picked)} FROM {table} WHERE call_pk <= {calls}"
                )
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def export(url: str, out: Path, form: str) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU seconds (user + system) of one ``callhook export`` child.

    The peak is the child's ``VmHWM`` (``/proc/PID/status``), read every 10 ms while it
    runs: ``wait4``'s ``ru_maxrss`` would count this (larger) process too, whose memory the
    child had before its ``exec``."""
    command = [sys.executable, "-m", "callhook", "export", "--db", url, "--out", str(out)]
    command += ["--format", form]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status_file = Path(f"/proc/{process.pid}/status")
    peak_kib = 0
    while True:
        try:
            status = status_file.read_text()
        except OSError:
            status = ""
        if "VmHWM:" in status:
            peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
        pid, code, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.01)
    if code != 0:
        assert process.stderr is not None
        raise SystemExit(f"export failed: {process.stderr.read().decode()}")
    return peak_kib / 1024, usage.ru_utime + usage.ru_stime


def read_back(out: Path, form: str) -> set[tuple[str, str]]:
    """The (callId, messageId) pairs of ``messages`` read with the format's usual reader."""
    path = out / f"messages.{form}"
    if form == "jsonl":
        with path.open() as file:
            rows = [json.loads(line) for line in file]
    elif form == "csv":
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    for table in ("calls", "hangs", "errors"):  # the other files read too
        other = out / f"{table}.{form}"
        if form == "parquet":
            import pyarrow.parquet as pq

            pq.read_table(other)
        elif form == "csv":
            with other.open(newline="") as file:
                list(csv.DictReader(file))
        else:
            with other.open() as file:
                [json.loads(line) for line in file]
    return {(r["callId"], r["messageId"]) for r in rows}


def stored_messages(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        query = "SELECT c.call_id, m.message_id FROM messages m JOIN calls c ON c.pk = m.call_pk"
        return set(db.execute(query))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--factor", type=int, default=10)
    args = parser.parse_args()
    peaks: dict[str, list[float]] = {form: [] for form in FORMATS}
    with tempfile.TemporaryDirectory(prefix="callhook-bench-export-") as name:
        folder = Path(name)
        path = folder / "calls.sqlite3"
        url = f"sqlite:///{path}"
        began = time.perf_counter()
        asyncio.run(seed(url, args.calls))
        print(f"seeded {args.calls} calls in {time.perf_counter() - began:.0f} s", flush=True)
        for count in (args.calls, args.calls * args.factor):
            if count != args.calls:
                multiply(path, args.calls, args.factor)
            expected = stored_messages(path)
            for form in FORMATS:
                out = folder / f"out-{count}-{form}"
                rss, seconds = export(url, out, form)
                peaks[form].append(rss)
                line = f"{count:>6} calls {form:>7}: peak RSS {rss:6.1f} MiB, CPU {seconds:5.1f} s"
                line += f" ({seconds / count * 1e3:.2f} ms/call, start-up included)"
                if count == args.calls:
                    found = read_back(out, form)
                    missing = len(expected - found)
                    line += f"; read back {len(found):,} of {len(expected):,} messages"
                    if missing or len(found) != len(expected):
                        raise SystemExit(line + f": {missing} missing")
                print(line, flush=True)
    ratios = {form: values[1] / values[0] for form, values in peaks.items()}
    print("peak RSS ratio per format: " + ", ".join(f"{f} {r:.2f}" for f, r in ratios.items()))
    print(
        f"RESULT export_peak_rss_ratio={max(ratios.values()):.2f} calls={args.calls}x{args.factor}"
    )


if __name__ == "__main__":
    main()
