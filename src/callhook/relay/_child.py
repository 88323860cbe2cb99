"""The dispatcher's child process: ``python -m callhook.relay._child DATABASE_URL PRIORITY
[LOG_FORMAT]``.

Started by ``DispatcherProcess``. It first lowers its CPU priority (``PRIORITY``: ``normal``,
``low`` = ``nice`` 10, ``idle`` = Linux's ``SCHED_IDLE``). Each byte on stdin wakes the
dispatcher; end of input, or SIGTERM, closes it (requests in flight finish) and the process
exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from callhook._children import lower_priority
from callhook._logging import LogFormat, configure_logging
from callhook.delivery import Dispatcher

__all__ = ["main", "run_dispatcher"]

logger = logging.getLogger("callhook.relay")


async def run_dispatcher(
    database_url: str,
    *,
    wake_on_stdin: bool = True,
    poll_interval: float = 1.0,
    max_in_flight: int = 256,
) -> None:
    """Send the outbox's rows until SIGTERM / SIGINT (or, with ``wake_on_stdin``, the end of
    stdin; each byte read wakes the dispatcher). ``poll_interval``: seconds between looks for
    rows queued by other processes."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    # On SQLite every transaction of the dispatcher takes the write lock from the receiver,
    # which then waits: fewer, larger ones (20 ms apart at most) keep ingest at its pace.
    interval = 0.02 if database_url.startswith("sqlite") else 0.0
    dispatcher = Dispatcher(
        database_url,
        create_tables=False,
        batch_interval=interval,
        poll_interval=poll_interval,
        max_in_flight=max_in_flight,
    )
    async with dispatcher:
        tasks = []
        if wake_on_stdin:
            reader = asyncio.StreamReader()
            protocol = asyncio.StreamReaderProtocol(reader)
            await loop.connect_read_pipe(lambda: protocol, sys.stdin)

            async def wakes() -> None:
                while await reader.read(4096):
                    dispatcher.wake()
                stop.set()  # end of input: the receiver is closing (or gone)

            tasks.append(asyncio.create_task(wakes(), name="callhook-relay-wakes"))
        logger.info("relay.dispatcher_started sending the outbox's queued deliveries")
        await stop.wait()
        logger.info("relay.dispatcher_stopping requests in flight finish; the rest stays queued")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str]) -> None:
    lower_priority(argv[1])
    if len(argv) > 2:
        configure_logging(LogFormat(argv[2]))
    try:
        import uvloop
    except ImportError:
        asyncio.run(run_dispatcher(argv[0]))
    else:
        uvloop.run(run_dispatcher(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
