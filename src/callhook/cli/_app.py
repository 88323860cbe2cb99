"""The root ``callhook`` Typer app, ``--version``, and the options several command groups share."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from callhook import __version__
from callhook._exceptions import CallhookError

app = typer.Typer(
    name="callhook",
    help="Call webhooks for voice-AI assistants: emit, deliver and receive Interactly events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DB_HELP = "Database URL: sqlite:///file.sqlite3 (default ./callhook.sqlite3) or postgresql://..."
CONFIG_HELP = "TOML config file (see docs/configuration.md)."
PROFILE_HELP = "Simulation profile (TOML; see docs/configuration.md). Default: the built-in one."


def fail(exc: CallhookError, code: int = 1) -> NoReturn:
    """Print ``ERROR <message>`` on standard error and exit with ``code``."""
    typer.echo(f"ERROR {exc}", err=True)
    raise typer.Exit(code) from None


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
