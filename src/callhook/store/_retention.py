"""Retention: removing what is older than allowed, in small transactions.

Four horizons, each optional: whole calls (every row of a call whose last event arrived
before the cutoff, through ``remove_calls``), event bodies (the kept bodies of individual
events, and whole unattributed events), resolved alerts, and finished deliveries (the
outbox rows delivered or given up, with their attempts: the relay keeps each forwarded body
until then). A ``Purger`` does the work one
small batch per transaction (``step``), so that a purge never holds the database long: the
receiver's background task and ``callhook db purge`` both loop over ``step`` until it
reports that nothing is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    column,
    delete,
    func,
    select,
    table,
    update,
)

from callhook.store._engine import write_transaction
from callhook.store._erasure import Erased, remove_calls
from callhook.store._monitoring import monitor_alerts
from callhook.store._schema import arrivals, calls, unattributed

__all__ = ["DAY_MS", "Cutoffs", "PurgeStep", "Purger", "purge"]

DAY_MS = 86_400_000
# The outbox lives in this database but callhook.delivery defines it (it depends on this
# package): name only what is needed here. Times there are unix seconds.
_outbox = table("callhook_delivery_outbox", column("id"), column("status"), column("finished_at"))
_attempts = table("callhook_delivery_attempts", column("outbox_id"))
#: Calls are found through their first event's timestamp (indexed), then confirmed by the
#: receiver-clock time of their last event: a sender clock up to this far ahead still purges.
_SKEW_MS = DAY_MS


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Epoch-ms cutoffs: what arrived before each is removed; ``None`` keeps it forever."""

    #: Calls whose last event arrived before this.
    calls: int | None = None
    #: Event bodies (``arrivals.body``) and unattributed events received before this.
    event_bodies: int | None = None
    #: Resolved alerts last updated before this.
    alerts: int | None = None
    #: Deliveries (outbox rows) delivered or given up before this.
    deliveries: int | None = None

    @classmethod
    def from_days(
        cls,
        now_ms: int,
        *,
        calls_days: float | None = None,
        event_bodies_days: float | None = None,
        alerts_days: float | None = None,
        deliveries_days: float | None = None,
    ) -> Cutoffs:
        def cut(days: float | None) -> int | None:
            return None if days is None else now_ms - int(days * DAY_MS)

        return cls(cut(calls_days), cut(event_bodies_days), cut(alerts_days), cut(deliveries_days))

    @classmethod
    def before(cls, cutoff_ms: int) -> Cutoffs:
        """Everything received before one date (``callhook db purge --before``)."""
        return cls(cutoff_ms, cutoff_ms, cutoff_ms, cutoff_ms)


@dataclass(slots=True)
class PurgeStep:
    """What one ``Purger.step`` removed; ``done`` once nothing older than the cutoffs is left."""

    done: bool
    removed: Erased = field(default_factory=Erased)
    bodies_trimmed: int = 0
    unattributed: int = 0
    alerts: int = 0
    deliveries: int = 0

    @property
    def rows(self) -> int:
        return (
            sum(self.removed.rows.values())
            + self.bodies_trimmed
            + self.unattributed
            + self.alerts
            + self.deliveries
        )


class Purger:
    """Removes what is older than ``cutoffs``, ``batch`` calls (or rows) per ``step``.

    Each ``step`` runs in the caller's transaction and does one kind of work: calls first,
    then event bodies, unattributed events and resolved alerts. Keep one ``Purger`` per pass:
    it remembers how far it has gone. The event-body walk goes by ``arrivals.pk`` (the order
    of arrival); ``body_after`` resumes it where an earlier pass stopped (``body_position``),
    so that passes do not walk the whole history again.
    """

    def __init__(self, cutoffs: Cutoffs, *, batch: int = 100, body_after: int = 0) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.cutoffs = cutoffs
        self.batch = batch
        self._body_pk = body_after
        self._phases = [
            phase
            for phase, cutoff in (
                (self._calls, cutoffs.calls),
                (self._bodies, cutoffs.event_bodies),
                (self._unattributed, cutoffs.event_bodies),
                (self._alerts, cutoffs.alerts),
                (self._deliveries, cutoffs.deliveries),
            )
            if cutoff is not None
        ]

    @property
    def body_position(self) -> int:
        """The last ``arrivals.pk`` whose body the walk has dealt with."""
        return self._body_pk

    def step(self, conn: Connection) -> PurgeStep:
        """One batch of work in ``conn``'s transaction."""
        if not self._phases:
            return PurgeStep(done=True)
        step = PurgeStep(done=False)
        if self._phases[0](conn, step):
            self._phases.pop(0)
        return step

    # Each phase does one batch into ``step`` and says whether it has finished.

    def _calls(self, conn: Connection, step: PurgeStep) -> bool:
        cutoff = self.cutoffs.calls
        assert cutoff is not None
        pks = [
            pk
            for (pk,) in conn.execute(
                select(calls.c.pk)
                .where(calls.c.first_ts < cutoff + _SKEW_MS, calls.c.updated_at < cutoff)
                .order_by(calls.c.first_ts)
                .limit(self.batch)
            )
        ]
        if len(pks) < self.batch:  # calls whose events carried no timestamp
            pks += [
                pk
                for (pk,) in conn.execute(
                    select(calls.c.pk)
                    .where(calls.c.first_ts.is_(None), calls.c.updated_at < cutoff)
                    .limit(self.batch - len(pks))
                )
            ]
        step.removed = remove_calls(conn, pks)
        return len(pks) < self.batch

    def _bodies(self, conn: Connection, step: PurgeStep) -> bool:
        """Drop the kept bodies of the next arrivals (by pk) received before the cutoff; the
        walk ends at the first arrival received after it."""
        cutoff = self.cutoffs.event_bodies
        assert cutoff is not None
        window = (
            select(arrivals.c.pk, arrivals.c.received_at)
            .where(arrivals.c.pk > self._body_pk)
            .order_by(arrivals.c.pk)
            .limit(self.batch * 10)
            .subquery()
        )
        last, newer = conn.execute(
            select(
                func.max(window.c.pk),
                func.min(window.c.pk).filter(window.c.received_at >= cutoff),
            )
        ).one()
        if last is None:
            return True
        upper = last if newer is None else newer - 1
        step.bodies_trimmed = conn.execute(
            update(arrivals)
            .where(
                arrivals.c.pk > self._body_pk,
                arrivals.c.pk <= upper,
                arrivals.c.received_at < cutoff,
                arrivals.c.body.is_not(None),
            )
            .values(body=None)
        ).rowcount
        self._body_pk = upper
        return newer is not None

    def _unattributed(self, conn: Connection, step: PurgeStep) -> bool:
        cutoff = self.cutoffs.event_bodies
        assert cutoff is not None
        old = select(unattributed.c.pk).where(unattributed.c.received_at < cutoff)
        step.unattributed = _delete_some(conn, unattributed, old, self.batch)
        return step.unattributed < self.batch

    def _alerts(self, conn: Connection, step: PurgeStep) -> bool:
        cutoff = self.cutoffs.alerts
        assert cutoff is not None
        old = select(monitor_alerts.c.pk).where(
            monitor_alerts.c.state == "resolved", monitor_alerts.c.updated_at < cutoff
        )
        step.alerts = _delete_some(conn, monitor_alerts, old, self.batch)
        return step.alerts < self.batch

    def _deliveries(self, conn: Connection, step: PurgeStep) -> bool:
        cutoff = self.cutoffs.deliveries
        assert cutoff is not None
        chosen = [
            row_id
            for (row_id,) in conn.execute(
                select(_outbox.c.id)
                .where(
                    _outbox.c.status.in_(("delivered", "dead")),
                    _outbox.c.finished_at < cutoff / 1000,
                )
                .limit(self.batch)
            )
        ]
        if chosen:
            conn.execute(delete(_attempts).where(_attempts.c.outbox_id.in_(chosen)))
            step.deliveries = conn.execute(delete(_outbox).where(_outbox.c.id.in_(chosen))).rowcount
        return len(chosen) < self.batch


def _delete_some(conn: Connection, target: Table, old: Select[tuple[int]], limit: int) -> int:
    """Delete up to ``limit`` rows of ``target`` whose ``pk`` the query ``old`` selects."""
    chosen = [pk for (pk,) in conn.execute(old.limit(limit))]
    if not chosen:
        return 0
    return conn.execute(delete(target).where(target.c.pk.in_(chosen))).rowcount


def purge(
    engine: Engine,
    cutoffs: Cutoffs,
    *,
    batch: int = 100,
    progress: Callable[[PurgeStep], None] | None = None,
) -> PurgeStep:
    """Run a whole pass now, each step in a transaction of its own; the totals.

    For ``callhook db purge`` and scripts; a running receiver paces its own passes
    (``RetentionTask``). ``progress`` is told of each step."""
    purger = Purger(cutoffs, batch=batch)
    total = PurgeStep(done=True)
    while True:
        with write_transaction(engine) as conn:
            step = purger.step(conn)
        if step.done:
            return total
        total.removed.calls += step.removed.calls
        for name, count in step.removed.rows.items():
            total.removed.add(name, count)
        total.bodies_trimmed += step.bodies_trimmed
        total.unattributed += step.unattributed
        total.alerts += step.alerts
        total.deliveries += step.deliveries
        if progress is not None:
            progress(step)
