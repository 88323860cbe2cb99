"""The monitor's child process (``python -m callhook.monitor._child``), see ``_process``.

Reads the settings frame, lowers its own CPU priority (``process_priority``), opens the
database without migrating it, and runs an inline ``Monitor`` with a ``SqlAlertStore`` on the
events read from stdin.
SIGINT is ignored: a Ctrl-C in the terminal reaches the whole process group, and the child
must outlive the receiver's shutdown long enough to drain (it ends at end of input).
"""

from __future__ import annotations

import asyncio
import signal
import sys

import msgspec

from callhook._children import lower_priority
from callhook._exceptions import DecodeError
from callhook._logging import configure_logging
from callhook.events import decode_lazy
from callhook.monitor._config import MonitorConfig
from callhook.monitor._history import SqlAlertStore
from callhook.monitor._monitor import Monitor
from callhook.monitor._process import DRAIN, FRAME, ChildSettings
from callhook.store import Store


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**32)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _frame(reader: asyncio.StreamReader) -> tuple[int, int] | None:
    """The next frame's header, ``None`` at end of input."""
    try:
        header = await reader.readexactly(FRAME.size)
    except asyncio.IncompleteReadError:
        return None
    at, length = FRAME.unpack(header)
    return at, length


async def run() -> None:
    reader = await _stdin()
    first = await _frame(reader)
    if first is None:
        return
    settings = msgspec.json.decode(await reader.readexactly(first[1]), type=ChildSettings)
    if settings.log_format:
        configure_logging(settings.log_format)
    config = msgspec.convert(settings.config, MonitorConfig)
    lower_priority(config.process_priority)
    config = msgspec.structs.replace(config, isolation="inline")
    answer = sys.stdout.buffer
    async with (
        Store(settings.database_url, migrate=False, readers=1) as store,
        Monitor(config, store=SqlAlertStore(store)) as monitor,
    ):
        while (header := await _frame(reader)) is not None:
            at, length = header
            if length == DRAIN:
                await monitor.drain()
                answer.write(b"\x01")
                answer.flush()
                continue
            try:
                body = await reader.readexactly(length)
            except asyncio.IncompleteReadError:
                break  # the receiver died mid-frame; evaluate what arrived whole
            try:
                event = decode_lazy(body)
            except DecodeError:
                continue  # the receiver accepted it, so this cannot happen; never stop on it
            await monitor.submit(event, at)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())


if __name__ == "__main__":
    main()
