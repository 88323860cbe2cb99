"""What ``[redaction]`` costs per event: ``Redactor.body`` over ``bench/ingest.py``'s workload.

Runs the redactor (numbers hashed, text scrubbed) in this process over every event body of
``--calls`` calls (40 messages each; each conversation-update carries the whole history, as
the wire format does), in send order, and prints the process CPU time per event and per
kilobyte. The redactor caches the scrubbed text of each message, so a message re-sent in
later events costs a lookup (every call's texts are its own). The workload's words hold no
digit, and text without a digit or an ``@`` skips analysis; ``--with-numbers F`` appends a
phone number to that fraction of the messages, which then go through every recognizer once.
Three rounds, each with a fresh redactor; RESULT is the median.

Usage: ``python bench/redaction.py [--calls 200] [--with-numbers 0.3]``; the last line is
``RESULT redaction_us_per_event=...``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # bench/ingest.py: realistic simulated calls

from callhook.redaction import RedactionConfig, Redactor


def with_numbers(body: bytes, fraction: float) -> bytes:
    """``body`` with a phone number appended to ``fraction`` of its messages (the same
    messages in every event, chosen by a hash of call id and messageId)."""
    envelope = json.loads(body)
    message = envelope["message"]
    call_id = message.get("call", {}).get("id", "")
    for item in message.get("messages", ()):
        key = zlib.crc32(f"{call_id}/{item['messageId']}".encode())
        if key % 1000 < fraction * 1000:
            item["text"] += f" You can reach me on 415-555-{key % 10_000:04d}."
    return json.dumps(envelope, separators=(",", ":")).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-numbers", type=float, default=0.0)
    args = parser.parse_args()
    bodies = [body for n in range(args.calls) for body in ingest.make_call(n)[0]]
    if args.with_numbers:
        bodies = [with_numbers(body, args.with_numbers) for body in bodies]
    size = sum(len(b) for b in bodies)
    per_event: list[float] = []
    for round_ in range(1, args.rounds + 1):
        redactor = Redactor(RedactionConfig(enabled=True, key="bench-key-0123456789abcdef"))
        began = time.process_time()
        for body in bodies:
            redactor.body(body)
        spent = time.process_time() - began
        per_event.append(spent / len(bodies) * 1e6)
        print(
            f"round {round_}: {len(bodies)} events ({size / 1e6:.1f} MB) in {spent:.2f} CPU s = "
            f"{per_event[-1]:,.0f} us/event, {spent / (size / 1e3) * 1e6:,.1f} us/KB",
            flush=True,
        )
    print(
        f"RESULT redaction_us_per_event={statistics.median(per_event):.0f} "
        f"with_numbers={args.with_numbers}"
    )


if __name__ == "__main__":
    main()
