"""The monotonic merge of a call's state: the result never depends on arrival order.

Every piece of state is chosen by a total order on what the events say, so that any
permutation of the same events (with duplicates) gives the same state:

- ``status``: the highest ``(lifecycle rank, event timestamp, status)``; the ranks are
  initiated < queued < ongoing < forwarded < finished = failed, and a status callhook does
  not know ranks below all of them (it never replaces a known one);
- each key of ``call``: the value from the newest event carrying a non-null value, ties
  broken by the value's bytes; a ``null`` only fills a key nothing else has filled;
- the assistant: the most complete object wins (most top-level keys), then the newest
  ``(timestamp, content)``, so that the end-of-call report's cut-down copy (``_id`` and
  ``name`` only) never replaces the full assistant the call's other events carried;
- the end-of-call report: the newest ``(timestamp, content)`` wins;
- ``first_ts`` / ``last_ts``: the minimum and maximum event timestamps.

An event older than the newest one seen is *late*: it may fill gaps but changes nothing newer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callhook.store._parse import Incoming

__all__ = ["NULL_TS", "STATUS_RANK", "CallState", "merge", "status_rank"]

STATUS_RANK: dict[str, int] = {
    "initiated": 0,
    "queued": 1,
    "ongoing": 2,
    "forwarded": 3,
    "finished": 4,
    "failed": 4,
}
#: The timestamp recorded for a key that only ever held ``null``.
NULL_TS = -(2**63)
#: The ordering timestamp of an event without ``message.timestamp``: older than any real one.
_NO_TS = -1


def status_rank(status: str) -> int:
    return STATUS_RANK.get(status, -1)


@dataclass(slots=True)
class CallState:
    """A call's merged state, as stored in one ``calls`` row."""

    call_id: str
    pk: int | None = None
    status: str | None = None
    status_rank: int = -1
    status_ts: int | None = None
    first_ts: int | None = None
    last_ts: int | None = None
    fields: dict[str, bytes] = field(default_factory=dict)
    field_ts: dict[str, int] = field(default_factory=dict)
    assistant_digest: str | None = None
    assistant_ts: int | None = None
    #: Top-level keys of the assistant ``assistant_digest`` names (not a column: read from
    #: the stored assistant when the state is loaded).
    assistant_keys: int = 0
    report: bytes | None = None
    report_ts: int | None = None
    message_count: int = 0
    hang_count: int = 0
    error_count: int = 0
    event_count: int = 0
    duplicate_count: int = 0
    #: ``assistant._id`` of an event, used when ``call.assistantId`` is absent.
    assistant_id_hint: str | None = None
    #: Each status seen, with the earliest event timestamp that reported it.
    history: dict[str, int] = field(default_factory=dict)
    #: When the latest event of this call was received (epoch ms).
    updated_at: int = 0

    @property
    def assistant_id(self) -> str | None:
        raw = self.fields.get("assistantId")
        if raw is None or raw[:1] != b'"' or raw == b'""' or b"\\" in raw:
            return self.assistant_id_hint
        return raw[1:-1].decode("utf-8", "replace").replace("\x00", "")


def merge(state: CallState, event: Incoming) -> bool:
    """Merge ``event`` into ``state`` in place; returns whether the event was late."""
    ts = event.ts if event.ts is not None else _NO_TS
    state.updated_at = max(state.updated_at, event.received_at)
    late = event.ts is not None and state.last_ts is not None and event.ts < state.last_ts
    if event.ts is not None:
        state.first_ts = event.ts if state.first_ts is None else min(state.first_ts, event.ts)
        state.last_ts = event.ts if state.last_ts is None else max(state.last_ts, event.ts)
    if event.status:
        rank = status_rank(event.status)
        current = (state.status_rank, _or(state.status_ts), state.status or "")
        if state.status is None or (rank, ts, event.status) > current:
            state.status, state.status_rank, state.status_ts = event.status, rank, ts
    fields, field_ts = state.fields, state.field_ts
    for key, value in event.call_fields.items():
        old = fields.get(key)
        if value == b"null":
            if old is None:
                fields[key], field_ts[key] = value, NULL_TS
        elif old is None or field_ts[key] == NULL_TS or (ts, value) > (field_ts[key], old):
            fields[key], field_ts[key] = value, ts
    if event.assistant_id and (
        state.assistant_id_hint is None or event.assistant_id < state.assistant_id_hint
    ):
        state.assistant_id_hint = event.assistant_id
    digest = event.assistant_digest
    if digest is not None and (
        state.assistant_digest is None
        or (event.assistant_keys, ts, digest)
        > (state.assistant_keys, _or(state.assistant_ts), state.assistant_digest)
    ):
        state.assistant_digest, state.assistant_ts = digest, ts
        state.assistant_keys = event.assistant_keys
    report = event.report
    if report is not None and (
        state.report is None or (ts, report) > (_or(state.report_ts), state.report)
    ):
        state.report, state.report_ts = report, ts
    return late


def _or(ts: int | None) -> int:
    return _NO_TS if ts is None else ts
