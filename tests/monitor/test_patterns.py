"""Pattern analysis over records: groups, windows, counts and rates."""

from __future__ import annotations

import pytest

from callhook.monitor import (
    CallRecord,
    Dimension,
    IncidentKind,
    IncidentRecord,
    analyze_patterns,
    length_band,
)

H = 3_600_000  # one hour in ms
DAY = 1_772_668_800_000  # 2026-03-05T00:00:00Z


def calls() -> list[CallRecord]:
    return [
        CallRecord(call_id="a", started_at_ms=DAY + 9 * H, assistant_id="x", provider="openai",
                   model="gpt-4o", message_count=12, user_turns=6),
        CallRecord(call_id="b", started_at_ms=DAY + 9 * H + 5, assistant_id="x", provider="openai",
                   model="gpt-4o-mini", message_count=4, user_turns=2),
        CallRecord(call_id="c", started_at_ms=DAY + 14 * H, assistant_id="y", provider="groq",
                   model=None, message_count=8, user_turns=4),
    ]  # fmt: skip


def incidents() -> list[IncidentRecord]:
    return [
        IncidentRecord(kind=IncidentKind.HANG, call_id="a", at_ms=DAY + 9 * H + 60_000,
                       message_count=2, assistant_id="x", provider="openai", model="gpt-4o"),
        IncidentRecord(kind=IncidentKind.HANG, call_id="a", at_ms=DAY + 10 * H + 1,
                       message_count=7, assistant_id="x", provider="openai", model="gpt-4o"),
        IncidentRecord(kind=IncidentKind.ERROR, call_id="c", at_ms=DAY + 14 * H + 10,
                       message_count=3, assistant_id="y", provider="deepgram", detail="stt_error"),
    ]  # fmt: skip


def test_length_bands_of_five_messages() -> None:
    assert [length_band(n) for n in (0, 4, 5, 9, 10, 42)] == [
        "0-4",
        "0-4",
        "5-9",
        "5-9",
        "10-14",
        "40-44",
    ]


def test_by_provider_counts_and_rates() -> None:
    rows = {r.group: r for r in analyze_patterns(calls(), incidents(), Dimension.PROVIDER)}
    assert set(rows) == {"openai", "groq", "deepgram"}
    openai = rows["openai"]
    assert (openai.calls, openai.turns, openai.hangs, openai.errors) == (2, 8, 2, 0)
    assert (openai.hangs_per_call, openai.hang_call_rate, openai.hangs_per_turn) == (1.0, 0.5, 0.25)
    assert openai.errors_per_call == 0.0
    deepgram = rows["deepgram"]  # an STT vendor: errors but no calls of its own
    assert (deepgram.calls, deepgram.errors, deepgram.errors_per_call) == (0, 1, None)


def test_by_model_assistant_and_unknown() -> None:
    rows = analyze_patterns(calls(), incidents(), "model")
    models = {r.group: (r.calls, r.hangs, r.errors) for r in rows}
    assert models == {"gpt-4o": (1, 2, 0), "gpt-4o-mini": (1, 0, 0), "unknown": (1, 0, 1)}
    assistants = {r.group: r.calls for r in analyze_patterns(calls(), incidents(), "assistant")}
    assert assistants == {"x": 2, "y": 1}


def test_by_hour_of_day_uses_incident_time_and_call_start() -> None:
    rows = {r.group: r for r in analyze_patterns(calls(), incidents(), Dimension.HOUR)}
    assert list(rows) == ["09", "10", "14"]
    assert (rows["09"].calls, rows["09"].hangs) == (2, 1)
    assert (rows["10"].calls, rows["10"].hangs, rows["10"].hangs_per_call) == (0, 1, None)
    assert (rows["14"].calls, rows["14"].errors) == (1, 1)


def test_by_length_band() -> None:
    rows = {r.group: r for r in analyze_patterns(calls(), incidents(), Dimension.LENGTH_BAND)}
    assert list(rows) == ["0-4", "5-9", "10-14"]
    assert (rows["0-4"].calls, rows["0-4"].hangs, rows["0-4"].errors) == (3, 1, 1)
    assert (rows["5-9"].calls, rows["5-9"].hangs) == (2, 1)  # a (12 messages) and c (8)
    assert rows["10-14"].calls == 1
    # turns spread evenly: a has 6 turns over 12 messages, b 2 over 4, c 4 over 8
    assert rows["0-4"].turns == pytest.approx(2.5 + 2 + 2.5)
    assert rows["10-14"].turns == pytest.approx(1.0)


def test_window_filters_calls_by_start_and_incidents_by_time() -> None:
    rows = analyze_patterns(
        calls(), incidents(), "provider", since_ms=DAY + 10 * H, until_ms=DAY + 14 * H
    )
    assert [(r.group, r.calls, r.hangs, r.errors) for r in rows] == [("openai", 0, 1, 0)]


def test_unknown_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="'weekday' is not a valid Dimension"):
        analyze_patterns([], [], "weekday")


def test_groups_that_look_numeric_but_are_not_sort_by_name() -> None:
    """``"²"`` passes ``str.isdigit()`` but ``int()`` refuses it: a model named so used to
    fail the patterns table (500)."""
    from callhook.monitor._patterns import _sort_key

    groups = ["²-model", "10-14", "5-9", "gpt-4o", "٣-x"]
    assert sorted(groups, key=_sort_key) == ["5-9", "10-14", "gpt-4o", "²-model", "٣-x"]
