"""``serve``: run the receiver under uvicorn (httptools with read timeouts; uvloop when
available)."""

from __future__ import annotations

import importlib.util
import logging
import socket
from types import FrameType

import uvicorn

from callhook.receiver._app import ReceiverApp, create_app
from callhook.receiver._config import ReceiverConfig
from callhook.receiver._timeouts import timed_protocol
from callhook.store import upgrade

__all__ = ["run_server", "serve"]

logger = logging.getLogger("callhook.receiver")


def serve(config: ReceiverConfig) -> None:
    """Check the configuration, migrate the database, and serve until interrupted (with
    ``config.workers`` processes when more than one, see ``_workers.py``)."""
    config.check()
    upgrade(config.database_url)
    logger.info(
        "receiver.serving %s:%s auth=%s workers=%s",
        config.host,
        config.port,
        config.auth.value,
        config.workers,
    )
    if config.workers > 1:
        from callhook.receiver._workers import serve_workers

        serve_workers(config)
        return
    run_server(config, create_app(config))


def run_server(
    config: ReceiverConfig, app: ReceiverApp, *, sockets: list[socket.socket] | None = None
) -> None:
    """Run ``app`` under uvicorn on ``config``'s address, or on ``sockets`` already bound."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    server = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            loop=loop,
            http=timed_protocol(config.header_timeout, config.body_timeout),
            lifespan="on",
            access_log=False,
            log_level=config.log_level,
            # The command line set up logging (config.log_format): uvicorn's records go there.
            log_config=None if config.log_format else uvicorn.config.LOGGING_CONFIG,
            timeout_graceful_shutdown=10,
        ),
        app,
    )
    server.run(sockets=sockets)


class _Server(uvicorn.Server):
    """Ends the dashboard's live streams as soon as shutdown starts, so open streams do not
    hold the graceful shutdown for its whole timeout."""

    def __init__(self, config: uvicorn.Config, app: ReceiverApp) -> None:
        super().__init__(config)
        self.receiver = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.receiver.live.close_soon()
