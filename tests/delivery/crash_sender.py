"""Crash-test sender: accepts the events of several calls and delivers them to a receiver.

``python crash_sender.py DB_URL RECEIVER_URL CALLS EVENTS`` accepts CALLS x EVENTS events
(round-robin over the calls), printing ``accepted <webhook-id>`` once each is committed, and
delivers them; ``--resume`` accepts nothing and only delivers what the outbox holds. Prints
``done`` when nothing is pending.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from callhook import events
from callhook.delivery import Dispatcher


def make_envelope(url: str, call: int, n: int) -> events.Envelope[events.Event]:
    server = {
        "enabled": True,
        "url": url,
        "timeoutSeconds": 1,
        "messages": ["conversation-update"],
    }
    message = {
        "timestamp": 1772702479627 + n,
        "type": "conversation-update",
        "call": {"id": f"WC-{call}", "status": "ongoing"},
        "assistant": {"_id": "asst-1", "assistantServer": server},
        "messages": [
            {"messageId": f"user-{i + 1}", "role": "user", "text": "hi"} for i in range(n + 1)
        ],
    }
    return events.decode(json.dumps({"message": message}))


async def run(db: str, url: str, calls: int, per_call: int, resume: bool) -> None:
    async with Dispatcher(db, poll_interval=0.05, lease_margin=1.0, per_endpoint=4) as dispatcher:
        if not resume:
            for n in range(per_call):  # one commit per round: accepting outpaces sending
                accepted = await asyncio.gather(
                    *(dispatcher.deliver(make_envelope(url, call, n)) for call in range(calls))
                )
                for webhook_id in accepted:
                    print(f"accepted {webhook_id}", flush=True)
        await dispatcher.wait_idle()
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("url")
    parser.add_argument("calls", type=int)
    parser.add_argument("events", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.db, args.url, args.calls, args.events, args.resume))


if __name__ == "__main__":
    main()
