"""``callhook deliver``: dispatcher processes alone, sending what the outbox holds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from callhook._exceptions import CallhookError
from callhook._logging import LogFormat, configure_logging
from callhook.cli._app import CONFIG_HELP, DB_HELP, app, fail
from callhook.cli._serve import LogFormatOption


@app.command()
def deliver(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    log_format: LogFormatOption = LogFormat.AUTO,
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="Requests in flight at once, over every target.")
    ] = 256,
    poll_interval: Annotated[
        float,
        typer.Option(
            min=0.01, help="Seconds between looks for newly queued rows (latency vs. queries)."
        ),
    ] = 0.25,
) -> None:
    """Send the outbox's queued deliveries until interrupted (Ctrl-C or SIGTERM).

    With `callhook serve --no-deliver` (or `[relay] deliver = false`), serve only queues what
    it relays and these processes send it. Several may run on one PostgreSQL database; each
    call's events still go out in order.
    """
    from callhook.receiver import load_config
    from callhook.relay import run_dispatcher
    from callhook.store import upgrade

    configure_logging(log_format)
    try:
        settings = load_config(config, database_url=db)
        upgrade(settings.database_url)
        asyncio.run(
            run_dispatcher(
                settings.database_url,
                wake_on_stdin=False,
                poll_interval=poll_interval,
                max_in_flight=max_in_flight,
            )
        )
    except CallhookError as exc:
        fail(exc)
