"""``/metrics`` for the relay's outbox, read from the database at each scrape.

Per target (its URL as ``safe_url`` shows it): rows by state (``pending``: never attempted,
``retrying``, ``dead``), the backlog (pending and retrying) and the age of its oldest pending
row. One grouped query on ``ix_callhook_delivery_outbox_state`` (``target_states``): its cost
follows the backlog and the dead letters, not the delivered rows, which are not counted here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from callhook.receiver._delivery_summary import TargetState, target_states
from callhook.receiver._metrics import ReceiverMetrics
from callhook.store import Store

__all__ = ["DeliveryCollector", "register_delivery_metrics"]

logger = logging.getLogger("callhook.receiver")


class DeliveryCollector:
    """Yields the figures of the last ``refresh`` (the ``/metrics`` route refreshes first:
    a collector's ``collect`` runs on the event loop and must not wait for the database)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._states: dict[str, TargetState] = {}
        self._now = 0.0

    async def refresh(self) -> None:
        try:
            self._states = await self.store.read(target_states)
        except SQLAlchemyError as exc:  # a scrape still answers, without these figures
            logger.warning("receiver.delivery_metrics_failed error=%s", type(exc).__name__)
            self._states = {}
        self._now = time.time()

    def describe(self) -> list[Metric]:
        return []  # which series exist depends on the targets in the outbox

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "callhook_delivery_rows",
            "Outbox rows to act on, by target and state (pending: not attempted yet; "
            "retrying: pending after a failed attempt; dead: given up)",
            labels=["target", "status"],
        )
        backlog = GaugeMetricFamily(
            "callhook_delivery_backlog",
            "Outbox rows waiting to be delivered (pending and retrying), by target",
            labels=["target"],
        )
        oldest = GaugeMetricFamily(
            "callhook_delivery_oldest_pending_seconds",
            "Age of the oldest row waiting to be delivered, by target (0 when none waits)",
            labels=["target"],
        )
        for target, state in sorted(self._states.items()):
            for status, count in (
                ("pending", state.pending),
                ("retrying", state.retrying),
                ("dead", state.dead),
            ):
                rows.add_metric([target, status], count)
            backlog.add_metric([target], state.backlog)
            age = 0.0 if state.oldest_pending is None else self._now - state.oldest_pending
            oldest.add_metric([target], max(0.0, age))
        yield rows
        yield backlog
        yield oldest


def register_delivery_metrics(metrics: ReceiverMetrics, store: Store) -> None:
    """Add the outbox's figures to ``metrics``, refreshed before each render."""
    collector = DeliveryCollector(store)
    metrics.registry.register(collector)
    metrics.refreshers.append(collector.refresh)
