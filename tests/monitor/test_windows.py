"""Sliding windows: what is inside at ``now`` and what has slid out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from callhook.monitor._windows import CountWindow, DistinctWindow, ValueWindow, percentile


def test_count_window_boundary_is_exclusive() -> None:
    w = CountWindow(300)
    w.add(0.0)
    w.add(100.0, count=2)
    assert w.count(299.9) == 3
    assert w.count(300.0) == 2  # now - t == span: out
    assert w.count(400.0) == 0


def test_distinct_window_counts_each_key_once_and_keeps_the_latest() -> None:
    w = DistinctWindow(60)
    w.add(0.0, "a")
    w.add(10.0, "a")
    w.add(20.0, "b")
    assert w.count(30.0) == 2
    assert w.count(60.0) == 2  # "a" was seen again at 10
    assert w.count(70.0) == 1 and "b" in w and "a" not in w
    w.add(5.0, "b")  # an older sighting never moves a key back in time
    assert w.count(80.0) == 0


def test_value_window_mean_and_percentile_slide() -> None:
    w = ValueWindow(60)
    for t, v in [(0.0, 100.0), (30.0, 200.0), (50.0, 600.0)]:
        w.add(t, v)
    assert w.mean(59.0) == 300.0
    assert w.percentile(59.0, 95) == 600.0
    assert w.mean(60.0) == 400.0
    assert w.mean(200.0) is None and w.percentile(200.0, 95) is None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile(values, 0) == 1.0
    assert percentile([], 95) is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1), st.floats(0, 100))
def test_percentile_is_a_sample_with_enough_at_or_below(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= q / 100 * len(values) - 1e-9  # type: ignore[operator]


@given(
    st.lists(st.tuples(st.integers(0, 100), st.floats(-1e6, 1e6)), max_size=60),
    st.integers(100, 200),
)
def test_value_window_matches_a_recount(samples: list[tuple[int, float]], now: int) -> None:
    """Whatever slid out, the window's statistics equal those of the samples still inside."""
    w = ValueWindow(50)
    for t, v in sorted(samples, key=lambda s: s[0]):
        w.add(t, v)
    inside = [v for t, v in samples if t > now - 50]
    assert w.count(now) == len(inside)
    assert w.percentile(now, 95) == percentile(inside, 95)
    mean = w.mean(now)
    if not inside:
        assert mean is None
    else:
        tolerance = 1e-6 * max(1.0, *(abs(v) for v in inside))
        assert mean is not None and abs(mean - sum(inside) / len(inside)) <= tolerance
