"""``callhook deliveries``: the delivery log and dead letters of the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from callhook._exceptions import CallhookError
from callhook.cli._app import app, fail
from callhook.delivery import (
    DeliveryRecord,
    list_attempts,
    list_deliveries,
    open_outbox,
    replay,
    safe_url,
)
from callhook.store import DEFAULT_URL

deliveries = typer.Typer(
    help="The delivery log and dead letters of the outbox.", no_args_is_help=True
)
app.add_typer(deliveries, name="deliveries")

_DB = typer.Option(
    "--db", help="Database URL (sqlite:///file or postgresql://...).", show_default=True
)

_HEADER = "     ID  STATUS    TRY  HTTP  CREATED               EVENT               CALL #SEQ  URL"


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
        fail(exc)
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
        fail(exc)
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
        fail(exc)
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
