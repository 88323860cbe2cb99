"""``callhook deliver``: dispatcher processes alone, sending what the outbox holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from callhook._exceptions import CallhookError
from callhook._logging import LogFormat, configure_logging
from callhook.cli._app import CONFIG_HELP, DB_HELP, app, fail
from callhook.cli._serve import LogFormatOption

if TYPE_CHECKING:
    from callhook.delivery import Dispatcher

logger = logging.getLogger("callhook.delivery")


@app.command()
def deliver(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    log_format: LogFormatOption = LogFormat.AUTO,
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="Requests in flight at once, over every target.")
    ] = 256,
) -> None:
    """Send the outbox's queued deliveries until interrupted (Ctrl-C or SIGTERM).

    With `callhook serve --no-deliver` (or `[relay] deliver = false`), serve only queues what
    it relays and these processes send it. Several may run on one PostgreSQL database; each
    call's events still go out in order.
    """
    from callhook.delivery import Dispatcher
    from callhook.receiver import load_config
    from callhook.store import upgrade

    configure_logging(log_format)
    try:
        settings = load_config(config, database_url=db)
        upgrade(settings.database_url)
        asyncio.run(
            _run(
                Dispatcher(settings.database_url, create_tables=False, max_in_flight=max_in_flight)
            )
        )
    except CallhookError as exc:
        fail(exc)


async def _run(dispatcher: Dispatcher) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with dispatcher:
        logger.info("delivery.worker_started sending the outbox's queued deliveries")
        await stop.wait()
        logger.info("delivery.worker_stopping in-flight requests finish, the rest is released")
