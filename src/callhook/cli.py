"""The ``callhook`` command. Each subcommand parses arguments and calls the library."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from callhook import __version__
from callhook._exceptions import CallhookError, DecodeError
from callhook.delivery import (
    DeliveryRecord,
    list_attempts,
    list_deliveries,
    open_outbox,
    replay,
    safe_url,
)
from callhook.events import EventType, decode, json_schema
from callhook.store import DEFAULT_URL

if TYPE_CHECKING:
    from callhook.sim import SimulationResult

app = typer.Typer(
    name="callhook",
    help="Call webhooks for voice-AI assistants: emit, deliver and receive Interactly events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"callhook {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """callhook: call webhooks for voice-AI assistants."""


@app.command()
def validate(
    files: Annotated[
        list[str], typer.Argument(help="Payload files to check; '-' reads standard input.")
    ],
) -> None:
    """Check webhook payloads: prints OK with type, call id and message count, or the error
    with its JSON path. Exits 1 if any file is invalid."""
    failures = 0
    for name in files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            typer.echo(f"ERROR {name}: cannot read the file ({exc.strerror})", err=True)
            failures += 1
            continue
        label = "<stdin>" if name == "-" else name
        try:
            event = decode(data).message
        except DecodeError as exc:
            typer.echo(f"ERROR {label}: {exc}", err=True)
            failures += 1
            continue
        messages = getattr(event, "messages", None)
        count = len(messages) if isinstance(messages, list) else 0
        call = f"call {event.call_id}" if event.call_id else "no call"
        plural = "" if count == 1 else "s"
        typer.echo(f"OK    {label}: {event.type.value}, {call}, {count} message{plural}")
    if failures:
        typer.echo(f"{failures} of {len(files)} files invalid", err=True)
        raise typer.Exit(1)


@app.command()
def schema(
    event_type: Annotated[
        str | None,
        typer.Argument(
            metavar="[TYPE]",
            help="One of: " + ", ".join(t.value for t in EventType) + ". Default: all five.",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of a webhook request body."""
    if event_type is not None and event_type not in {t.value for t in EventType}:
        names = ", ".join(t.value for t in EventType)
        typer.echo(f"Unknown event type {event_type!r}; use one of: {names}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(json_schema(event_type), indent=2))


db_app = typer.Typer(help="Manage the receiver's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

_DB_HELP = "Database URL: sqlite:///file.sqlite3 (default ./callhook.sqlite3) or postgresql://..."


@app.command()
def serve(
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (see README).")
    ] = None,
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
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        run(settings)
    except CallhookError as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (see README).")
    ] = None,
) -> None:
    """Apply pending schema migrations."""
    from callhook.receiver import load_config
    from callhook.store import head_revision, upgrade

    try:
        settings = load_config(config, database_url=db)
        upgrade(settings.database_url)
    except CallhookError as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"OK    database at revision {head_revision()}")


deliveries = typer.Typer(
    help="The delivery log and dead letters of the outbox.", no_args_is_help=True
)
app.add_typer(deliveries, name="deliveries")

_DB = typer.Option(
    "--db", help="Database URL (sqlite:///file or postgresql://...).", show_default=True
)


def _row(record: DeliveryRecord) -> str:
    code = "-" if record.last_status_code is None else str(record.last_status_code)
    when = datetime.fromtimestamp(record.created_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (
        f"{record.id:>7}  {record.status:<9} {record.attempts:>3}  {code:>4}  {when}  "
        f"{record.event_type:<19} {record.call_id} #{record.sequence}  {safe_url(record.url)}"
    )
    if record.last_error and record.status != "delivered":
        line += f"\n         {record.last_error}"
    return line


_HEADER = "     ID  STATUS    TRY  HTTP  CREATED               EVENT               CALL #SEQ  URL"


@deliveries.command("list")
def deliveries_list(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only dead letters (given-up events).")
    ] = False,
    call: Annotated[str | None, typer.Option("--call", help="Only this call id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    db: Annotated[str, _DB] = DEFAULT_URL,
) -> None:
    """List deliveries, newest first: status, attempts, last HTTP status and error."""
    try:
        engine = open_outbox(db)
        records = list_deliveries(engine, failed=failed, call_id=call, limit=limit)
    except CallhookError as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None
    engine.dispose()
    if not records:
        typer.echo("No failed deliveries." if failed else "No deliveries.")
        return
    typer.echo(_HEADER)
    for record in records:
        typer.echo(_row(record))


@deliveries.command("show")
def deliveries_show(
    delivery_id: Annotated[int, typer.Argument(metavar="ID", help="Delivery id (see list).")],
    db: Annotated[str, _DB] = DEFAULT_URL,
) -> None:
    """Show one delivery and every attempt: time, HTTP status, latency, outcome, error."""
    try:
        engine = open_outbox(db)
        records = list_deliveries(engine, ids=[delivery_id], limit=1)
        attempts = list_attempts(engine, delivery_id)
    except CallhookError as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None
    engine.dispose()
    if not records:
        typer.echo(
            f"ERROR No delivery with id {delivery_id}; see `callhook deliveries list`", err=True
        )
        raise typer.Exit(1)
    typer.echo(_HEADER)
    typer.echo(_row(records[0]))
    typer.echo(f"webhook-id {records[0].webhook_id}")
    for item in attempts:
        when = datetime.fromtimestamp(item.started_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        code = "-" if item.status_code is None else str(item.status_code)
        line = (
            f"  attempt {item.attempt:>2}  {when[:-4]}Z  {code:>4}  {item.latency_ms:8.1f} ms  "
            f"{item.outcome:<9} {safe_url(item.url)}"
        )
        typer.echo(line + (f"  {item.error}" if item.error else ""))


@deliveries.command("replay")
def deliveries_replay(
    ids: Annotated[
        list[int] | None, typer.Argument(metavar="[ID]...", help="Delivery ids (see list).")
    ] = None,
    call: Annotated[
        str | None, typer.Option("--call", help="Replay every dead letter of this call.")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Send to this URL instead.")] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to keep sending from this process.")
    ] = 30.0,
    db: Annotated[str, _DB] = DEFAULT_URL,
) -> None:
    """Send deliveries again (with a fresh retry window) after the endpoint is fixed.

    Prints each one's status afterwards; exits 1 unless all were delivered. Events still
    waiting for a retry stay in the outbox for the running service."""
    if not ids and call is None:
        typer.echo("ERROR give delivery ids or --call CALL_ID", err=True)
        raise typer.Exit(2)
    try:
        engine = open_outbox(db)
        records = asyncio.run(replay(engine, ids or (), call_id=call, to=to, wait=wait))
    except CallhookError as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None
    engine.dispose()
    if not records:
        typer.echo("Nothing to replay.")
        return
    typer.echo(_HEADER)
    for record in sorted(records, key=lambda r: r.id):
        typer.echo(_row(record))
    delivered = sum(1 for r in records if r.status == "delivered")
    typer.echo(f"{delivered} of {len(records)} delivered")
    if delivered < len(records):
        raise typer.Exit(1)


_PROFILE_HELP = "Simulation profile (TOML; see README). Default: the built-in one."


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
    profile: Annotated[Path | None, typer.Option(help=_PROFILE_HELP)] = None,
    secret: Annotated[str, typer.Option(help="Sent as x-interactly-secret.")] = "",
    outbox: Annotated[
        str, typer.Option(help="Database URL of the delivery outbox.")
    ] = "sqlite:///callhook-sim-outbox.sqlite3",
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
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(2) from None
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


@app.command()
def demo(
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    calls: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many calls (default: Ctrl-C).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in progress at once.")] = 4,
    speed: Annotated[float, typer.Option(min=0.001, help="Time compression.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Same seed, same calls.")] = 0,
    profile: Annotated[Path | None, typer.Option(help=_PROFILE_HELP)] = None,
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
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    """Entry point of the ``callhook`` console script."""
    app()
