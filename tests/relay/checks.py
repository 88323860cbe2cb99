"""What the relay's end-to-end tests assert about what a target app received.

Each check fails with what is wrong in terms of the posted events (call, type, and which
``webhook-id``), so that a failure on CI says what went missing or came twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence

from tests.relay.apps import Arrival, TargetApp
from tests.relay.serving import Ack

#: An arrival's identity in the posted events: its body, or what it was cut from.
Matcher = Callable[[Arrival], bytes | None]


def describe(ack: Ack) -> str:
    message = json.loads(ack.body)["message"]
    return f"{ack.type} of call {ack.call_id} at {message.get('timestamp')}"


def body_of(arrival: Arrival) -> bytes | None:
    return arrival.body


def ids_by_event(app: TargetApp, match: Matcher = body_of) -> dict[bytes, set[str]]:
    """Posted body -> the ``webhook-id``s it arrived under."""
    found: dict[bytes, set[str]] = {}
    for arrival in app.arrivals:
        if arrival.body is None:
            continue
        key = match(arrival)
        if key is not None:
            found.setdefault(key, set()).add(arrival.webhook_id)
    return found


def missing(app: TargetApp, expected: Sequence[Ack], match: Matcher = body_of) -> list[Ack]:
    """Expected events the app has not yet answered 2xx under some ``webhook-id``."""
    accepted = app.accepted_ids()
    by_event = ids_by_event(app, match)
    return [a for a in expected if not by_event.get(a.body, set()) & accepted]


def summary(app: TargetApp, expected: Sequence[Ack], match: Matcher = body_of) -> str:
    gone = missing(app, expected, match)
    shown = "; ".join(describe(a) for a in gone[:10])
    return (
        f"{len(gone)} of {len(expected)} events not yet accepted by {app.url} "
        f"({len(app.arrivals)} requests so far): {shown}"
    )


def check_exactly_once(
    app: TargetApp,
    expected: Sequence[Ack],
    *,
    match: Matcher = body_of,
    may_arrive: Collection[bytes] = (),
) -> dict[bytes, str]:
    """Every expected event arrived under exactly one ``webhook-id`` (each id one event, its
    retries byte-identical), answered 2xx, signed when the app has a secret; nothing else
    arrived but events in ``may_arrive``. Returns each event's ``webhook-id``."""
    unsigned = [a for a in app.arrivals if a.body is not None and a.signature_error]
    assert not unsigned, f"{len(unsigned)} requests failed verification: {unsigned[0]}"
    mixed = {i: b for i, b in app.bodies_by_id().items() if len(b) > 1}
    assert not mixed, f"one webhook-id, different bodies: {sorted(mixed)[:5]}"
    by_event = ids_by_event(app, match)
    unknown = [a.body for a in app.arrivals if a.body is not None and match(a) is None]
    assert not unknown, f"{len(unknown)} bodies match no posted event, e.g. {unknown[0]!r:.300}"
    wanted = {a.body for a in expected}
    extra = [b for b in by_event if b not in wanted and b not in may_arrive]
    assert not extra, f"{len(extra)} events arrived that were not to, e.g. {extra[0]!r:.300}"
    twice = {b: ids for b, ids in by_event.items() if len(ids) > 1}
    shown = list(twice.values())[:3]
    assert not twice, f"{len(twice)} events arrived under several webhook-ids: {shown}"
    gone = missing(app, expected, match)
    assert not gone, summary(app, expected, match)
    return {body: next(iter(ids)) for body, ids in by_event.items()}


def check_order(app: TargetApp, expected: Sequence[Ack], ids: dict[bytes, str]) -> None:
    """Per call, the first arrivals of its events follow the order serve acknowledged them
    in, and ``x-callhook-call-sequence`` increases along them."""
    first = app.first_arrivals()
    calls: dict[str | None, list[Ack]] = {}
    for ack in expected:
        calls.setdefault(ack.call_id, []).append(ack)
    for call_id, acks in calls.items():
        arrivals = [first[ids[a.body]] for a in acks]
        orders = [a.order for a in arrivals]
        late = [
            (describe(acks[n]), describe(acks[n + 1]))
            for n in range(len(orders) - 1)
            if orders[n] >= orders[n + 1]
        ]
        assert not late, f"call {call_id}: arrived out of the acknowledged order: {late[:3]}"
        sequences = [int(a.headers["x-callhook-call-sequence"]) for a in arrivals]
        assert sequences == sorted(set(sequences)), f"call {call_id}: sequences {sequences}"
