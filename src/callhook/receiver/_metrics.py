"""Prometheus metrics of one receiver app, on a registry of its own (no global state)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["ReceiverMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ReceiverMetrics:
    """Events by type and outcome, duplicates, late events, new messages, ingest latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "callhook_events",
            "Webhook events received, by event type and outcome "
            "(stored, duplicate, unattributed, or the rejection code)",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "callhook_duplicate_events",
            "Re-deliveries of an already stored event",
            registry=self.registry,
        )
        self.late = Counter(
            "callhook_late_events",
            "Events older than the newest one seen for their call",
            registry=self.registry,
        )
        self.new_messages = Counter(
            "callhook_new_messages", "Messages stored for the first time", registry=self.registry
        )
        self.latency = Histogram(
            "callhook_ingest_seconds",
            "Time from reading the request body to the committed answer",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], Counter] = {}
        #: Run (awaited) before each scrape's render: collectors that read the database.
        self.refreshers: list[Callable[[], Awaitable[None]]] = []

    async def refresh(self) -> None:
        for refresher in self.refreshers:
            await refresher()

    def count_event(self, event_type: str, outcome: str) -> None:
        """Count one event (children are cached: ``labels`` is slow on the hot path)."""
        key = (event_type, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.events.labels(event_type, outcome)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
