"""``callhook db purge | erase | erasures`` and ``callhook export``: retention, erasure and
export of the receiver's data (docs/governance.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from callhook._exceptions import CallhookError, ConfigError
from callhook.cli._app import CONFIG_HELP, DB_HELP, app, fail
from callhook.cli._db import db_app

_WHEN = "a date (2026-01-31, UTC), an ISO-8601 time, or epoch milliseconds"


def parse_when(text: str, option: str) -> int:
    """Epoch milliseconds of ``text``; a ``ConfigError`` naming ``option`` otherwise."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not {_WHEN}", setting=option) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@db_app.command("purge")
def db_purge(
    before: Annotated[
        str | None,
        typer.Option(
            "--before", help=f"Remove what arrived before this: {_WHEN}. Default: [retention]."
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Calls per transaction.")] = 100,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Remove old calls (every row of them), event bodies, resolved alerts and finished
    deliveries now.

    With --before, everything received before that time; without it, what the [retention]
    section of the config file says.
    """
    from callhook.receiver import load_config
    from callhook.store import Cutoffs, make_engine, purge

    try:
        settings = load_config(config, database_url=db)
        if before is not None:
            cutoffs = Cutoffs.before(parse_when(before, "--before"))
        elif settings.retention.enabled:
            cutoffs = settings.retention.cutoffs(int(datetime.now(tz=UTC).timestamp() * 1000))
        else:
            raise ConfigError(
                "Nothing to purge: give --before DATE, or calls_days / event_bodies_days / "
                "alerts_days / deliveries_days under [retention] in the --config file",
                setting="retention",
            )
        engine = make_engine(settings.database_url)
        try:
            total = purge(engine, cutoffs, batch=batch)
        finally:
            engine.dispose()
    except CallhookError as exc:
        fail(exc)
    typer.echo(
        f"OK    purged {total.removed.calls} calls ({sum(total.removed.rows.values())} rows), "
        f"{total.bodies_trimmed} event bodies, {total.unattributed} unattributed events, "
        f"{total.alerts} alerts, {total.deliveries} finished deliveries"
    )


@db_app.command("erase")
def db_erase(
    call: Annotated[
        list[str] | None, typer.Option("--call", help="A call id (repeat for several).")
    ] = None,
    user_number: Annotated[
        str | None,
        typer.Option("--user-number", help="Every call of this caller (call.userNumber)."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="The request's reference, for the audit.")
    ] = None,
    actor: Annotated[str, typer.Option("--actor", help="Who asked, for the audit.")] = "cli",
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Erase calls, or a caller, from every table, and record the erasure.

    With [redaction] numbers = "hash", give the number as the caller knows it: the same
    key (--config, CALLHOOK_REDACTION_KEY) finds the hashed calls.
    """
    from callhook.receiver import load_config
    from callhook.store import erase_calls, erase_user_number, make_engine, write_transaction

    if bool(call) == (user_number is not None):
        typer.echo("ERROR give either --call ID (repeatable) or --user-number NUMBER", err=True)
        raise typer.Exit(2)
    try:
        settings = load_config(config, database_url=db)
        numbers = [user_number] if user_number is not None else []
        if user_number is not None and settings.redaction.enabled:
            from callhook.redaction import NumberMode, Redactor

            numbers = Redactor(settings.redaction).stored_forms(user_number)
            if settings.redaction.numbers is NumberMode.MASK:
                typer.echo(
                    "WARN  numbers are masked under [redaction]: only calls stored before "
                    "masking can be found by number; erase masked calls with --call",
                    err=True,
                )
        engine = make_engine(settings.database_url)
        try:
            with write_transaction(engine) as conn:
                if call:
                    erased = erase_calls(conn, call, actor=actor, reference=reference)
                else:
                    erased = erase_user_number(conn, numbers, actor=actor, reference=reference)
        finally:
            engine.dispose()
    except CallhookError as exc:
        fail(exc)
    rows = ", ".join(f"{name} {count}" for name, count in sorted(erased.rows.items()))
    typer.echo(f"OK    erased {erased.calls} calls ({rows or 'no rows'}); audit #{erased.audit_id}")


@db_app.command("erasures")
def db_erasures(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """List the erasure audit records, newest first."""
    from callhook.receiver import load_config
    from callhook.store import list_erasures, make_engine

    try:
        settings = load_config(config, database_url=db)
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                records = list_erasures(conn, limit)
        finally:
            engine.dispose()
    except CallhookError as exc:
        fail(exc)
    for record in records:
        at = record["at"]
        when = datetime.fromtimestamp(float(str(at)) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        typer.echo(
            f"#{record['id']}  {when}  {record['subject']:<11}  calls {record['calls']}  "
            f"by {record['actor']}  ref {record['reference'] or '-'}  rows {record['rows']}"
        )


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the files (one per table).")],
    form: Annotated[
        str, typer.Option("--format", help="jsonl, csv or parquet (needs callhook[export]).")
    ] = "jsonl",
    since: Annotated[
        str | None, typer.Option("--since", help=f"Calls first seen at or after: {_WHEN}.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help=f"Calls first seen before: {_WHEN}.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Export calls, messages with their metrics, hangs and errors for analytics."""
    from rich.console import Console
    from rich.progress import Progress

    from callhook.export import Format, count_calls, export
    from callhook.receiver import load_config
    from callhook.store import make_engine

    try:
        try:
            chosen = Format(form)
        except ValueError:
            raise ConfigError(
                f"--format {form!r}: use jsonl, csv or parquet", setting="--format"
            ) from None
        start = parse_when(since, "--since") if since is not None else None
        end = parse_when(until, "--until") if until is not None else None
        settings = load_config(config, database_url=db)
        engine = make_engine(settings.database_url)
        try:
            total = count_calls(engine, start, end)
            console = Console(stderr=True)
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("exporting calls", total=total)
                result = export(
                    engine,
                    out,
                    form=chosen,
                    since=start,
                    until=end,
                    progress=lambda n: bar.advance(task, n),
                )
        finally:
            engine.dispose()
    except (CallhookError, FileExistsError, ImportError) as exc:
        typer.echo(f"ERROR {exc}", err=True)
        raise typer.Exit(1) from None
    for name, path in result.files.items():
        typer.echo(f"OK    {path}  {result.rows[name]} rows")
