"""``serve``: run the receiver under uvicorn (httptools with read timeouts; uvloop when
available)."""

from __future__ import annotations

import importlib.util
import logging
from types import FrameType

import uvicorn

from callhook.receiver._app import ReceiverApp, create_app
from callhook.receiver._config import ReceiverConfig
from callhook.receiver._timeouts import timed_protocol
from callhook.store import upgrade

__all__ = ["serve"]

logger = logging.getLogger("callhook.receiver")


def serve(config: ReceiverConfig) -> None:
    """Check the configuration, migrate the database, and serve until interrupted."""
    config.check()
    upgrade(config.database_url)
    app = create_app(config)
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    logger.info("receiver.serving %s:%s auth=%s", config.host, config.port, config.auth.value)
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
    server.run()


class _Server(uvicorn.Server):
    """Ends the dashboard's live streams as soon as shutdown starts, so open streams do not
    hold the graceful shutdown for its whole timeout."""

    def __init__(self, config: uvicorn.Config, app: ReceiverApp) -> None:
        super().__init__(config)
        self.receiver = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.receiver.live.close_soon()
