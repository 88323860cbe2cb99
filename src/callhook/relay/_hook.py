"""``Relay``: the store's commit hook that queues each stored event for the forward targets.

For every event of a batch that the store kept as new (not a re-delivery, not an event
without a call), one outbox row per target that wants it is written in the ingest's own
transaction (``CommitHook``): a 2xx to the sender means stored and queued, and a crash loses
neither or both. The dispatcher (inside ``serve``, or ``callhook deliver`` processes) sends
them: signed, retried, in order per call and target.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from callhook.delivery import Enqueuer, NewRow, Placeholders
from callhook.events import EventType
from callhook.relay._config import ForwardTarget
from callhook.store import Incoming, Outcome

__all__ = ["Relay", "only_new_messages"]

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENCODE = msgspec.json.encode


class Relay:
    """Queues stored events for ``targets`` (give it to ``Store(hook=...)``).

    ``postgres``: the store's database is PostgreSQL (several receiver processes may write;
    each transaction reads the call's sequence under its lock). ``on_commit`` is called
    (in the store's writer thread) after a commit that queued rows: wake a dispatcher.
    ``clock``: unix seconds.
    """

    def __init__(
        self,
        targets: Sequence[ForwardTarget],
        *,
        postgres: bool,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = tuple(targets)
        self.on_commit = on_commit
        self._clock = clock
        self._enqueuer = Enqueuer(Placeholders(postgres), cache=not postgres)
        self._staged = False

    def rows(
        self, items: Sequence[Incoming], results: Sequence[Outcome | Exception]
    ) -> list[NewRow]:
        """The outbox rows of a batch: one per stored event and target that wants it."""
        rows: list[NewRow] = []
        for item, result in zip(items, results, strict=True):
            if not isinstance(result, Outcome) or result.outcome != "stored":
                continue
            call_id = result.call_id
            if call_id is None:
                continue
            for target in self.targets:
                if not target.wants(item.type, item.assistant_id):
                    continue
                body, config = item.data, target.config
                if target.trimmed is not None and item.type is EventType.CONVERSATION_UPDATE:
                    body, config = only_new_messages(item, result.new_ids), target.trimmed
                rows.append(
                    NewRow(
                        webhook_id=f"msg_{os.urandom(16).hex()}",
                        call_id=call_id,
                        event_type=item.type.value,
                        url=target.url,
                        body=body,
                        config=config,
                    )
                )
        return rows

    def stage(
        self,
        cursor: Any,  # Any: the driver's DB-API cursor
        items: Sequence[Incoming],
        results: Sequence[Outcome | Exception],
    ) -> None:
        rows = self.rows(items, results)
        if rows:
            self._enqueuer.stage(cursor, rows, self._clock())
            self._staged = True

    def committed(self) -> None:
        self._enqueuer.committed()
        staged, self._staged = self._staged, False
        if staged and self.on_commit is not None:
            self.on_commit()

    def discarded(self) -> None:
        self._enqueuer.discarded()
        self._staged = False


def only_new_messages(item: Incoming, new_ids: Sequence[str]) -> bytes:
    """``item``'s body with ``message.messages`` cut to the messages in ``new_ids`` (the
    first occurrence of each, in the event's order); every other key kept as received."""
    wanted = set(new_ids)
    kept: list[bytes] = []
    for message in item.messages or ():
        if message.message_id in wanted:
            wanted.discard(message.message_id)
            kept.append(bytes(message.raw))
    top = _TOP.decode(item.data)
    fields = _TOP.decode(top["message"])
    fields["messages"] = msgspec.Raw(b"[" + b",".join(kept) + b"]")
    top["message"] = msgspec.Raw(_ENCODE(fields))
    return _ENCODE(top)
