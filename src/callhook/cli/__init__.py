"""The ``callhook`` command. Each subcommand parses arguments and calls the library.

One module per command group, each registering its commands on the shared :data:`app`:

- ``_payloads``: ``validate`` and ``schema`` (webhook payloads and their JSON Schema);
- ``_serve``: ``serve`` (the receiver) and ``demo`` (serve plus simulated calls);
- ``_deliver``: ``deliver`` (dispatcher processes alone, for the relay's queued events);
- ``_simulate``: ``simulate`` (calls through real sessions and durable delivery);
- ``_db``: ``db upgrade`` (the receiver's database);
- ``_governance``: ``db purge | erase | erasures`` and ``export`` (retention, erasure, export);
- ``_deliveries``: ``deliveries list | show | replay`` (the outbox's log and dead letters).
"""

from __future__ import annotations

from callhook.cli import (
    _db,
    _deliver,
    _deliveries,
    _governance,
    _payloads,
    _serve,
    _simulate,
)
from callhook.cli._app import app

__all__ = ["app", "main"]

# Imported for their side effect: each module registers its commands on `app`, in this order
# (the order `callhook --help` lists them in).
_COMMAND_GROUPS = (_payloads, _serve, _deliver, _db, _governance, _deliveries, _simulate)


def main() -> None:
    """Entry point of the ``callhook`` console script."""
    app()
