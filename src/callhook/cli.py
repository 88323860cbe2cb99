"""The ``callhook`` command. Each subcommand parses arguments and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from callhook import __version__
from callhook._exceptions import CallhookError, DecodeError
from callhook.events import EventType, decode, json_schema

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
    """Receive webhook events: store them and answer queries (migrates the database first)."""
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


def main() -> None:
    """Entry point of the ``callhook`` console script."""
    app()
