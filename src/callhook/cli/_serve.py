"""``callhook serve`` (the receiver) and ``callhook demo`` (serve plus simulated calls)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from callhook._exceptions import CallhookError
from callhook.cli._app import CONFIG_HELP, DB_HELP, PROFILE_HELP, app, fail
from callhook.store import DEFAULT_URL

if TYPE_CHECKING:
    from callhook.sim import SimulationResult


@app.command()
def serve(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Receive webhook events: store them and answer queries (migrates the database first).

    Webhook auth: CALLHOOK_WEBHOOK_SECRET or CALLHOOK_SIGNING_SECRET.

    Query API and dashboard: CALLHOOK_API_TOKEN. Both are required off loopback.
    """
    from callhook.receiver import load_config
    from callhook.receiver import serve as run

    try:
        settings = load_config(config, database_url=db, host=host, port=port)
        settings.check()
    except CallhookError as exc:
        fail(exc, 2)
    try:
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
) -> None:
    """Start callhook serve (embedded SQLite) and stream simulated calls into it."""
    import asyncio

    from callhook.sim import demo_profile, run_demo, running_server

    try:
        chosen = demo_profile(profile)
        with running_server(db or DEFAULT_URL, host, port) as base:
            typer.echo(f"callhook demo: dashboard at {base}/  (API docs at {base}/docs)")
            typer.echo("streaming simulated calls; press Ctrl-C to stop")
            totals = {"calls": 0, "hangs": 0, "errors": 0}

            def batch_done(result: SimulationResult) -> None:
                totals["calls"] += result.report.calls
                totals["hangs"] += result.report.hangs
                totals["errors"] += result.report.errors
                typer.echo(
                    f"  {totals['calls']} calls so far: {totals['hangs']} hangs, "
                    f"{totals['errors']} errors; {result.delivery.delivered} events delivered"
                )

            asyncio.run(
                run_demo(
                    base,
                    chosen,
                    calls=calls,
                    concurrency=concurrency,
                    speed=speed,
                    seed=seed,
                    on_batch=batch_done,
                )
            )
    except KeyboardInterrupt:
        typer.echo("stopped")
    except CallhookError as exc:
        fail(exc)
