"""Retry policy as data: classification, schedule with jitter, caps, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from callhook.delivery import DEFAULT_SCHEDULE, Outcome, RetryPolicy, classify, parse_retry_after


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (299, Outcome.DELIVERED),
        (301, Outcome.GIVE_UP),
        (302, Outcome.GIVE_UP),
        (400, Outcome.GIVE_UP),
        (401, Outcome.GIVE_UP),
        (404, Outcome.GIVE_UP),
        (410, Outcome.DISABLE),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (None, Outcome.RETRY),
    ],
)
def test_classify_maps_each_status_to_its_outcome(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_a_request_that_can_never_succeed_is_given_up() -> None:
    assert classify(None, retryable_error=False) is Outcome.GIVE_UP


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120", now) == 120.0
    when = format_datetime(datetime.fromtimestamp(now + 90, tz=UTC), usegmt=True)
    assert parse_retry_after(when, now) == pytest.approx(90.0)
    past = format_datetime(datetime.fromtimestamp(now - 90, tz=UTC), usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("²", now) is None  # a digit to isdigit(), not to float()
    assert parse_retry_after("٣", now) is None
    assert parse_retry_after(None, now) is None


def test_default_schedule_is_immediately_1s_5s_30s_2min_10min_30min_1h() -> None:
    assert DEFAULT_SCHEDULE == (0, 1, 5, 30, 120, 600, 1800, 3600)
    policy = RetryPolicy(jitter=0.0)
    delays = [
        policy.next_delay(
            attempts_made=n, allowed=8, elapsed=0.0, retry_after=None, rng=random.Random(1)
        )
        for n in range(1, 8)
    ]
    assert delays == [1, 5, 30, 120, 600, 1800, 3600]
    assert policy.first_delay() == 0


def test_jitter_stays_within_its_band() -> None:
    policy = RetryPolicy(jitter=0.1)
    rng = random.Random(3)
    for _ in range(200):
        delay = policy.next_delay(
            attempts_made=3, allowed=8, elapsed=0.0, retry_after=None, rng=rng
        )
        assert delay is not None
        assert 27.0 <= delay <= 33.0


def test_attempts_and_total_time_are_both_capped() -> None:
    policy = RetryPolicy(jitter=0.0, max_total_seconds=100.0)
    rng = random.Random(0)
    assert (
        policy.next_delay(attempts_made=8, allowed=8, elapsed=0, retry_after=None, rng=rng) is None
    )
    assert (
        policy.next_delay(attempts_made=3, allowed=8, elapsed=80, retry_after=None, rng=rng) is None
    )
    assert policy.next_delay(attempts_made=2, allowed=8, elapsed=50, retry_after=None, rng=rng) == 5


def test_retry_after_replaces_the_computed_delay_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    rng = random.Random(0)
    assert policy.next_delay(attempts_made=1, allowed=8, elapsed=0, retry_after=42, rng=rng) == 42
    assert policy.next_delay(attempts_made=1, allowed=8, elapsed=0, retry_after=900, rng=rng) == 60


def test_max_retries_lowers_attempts_and_zero_means_a_single_attempt() -> None:
    policy = RetryPolicy()
    assert policy.attempts_for(None) == 8
    assert policy.attempts_for(0) == 1
    assert policy.attempts_for(2) == 3
    assert policy.attempts_for(50) == 8
    assert RetryPolicy.single_attempt().attempts_for(None) == 1


def test_test_mode_turns_waiting_off() -> None:
    policy = RetryPolicy().testing()
    delay = policy.next_delay(
        attempts_made=5, allowed=8, elapsed=0, retry_after=None, rng=random.Random(0)
    )
    assert delay == 0.0


def test_invalid_policies_are_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="schedule"):
        RetryPolicy(schedule=())
