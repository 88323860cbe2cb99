"""One group commit's work in memory: each event merged into its call, and the rows to write.

``apply_event`` decides what an event is (a re-delivery, a new event, an event without a
call), validates and decodes only the messages its call has not stored, merges the call's
state (``_merge``) and appends the rows; ``Writer`` then writes each table's rows with one
statement (``_sql.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from callhook.events import (
    EventType,
    HangMetrics,
    Message,
    MessageMetrics,
    decode_message,
    parse_message_id,
)
from callhook.store._blob import pack
from callhook.store._merge import CallState, merge, status_rank
from callhook.store._parse import Incoming, check_depth, compact
from callhook.store._schema import EVENT_CODES
from callhook.store._sql import Row
from callhook.store._statements import Rare

__all__ = ["Batch", "KnownCall", "Outcome", "apply_event"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the store did with one event: ``stored``, ``duplicate`` or ``unattributed``."""

    outcome: str
    call_id: str | None
    new_messages: int = 0
    late: bool = False
    #: The messageIds of the new messages, in the event's order; for a conversation-update,
    #: also those it is the first conversation-update to carry (stored from a hang, an
    #: error or the report before). Not compared: a detail of ``new_messages``.
    new_ids: tuple[str, ...] = field(default=(), compare=False)


@dataclass(slots=True)
class KnownCall:
    """A call as the writer knows it: state, stored messageIds and digests, row version."""

    state: CallState
    version: int
    message_ids: set[str] = field(default_factory=set)
    #: Stored messages no conversation-update has carried yet (``messages.in_update``).
    uncarried: set[str] = field(default_factory=set)
    digests: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Batch:
    """The rows of one group commit, by table, and the calls it changed."""

    messages: list[Row] = field(default_factory=list)
    arrivals: list[Row] = field(default_factory=list)
    duplicates: list[Row] = field(default_factory=list)
    #: ``(call_pk, message_id)`` of stored messages a conversation-update now carries.
    carried: list[Row] = field(default_factory=list)
    rare: Rare = field(default_factory=Rare)
    dirty: dict[str, KnownCall] = field(default_factory=dict)


#: ``(call_id, item) -> (call, created)``: the call, created if needed (see ``Writer``).
Create = Callable[[str, Incoming], tuple[KnownCall, bool]]
#: A message's row without its call's pk: ``MESSAGE_COLUMNS[1:]``.
_Pending = tuple[str, int, int | None, str | None, bytes, str | None, int | None]


def apply_event(
    item: Incoming,
    known: dict[str, KnownCall],
    batch: Batch,
    *,
    create: Create,
    assistants: set[str],
    max_depth: int,
) -> Outcome:
    """Merge ``item`` into its call (in ``known``) and append its rows to ``batch``.

    Raises ``DecodeError`` when a message the call has not stored is invalid; nothing of the
    event is applied then (its call is created only once its messages are valid).
    """
    call_id = item.call_id
    if call_id is None:
        batch.rare.add_unattributed(item)
        return Outcome("unattributed", None)
    call = known.get(call_id)
    pending: list[_Pending] | None = None
    if call is None:
        pending = _new_messages(item, set(), max_depth)  # validated before the call exists
        call, created = create(call_id, item)
        known[call_id] = call
        if not created:  # another process created it meanwhile: judge against theirs
            pending = None
    state = call.state
    if item.digest in call.digests:
        batch.duplicates.append((item.received_at, state.pk, item.digest))
        state.duplicate_count += 1
        state.updated_at = max(state.updated_at, item.received_at)
        batch.dirty[call_id] = call
        return Outcome("duplicate", call_id)
    if pending is None:
        pending = _new_messages(item, call.message_ids, max_depth)
    pk = state.pk
    late = merge(state, item)
    call.digests.add(item.digest)
    recovery = item.type is EventType.HANG
    update = item.type is EventType.CONVERSATION_UPDATE
    carried = _carried(item, call, pk, batch) if update and call.uncarried else ()
    for row in pending:
        call.message_ids.add(row[0])
        batch.messages.append((pk, *row, update))
        if not update:
            call.uncarried.add(row[0])
        recovery = recovery or row[5] is not None
    if recovery:
        batch.rare.recoveries.add(pk)
    state.message_count += len(pending)
    state.event_count += 1
    batch.dirty[call_id] = call
    batch.arrivals.append(
        (
            pk,
            item.digest,
            EVENT_CODES[item.type.value],
            item.ts,
            item.received_at,
            item.received_at,
            0,
            late,
            len(pending),
            len(item.messages or ()),
            pack(item.body) if item.body is not None else None,
            item.assistant_digest,
        )
    )
    if item.status:
        _status(item, item.status, state, batch)
    if item.assistant_digest and item.assistant_digest not in assistants:
        batch.rare.add_assistant(item)
    if item.type is EventType.HANG:
        batch.rare.add_hang(item, state)
    elif item.type is EventType.ERROR:
        batch.rare.add_error(item, state)
    new_ids = tuple(row[0] for row in pending)
    return Outcome("stored", call_id, len(pending), late, new_ids + carried if carried else new_ids)


def _carried(item: Incoming, call: KnownCall, pk: int | None, batch: Batch) -> tuple[str, ...]:
    """The stored messages that a conversation-update carries for the first time (they came
    in a hang, an error or the report before): marked carried, their ids returned."""
    found = []
    for message in item.messages or ():
        message_id = message.message_id
        if message_id in call.uncarried:
            call.uncarried.discard(message_id)
            batch.carried.append((pk, message_id))
            found.append(message_id)
    return tuple(found)


def _status(item: Incoming, status: str, state: CallState, batch: Batch) -> None:
    """Record the status in the call's history when this event is its earliest report."""
    ts = item.ts if item.ts is not None else 0
    first = state.history.get(status)
    if first is None or ts < first:
        state.history[status] = ts
        batch.rare.history.append(
            {
                "call_pk": state.pk,
                "status": status,
                "rank": status_rank(status),
                "first_ts": ts,
                "received_at": item.received_at,
            }
        )


def _new_messages(item: Incoming, known: set[str], max_depth: int) -> list[_Pending]:
    """The rows of the messages not in ``known`` (each validated and decoded once)."""
    rows: list[_Pending] = []
    messages = item.messages
    if not messages:
        return rows
    taken: set[str] = set()
    for position, message in enumerate(messages):
        message_id = message.message_id
        if message_id in known or message_id in taken:
            continue
        path = f"$.message.messages[{position}]"
        check_depth(message.raw, max_depth - 3, path)
        decoded = decode_message(message.raw, path=path)
        ts, role = decoded.timestamp, decoded.role
        reply_to, waited = _late_response(message_id, decoded)
        taken.add(message_id)
        rows.append(
            (
                message_id,
                position,
                int(ts) if isinstance(ts, int | float) and abs(ts) < 2**62 else None,
                role.replace("\x00", "") if isinstance(role, str) else None,
                pack(compact(message.raw)),
                reply_to,
                waited,
            )
        )
    return rows


def _late_response(message_id: str, message: Message) -> tuple[str | None, int | None]:
    """``(user messageId answered, waited ms)`` for a response carrying ``metrics.hang``."""
    metrics = message.metrics
    hang = metrics.hang if isinstance(metrics, MessageMetrics) else None
    if not isinstance(hang, HangMetrics):
        return None, None
    parent = parse_message_id(message_id).parent_id
    waited = hang.waited_ms
    ms = int(waited) if isinstance(waited, int | float) and abs(waited) < 2**62 else None
    return parent or None, ms
