"""Pattern analysis: hangs and errors by provider, model, assistant, hour and length band.

Pure functions over two small record types, so that any source can feed them: the live
``Monitor`` (``Monitor.records()``) or the receiver's SQL store (one ``CallRecord`` per call,
one ``IncidentRecord`` per hang or error event).

Definitions (SPEC §5 "hang counters by assistant / provider / model / hour of day /
conversation length in bands of 5 messages"):

- An incident belongs to the window ``[since_ms, until_ms)`` by its ``at_ms``; a call by its
  ``started_at_ms``.
- ``provider`` / ``model`` / ``assistant``: the incident's own value (an error names its
  provider) and the call's value for the denominators; a missing value groups as ``"unknown"``.
- ``hour``: UTC hour of day (``"00"``..``"23"``) of the incident, and of the call's start for
  the denominators.
- ``length_band``: ``"0-4"``, ``"5-9"``, ... by the number of messages in the conversation when
  the incident happened. The calls of a band are the calls that reached it (``message_count``
  above the band's start); its turns are the user turns falling in it, estimated as the call's
  ``user_turns`` spread evenly over its messages.
- Rates: ``hangs_per_call`` = hangs / calls, ``hang_call_rate`` = calls with a hang / calls,
  ``hangs_per_turn`` = hangs / user turns; the same for errors. ``None`` with no denominator.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import msgspec

__all__ = [
    "CallRecord",
    "Dimension",
    "IncidentKind",
    "IncidentRecord",
    "PatternRow",
    "analyze_patterns",
    "length_band",
]

UNKNOWN = "unknown"
BAND = 5


class IncidentKind(enum.StrEnum):
    HANG = "hang"
    ERROR = "error"


class Dimension(enum.StrEnum):
    PROVIDER = "provider"
    MODEL = "model"
    ASSISTANT = "assistant"
    HOUR = "hour"
    LENGTH_BAND = "length_band"


class CallRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One call, as the denominator of every rate."""

    call_id: str
    started_at_ms: float
    assistant_id: str | None = None
    provider: str | None = None
    model: str | None = None
    message_count: int = 0
    user_turns: int = 0


class IncidentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One hang or error event."""

    kind: IncidentKind
    call_id: str
    at_ms: float
    #: Messages in the conversation when it happened.
    message_count: int = 0
    assistant_id: str | None = None
    provider: str | None = None
    model: str | None = None
    #: The hang's stage or the error's type (``llm_error``, ``stt_error``).
    detail: str | None = None


class PatternRow(msgspec.Struct, frozen=True, kw_only=True):
    """Counts and rates of one group."""

    dimension: Dimension
    group: str
    calls: int
    turns: float
    hangs: int
    errors: int
    calls_with_hang: int
    calls_with_error: int
    hangs_per_call: float | None
    errors_per_call: float | None
    hang_call_rate: float | None
    error_call_rate: float | None
    hangs_per_turn: float | None
    errors_per_turn: float | None


def length_band(message_count: int) -> str:
    """``"0-4"`` for 0..4 messages, ``"5-9"`` for 5..9, ..."""
    start = max(0, message_count) // BAND * BAND
    return f"{start}-{start + BAND - 1}"


def _hour(ms: float) -> str:
    return f"{datetime.fromtimestamp(ms / 1000, UTC).hour:02d}"


_CALL_KEY: dict[Dimension, Callable[[CallRecord], str]] = {
    Dimension.PROVIDER: lambda c: c.provider or UNKNOWN,
    Dimension.MODEL: lambda c: c.model or UNKNOWN,
    Dimension.ASSISTANT: lambda c: c.assistant_id or UNKNOWN,
    Dimension.HOUR: lambda c: _hour(c.started_at_ms),
}
_INCIDENT_KEY: dict[Dimension, Callable[[IncidentRecord], str]] = {
    Dimension.PROVIDER: lambda i: i.provider or UNKNOWN,
    Dimension.MODEL: lambda i: i.model or UNKNOWN,
    Dimension.ASSISTANT: lambda i: i.assistant_id or UNKNOWN,
    Dimension.HOUR: lambda i: _hour(i.at_ms),
    Dimension.LENGTH_BAND: lambda i: length_band(i.message_count),
}


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def analyze_patterns(
    calls: Iterable[CallRecord],
    incidents: Iterable[IncidentRecord],
    dimension: Dimension | str,
    *,
    since_ms: float | None = None,
    until_ms: float | None = None,
) -> list[PatternRow]:
    """Hangs and errors grouped by ``dimension`` over ``[since_ms, until_ms)``, one row per
    group that has calls or incidents, sorted by group."""
    dim = Dimension(dimension)

    def inside(ms: float) -> bool:
        return (since_ms is None or ms >= since_ms) and (until_ms is None or ms < until_ms)

    n_calls: dict[str, int] = defaultdict(int)
    turns: dict[str, float] = defaultdict(float)
    for call in calls:
        if not inside(call.started_at_ms):
            continue
        if dim is Dimension.LENGTH_BAND:
            per_message = call.user_turns / call.message_count if call.message_count else 0.0
            for start in range(0, max(call.message_count, 1), BAND):
                group = length_band(start)
                n_calls[group] += 1
                turns[group] += per_message * min(BAND, call.message_count - start)
        else:
            group = _CALL_KEY[dim](call)
            n_calls[group] += 1
            turns[group] += call.user_turns
    counts: dict[tuple[str, IncidentKind], int] = defaultdict(int)
    hit_calls: dict[tuple[str, IncidentKind], set[str]] = defaultdict(set)
    for incident in incidents:
        if not inside(incident.at_ms):
            continue
        group = _INCIDENT_KEY[dim](incident)
        counts[group, incident.kind] += 1
        hit_calls[group, incident.kind].add(incident.call_id)
    groups = set(n_calls) | {g for g, _ in counts}
    rows = []
    for group in sorted(groups, key=_sort_key):
        c, t = n_calls.get(group, 0), turns.get(group, 0.0)
        hangs, errors = (
            counts.get((group, IncidentKind.HANG), 0),
            counts.get((group, IncidentKind.ERROR), 0),
        )
        with_hang = len(hit_calls.get((group, IncidentKind.HANG), ()))
        with_error = len(hit_calls.get((group, IncidentKind.ERROR), ()))
        rows.append(
            PatternRow(
                dimension=dim,
                group=group,
                calls=c,
                turns=round(t, 3),
                hangs=hangs,
                errors=errors,
                calls_with_hang=with_hang,
                calls_with_error=with_error,
                hangs_per_call=_ratio(hangs, c),
                errors_per_call=_ratio(errors, c),
                hang_call_rate=_ratio(with_hang, c),
                error_call_rate=_ratio(with_error, c),
                hangs_per_turn=_ratio(hangs, t),
                errors_per_turn=_ratio(errors, t),
            )
        )
    return rows


def _sort_key(group: str) -> tuple[int, str]:
    """Numeric bands in numeric order ("5-9" before "10-14"), other groups by name."""
    head = group.split("-", 1)[0]
    return (int(head), group) if head.isascii() and head.isdigit() else (1 << 30, group)
