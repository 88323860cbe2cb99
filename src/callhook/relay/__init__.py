"""Relay: ``callhook serve`` forwards what it stores to the customer's own apps.

Point the platform at ``serve``, point ``serve`` at your app (``[[forward]]`` or
``--forward URL``): each stored event is queued in the ingest's own transaction
(``Relay``, the store's commit hook) and delivered by callhook's dispatcher, signed,
retried and in order per call (docs/relay.md).
"""

from callhook.relay._child import run_dispatcher
from callhook.relay._config import MESSAGES_HEADER, ForwardTarget, RelayConfig
from callhook.relay._hook import Relay, only_new_messages
from callhook.relay._process import DispatcherProcess, DispatcherProcessError

__all__ = [
    "MESSAGES_HEADER",
    "DispatcherProcess",
    "DispatcherProcessError",
    "ForwardTarget",
    "Relay",
    "RelayConfig",
    "only_new_messages",
    "run_dispatcher",
]
