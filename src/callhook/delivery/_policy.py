"""Retry policy as data: which responses are retried, and when.

``RetryPolicy`` holds the schedule (the delay before each retry), its jitter and two caps (the
number of attempts and the total time since the event was accepted). ``classify`` maps the
result of one attempt to an ``Outcome``; ``RetryPolicy.next_delay`` turns a retryable outcome
into a delay, or ``None`` when the event is to be given up.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime

__all__ = ["DEFAULT_SCHEDULE", "Outcome", "RetryPolicy", "classify", "parse_retry_after"]

#: Delays (seconds) before each attempt: immediately, 1 s, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h.
DEFAULT_SCHEDULE: tuple[float, ...] = (0.0, 1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)


class Outcome(enum.StrEnum):
    """What one attempt means for its event."""

    #: 2xx: delivered.
    DELIVERED = "delivered"
    #: 429, 5xx, timeout, connection error: try again later.
    RETRY = "retry"
    #: 3xx (redirects are not followed), other 4xx, unusable URL: give up now.
    GIVE_UP = "give-up"
    #: 410 Gone: give up and disable the endpoint until a replay re-enables it.
    DISABLE = "disable"


def classify(status: int | None, *, retryable_error: bool = True) -> Outcome:
    """The outcome of an attempt that got HTTP ``status``, or no response (``None``).

    With no response, ``retryable_error`` says whether the failure was transient (timeout,
    refused or reset connection) rather than a request that can never succeed (bad URL).
    """
    if status is None:
        return Outcome.RETRY if retryable_error else Outcome.GIVE_UP
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.DISABLE
    if status == 429 or status >= 500:
        return Outcome.RETRY
    return Outcome.GIVE_UP


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date).

    ``None`` when absent or unreadable; a date in the past gives 0.
    """
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # isdigit() alone accepts "²", which float() refuses
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try an event again, stamina-style: capped by attempts and by total time.

    ``schedule[n]`` is the delay before attempt ``n + 1`` (``schedule[0]`` is the first attempt,
    normally immediate); past its end the last delay repeats. Each delay is multiplied by a
    random factor in ``[1 - jitter, 1 + jitter]``. A ``Retry-After`` header replaces the
    computed delay (bounded by ``max_retry_after``). An event is given up after
    ``max_attempts`` attempts, or when the next attempt would start more than
    ``max_total_seconds`` after the event was accepted (or replayed). An assistant's
    ``maxRetries`` can lower the number of attempts, never raise it past ``max_attempts``.

    ``wait=False`` is the test mode: every retry is due at once.
    """

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    max_attempts: int = len(DEFAULT_SCHEDULE)
    max_total_seconds: float = 3 * 3600.0
    jitter: float = 0.1
    max_retry_after: float = 3600.0
    wait: bool = True

    def __post_init__(self) -> None:
        if not self.schedule or any(d < 0 or not math.isfinite(d) for d in self.schedule):
            raise ValueError("RetryPolicy.schedule must be a non-empty tuple of delays >= 0")
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("RetryPolicy.jitter must be in [0, 1)")

    @classmethod
    def single_attempt(cls) -> RetryPolicy:
        """Interactly's behaviour: one attempt, no retries."""
        return cls(max_attempts=1)

    def testing(self) -> RetryPolicy:
        """This policy with waiting turned off (retries are due immediately)."""
        return replace(self, wait=False)

    def attempts_for(self, max_retries: int | None) -> int:
        """Attempts allowed for an endpoint configured with ``maxRetries`` (``None``: unset)."""
        if max_retries is None:
            return self.max_attempts
        return min(self.max_attempts, max_retries + 1)

    def first_delay(self) -> float:
        """Delay before the first attempt (``schedule[0]``; 0 in test mode)."""
        return self.schedule[0] if self.wait else 0.0

    def next_delay(
        self,
        *,
        attempts_made: int,
        allowed: int,
        elapsed: float,
        retry_after: float | None,
        rng: random.Random,
    ) -> float | None:
        """Delay before the next attempt after ``attempts_made`` failed ones, or ``None`` to
        give up. ``elapsed`` is the time since the event was accepted (or replayed)."""
        if attempts_made >= allowed:
            return None
        if retry_after is not None:
            delay = min(retry_after, self.max_retry_after)
        else:
            base = self.schedule[min(attempts_made, len(self.schedule) - 1)]
            delay = base * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if elapsed + delay > self.max_total_seconds:
            return None
        return delay if self.wait else 0.0
