"""``callhook validate`` and ``callhook schema``: webhook payloads and their JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from callhook._exceptions import DecodeError
from callhook.cli._app import app
from callhook.events import EventType, decode, json_schema


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
