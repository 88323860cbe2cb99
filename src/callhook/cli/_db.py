"""``callhook db``: manage the receiver's database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callhook._exceptions import CallhookError
from callhook.cli._app import CONFIG_HELP, DB_HELP, app, fail

db_app = typer.Typer(help="Manage the receiver's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Apply pending schema migrations."""
    from callhook.receiver import load_config
    from callhook.store import head_revision, upgrade

    try:
        settings = load_config(config, database_url=db)
        upgrade(settings.database_url)
    except CallhookError as exc:
        fail(exc)
    typer.echo(f"OK    database at revision {head_revision()}")
