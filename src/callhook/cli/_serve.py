"""``callhook serve`` (the receiver) and ``callhook demo`` (serve plus simulated calls)."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from callhook._exceptions import CallhookError
from callhook._logging import LogFormat, configure_logging
from callhook.cli._app import CONFIG_HELP, DB_HELP, PROFILE_HELP, app, fail
from callhook.store import DEFAULT_URL

if TYPE_CHECKING:
    from callhook.sim import SimulationResult

logger = logging.getLogger("callhook.demo")

_LOG_FORMAT_HELP = (
    "pretty: short lines and a live status line (the default on a terminal); json or logfmt: "
    "one structured line per record (the default when not a terminal)."
)
LogFormatOption = Annotated[
    LogFormat, typer.Option("--log-format", help=_LOG_FORMAT_HELP, case_sensitive=False)
]


def _local(host: str) -> str:
    """The address this machine reaches a server bound to ``host`` on."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@app.command()
def serve(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    log_format: LogFormatOption = LogFormat.AUTO,
    status: Annotated[
        bool, typer.Option("--status/--no-status", help="The live status line (pretty only).")
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Receiver processes on the port, each with its own group commit [1]; "
            "more than one needs PostgreSQL."
        ),
    ] = None,
    forward: Annotated[
        list[str] | None,
        typer.Option(
            "--forward",
            metavar="URL",
            help="Relay every stored event to this URL too (repeatable; [[forward]] in the "
            "config file sets more options).",
        ),
    ] = None,
    deliver: Annotated[
        bool | None,
        typer.Option(
            "--deliver/--no-deliver",
            help="Send to the forward targets from this process [deliver]; --no-deliver "
            "only queues, for `callhook deliver` processes.",
        ),
    ] = None,
) -> None:
    """Receive webhook events: store them and answer queries (migrates the database first).

    Webhook auth: CALLHOOK_WEBHOOK_SECRET or CALLHOOK_SIGNING_SECRET.

    Query API and dashboard: CALLHOOK_API_TOKEN. Both are required off loopback.
    """
    from callhook.cli._status import StatusLine
    from callhook.receiver import load_config
    from callhook.receiver import serve as run

    try:
        settings = load_config(config, database_url=db, host=host, port=port, workers=workers)
        relay = settings.relay.with_urls(forward or [])
        if deliver is not None:
            relay = dataclasses.replace(relay, deliver=deliver)
        settings = dataclasses.replace(settings, relay=relay)
        settings.check()
    except CallhookError as exc:
        fail(exc, 2)
    # --log-format, else the config file's [server] log_format, else auto.
    wanted = settings.log_format if log_format is LogFormat.AUTO else None
    chosen = configure_logging(wanted or log_format, settings.log_level)
    settings = dataclasses.replace(settings, log_format=chosen.value)
    try:
        if chosen is LogFormat.PRETTY and status and sys.stderr.isatty():
            base = f"http://{_local(settings.host)}:{settings.port}"
            token = settings.api_tokens[0] if settings.api_tokens else None
            with StatusLine(base, token):
                run(settings)
        else:
            run(settings)
    except CallhookError as exc:
        fail(exc)


@app.command()
def demo(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    calls: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many calls (default: Ctrl-C).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in progress at once.")] = 4,
    speed: Annotated[float, typer.Option(min=0.001, help="Time compression.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Same seed, same calls.")] = 0,
    profile: Annotated[Path | None, typer.Option(help=PROFILE_HELP)] = None,
    log_format: LogFormatOption = LogFormat.AUTO,
    platforms: Annotated[
        bool,
        typer.Option(
            help="Rotate batches of calls through callhook's own events and Vapi's and "
            "Retell's webhooks (their endpoints are open on loopback only)."
        ),
    ] = True,
) -> None:
    """Start callhook serve (embedded SQLite) and stream simulated calls into it."""
    import asyncio
    import contextlib

    from callhook.cli._status import StatusLine
    from callhook.receiver._config import is_loopback
    from callhook.sim import demo_profile, run_demo, running_server

    chosen = configure_logging(log_format)
    live = chosen is LogFormat.PRETTY and sys.stderr.isatty()
    try:
        chosen_profile = demo_profile(profile)
        with running_server(
            db or DEFAULT_URL, host, port, log_format=chosen.value, relay=live
        ) as base:
            if chosen is LogFormat.PRETTY:
                typer.echo(f"callhook demo: dashboard at {base}/  (API docs at {base}/docs)")
                typer.echo("streaming simulated calls; press Ctrl-C to stop")
            else:
                logger.info("demo.started dashboard at %s/", base, extra={"fields": {"url": base}})
            totals = {"calls": 0, "hangs": 0, "errors": 0}

            def batch_done(result: SimulationResult) -> None:
                totals["calls"] += result.report.calls
                totals["hangs"] += result.report.hangs
                totals["errors"] += result.report.errors
                delivered = result.delivery.delivered
                logger.info(
                    "demo.progress %s calls so far: %s hangs, %s errors; %s events delivered",
                    totals["calls"],
                    totals["hangs"],
                    totals["errors"],
                    delivered,
                    extra={"fields": {**totals, "delivered": delivered}},
                )

            status = StatusLine(base) if live else contextlib.nullcontext()
            with status:
                asyncio.run(
                    run_demo(
                        base,
                        chosen_profile,
                        calls=calls,
                        concurrency=concurrency,
                        speed=speed,
                        seed=seed,
                        on_batch=batch_done,
                        formats=("interactly", "vapi", "retell")
                        if platforms and is_loopback(host)
                        else ("interactly",),
                    )
                )
    except KeyboardInterrupt:
        logger.info("demo.stopped")
    except CallhookError as exc:
        fail(exc)
