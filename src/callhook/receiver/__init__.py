"""The receiver: an ASGI app that ingests call webhooks and answers queries about them.

``create_app(config)`` builds it; ``serve(config)`` runs it under uvicorn; ``load_config``
reads a TOML file, the environment and overrides into a ``ReceiverConfig``.
"""

from callhook.receiver._app import ReceiverApp, create_app
from callhook.receiver._auth import AuthMiddleware
from callhook.receiver._config import AuthMode, PlatformEndpoint, ReceiverConfig, load_config
from callhook.receiver._ingest import IngestListener
from callhook.receiver._limits import LimitsMiddleware
from callhook.receiver._live import LiveBus
from callhook.receiver._metrics import ReceiverMetrics
from callhook.receiver._retention import RetentionConfig, RetentionTask
from callhook.receiver._serve import serve

__all__ = [
    "AuthMiddleware",
    "AuthMode",
    "IngestListener",
    "LimitsMiddleware",
    "LiveBus",
    "PlatformEndpoint",
    "ReceiverApp",
    "ReceiverConfig",
    "ReceiverMetrics",
    "RetentionConfig",
    "RetentionTask",
    "create_app",
    "load_config",
    "serve",
]
