"""A dispatcher process on a shared outbox, for the multi-process tests.

``python outbox_worker.py DB_URL RECEIVER_URL FIRST LAST EVENTS`` accepts EVENTS events of
each call ``WC-FIRST`` .. ``WC-(LAST-1)``, a round at a time (one commit per round), while
delivering whatever the outbox holds, then waits until nothing is pending in the whole outbox
(rows of other processes included) and prints ``done``.
"""

from __future__ import annotations

import argparse
import asyncio

from crash_sender import make_envelope  # type: ignore[import-not-found]

from callhook.delivery import Dispatcher


async def run(db: str, url: str, first: int, last: int, per_call: int) -> None:
    async with Dispatcher(db, poll_interval=0.02, create_tables=False) as dispatcher:
        for n in range(per_call):
            await asyncio.gather(
                *(dispatcher.deliver(make_envelope(url, call, n)) for call in range(first, last))
            )
            await asyncio.sleep(0.01)  # let deliveries of this round interleave with the next
        await dispatcher.wait_idle()
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("url")
    parser.add_argument("first", type=int)
    parser.add_argument("last", type=int)
    parser.add_argument("events", type=int)
    args = parser.parse_args()
    asyncio.run(run(args.db, args.url, args.first, args.last, args.events))


if __name__ == "__main__":
    main()
