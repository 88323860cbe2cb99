"""Delivery: events reach each assistant's server durably, signed, retried, in order per call.

``Dispatcher`` is the engine's event sink; ``ServerConfig`` checks an ``assistantServer``;
``RetryPolicy`` says when to try again; the outbox tables live on ``METADATA``.
"""

from callhook._exceptions import DeliveryConfigError, DeliveryError
from callhook.delivery._admin import (
    DELIVERY_COLUMNS,
    AttemptRecord,
    DeliveryRecord,
    OutboxStats,
    list_attempts,
    list_deliveries,
    outbox_stats,
)
from callhook.delivery._clock import Clock, SystemClock
from callhook.delivery._config import DEFAULT_TIMEOUT_SECONDS, ServerConfig
from callhook.delivery._dispatcher import Dispatcher
from callhook.delivery._driver import Placeholders
from callhook.delivery._enqueue import Enqueuer
from callhook.delivery._payload import REDACTED, encode_body, safe_url
from callhook.delivery._policy import (
    DEFAULT_SCHEDULE,
    Outcome,
    RetryPolicy,
    classify,
    parse_retry_after,
)
from callhook.delivery._replay import open_outbox, replay
from callhook.delivery._requeue import requeue
from callhook.delivery._resolve import ServerResolver, servers_by_assistant
from callhook.delivery._rows import NewRow
from callhook.delivery._signing import ATTEMPT_HEADER, SECRET_HEADER, SEQUENCE_HEADER
from callhook.delivery._tables import METADATA, create_outbox_tables, drop_outbox_tables
from callhook.delivery._transport import AiohttpTransport, Reply, SendFailure, Transport

__all__ = [
    "ATTEMPT_HEADER",
    "DEFAULT_SCHEDULE",
    "DEFAULT_TIMEOUT_SECONDS",
    "DELIVERY_COLUMNS",
    "METADATA",
    "REDACTED",
    "SECRET_HEADER",
    "SEQUENCE_HEADER",
    "AiohttpTransport",
    "AttemptRecord",
    "Clock",
    "DeliveryConfigError",
    "DeliveryError",
    "DeliveryRecord",
    "Dispatcher",
    "Enqueuer",
    "NewRow",
    "OutboxStats",
    "Outcome",
    "Placeholders",
    "Reply",
    "RetryPolicy",
    "SendFailure",
    "ServerConfig",
    "ServerResolver",
    "SystemClock",
    "Transport",
    "classify",
    "create_outbox_tables",
    "drop_outbox_tables",
    "encode_body",
    "list_attempts",
    "list_deliveries",
    "open_outbox",
    "outbox_stats",
    "parse_retry_after",
    "replay",
    "requeue",
    "safe_url",
    "servers_by_assistant",
]
