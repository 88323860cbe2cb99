"""Property: delivery order, duplicates and lost events do not change what is stored.

For a generated call, any permutation of its events, with re-deliveries and with some events
dropped (the last full-history event kept), applied in arbitrary group-commit batches, leaves
the same messages (content and order), status, call fields and report as in-order delivery.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from callhook.store import Writer, get_call, list_messages, make_engine, parse_event, upgrade
from tests.calls import make_call

_ids = itertools.count()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _snapshot(engine: Engine, call_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        call = get_call(connection, call_id)
        page = list_messages(connection, call_id, None, 500)
    assert call is not None and page is not None
    return {
        "messages": [bytes(raw) for raw in page.items],
        "status": call["status"],
        "fields": msgspec.json.decode(call["call"]),
        "report": msgspec.json.decode(call["report"]) if call["report"] else None,
        "messageCount": call["messageCount"],
    }


def _apply(writer: Writer, bodies: list[bytes], cuts: list[int]) -> None:
    start = 0
    for cut in [*sorted(set(cuts)), len(bodies)]:
        if cut > start:
            batch = [parse_event(b, received_at=i) for i, b in enumerate(bodies[start:cut])]
            for result in writer.apply(batch):
                assert not isinstance(result, Exception), result
            start = cut


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, bool, bool, list[int], list[int]]:
    n_messages = draw(st.integers(1, 8))
    hang, error = draw(st.booleans()), draw(st.booleans())
    size = len(make_call("x", n_messages, hang=hang, error=error))
    last = size - 1  # the end-of-call report: the last full-history event
    kept = [i for i in range(last) if draw(st.booleans())] + [last]
    dupes = draw(st.lists(st.sampled_from(kept), max_size=6))
    order = draw(st.permutations(kept + dupes))
    cuts = draw(st.lists(st.integers(0, len(order)), max_size=4))
    return n_messages, hang, error, list(order), cuts


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=deliveries())
def test_any_order_with_duplicates_and_losses_stores_the_same(
    engine: Engine, case: tuple[int, bool, bool, list[int], list[int]]
) -> None:
    n_messages, hang, error, order, cuts = case
    number = next(_ids)
    reference, shuffled = f"ref-{number}", f"perm-{number}"
    writer = Writer(engine)
    try:
        in_order = make_call(reference, n_messages, hang=hang, error=error)
        _apply(writer, [e.body for e in in_order], [])
        events = make_call(shuffled, n_messages, hang=hang, error=error)
        _apply(writer, [events[i].body for i in order], cuts)
    finally:
        writer.close()
    expected, actual = _snapshot(engine, reference), _snapshot(engine, shuffled)
    expected["fields"].pop("id", None)
    actual["fields"].pop("id", None)
    assert actual == expected


def test_two_writers_on_one_database_store_the_same(engine: Engine) -> None:
    """Two processes' writers taking turns on one call: each notices the other's writes."""
    number = next(_ids)
    reference, shared = f"ref-{number}", f"two-{number}"
    first, second, alone = Writer(engine), Writer(engine), Writer(engine)
    try:
        _apply(alone, [e.body for e in make_call(reference, 6)], [])
        events = [e.body for e in make_call(shared, 6)]
        for index, body in enumerate(events + events[:5]):
            writer = first if index % 3 else second
            (result,) = writer.apply([parse_event(body, received_at=index)])
            assert not isinstance(result, Exception), result
            assert result.outcome == ("stored" if index < len(events) else "duplicate")
    finally:
        for writer in (first, second, alone):
            writer.close()
    expected, actual = _snapshot(engine, reference), _snapshot(engine, shared)
    expected["fields"].pop("id", None)
    actual["fields"].pop("id", None)
    assert actual == expected
