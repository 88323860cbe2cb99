"""``callhook simulate``: calls through real call sessions and durable delivery."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from callhook._exceptions import CallhookError
from callhook.cli._app import PROFILE_HELP, app, fail


class Format(enum.StrEnum):
    """``--format``: the webhook format of the simulated calls (``callhook.sim.SimFormat``)."""

    INTERACTLY = "interactly"
    VAPI = "vapi"
    RETELL = "retell"


@app.command()
def simulate(
    to: Annotated[str, typer.Option("--to", help="Webhook URL that receives the events.")],
    calls: Annotated[int, typer.Option(min=1, help="How many calls to simulate.")] = 20,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in progress at once.")] = 10,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="New calls per second (default: no limit).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same calls.")] = 0,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Time compression: 60 plays a minute in a second.")
    ] = 1.0,
    profile: Annotated[Path | None, typer.Option(help=PROFILE_HELP)] = None,
    secret: Annotated[
        str,
        typer.Option(
            help="Sent as x-interactly-secret; with --format vapi the HMAC credential's secret "
            "(x-signature), with --format retell the API key (x-retell-signature)."
        ),
    ] = "",
    outbox: Annotated[
        str, typer.Option(help="Database URL of the delivery outbox.")
    ] = "sqlite:///callhook-sim-outbox.sqlite3",
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="interactly: callhook's events through the durable outbox; vapi or retell: "
            "that platform's webhooks, signed, to its endpoint (--to .../webhook/vapi).",
        ),
    ] = Format.INTERACTLY,
) -> None:
    """Simulate calls through real call sessions and durable delivery to --to."""
    import asyncio
    import time

    from rich.console import Console
    from rich.progress import Progress

    from callhook.sim import load_profile, summary_table
    from callhook.sim import simulate as run

    console = Console(stderr=True)
    try:
        chosen = load_profile(profile)
    except CallhookError as exc:
        fail(exc, 2)
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("calls", total=calls)
        result = asyncio.run(
            run(
                to,
                chosen,
                calls=calls,
                outbox_url=outbox,
                concurrency=concurrency,
                rate=rate,
                seed=seed,
                speed=speed,
                secret=secret,
                format=format.value,
                on_call_done=lambda plan: progress.advance(task),
            )
        )
    Console().print(summary_table(result, time.perf_counter() - started))
    if result.delivery.pending or result.delivery.dead:
        typer.echo(
            f"{result.delivery.pending} events still pending and {result.delivery.dead} given up; "
            f"see: callhook deliveries list --db {outbox}",
            err=True,
        )
        raise typer.Exit(1)
