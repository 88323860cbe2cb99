"""Hang recovery and user impact: did the late response come, did the user repeat or hang up.

Times here are the platform's epoch milliseconds (``message.timestamp``, ``messages[].timestamp``),
not the monitor's clock: they describe the conversation, whatever the delivery delays.

- **Recovery**: the response to a hang is the first assistant message whose ``messageId``
  starts with ``<pendingMessageId>-`` (SPEC §3). ``waited_ms`` is its ``metrics.hang.waitedMs``
  when present (``waited_source = "metrics"``), else its ``timestamp`` minus the pending user
  message's ``timestamp`` (``"computed"``). Until then, an ``error`` event marks the hang
  ``errored`` (``error_code`` kept) and the call ending marks it ``unanswered``; a response
  arriving later still turns it ``recovered``.
- **Repetition**: a later user message, at most ``repeat_window_s`` after the hang, whose
  rapidfuzz ``token_sort_ratio`` (default processor) to the pending message's text reaches
  ``repeat_similarity``.
- **Abandonment**: the call ends (``finished`` / ``failed`` status or end-of-call-report) at most
  ``abandon_window_s`` after the hang, and ``callEndTriggerBy`` is ``user`` or unknown (absent
  or ``""``); ends triggered by ``bot`` or ``system`` are not abandonment.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Literal

import msgspec
from rapidfuzz import fuzz, utils

from callhook.events import Message
from callhook.monitor._config import ImpactConfig

__all__ = ["HangImpact", "HangOutcome", "HangTracker"]


_Response = tuple[str, float | None, float | None]


class HangOutcome(enum.StrEnum):
    PENDING = "pending"
    RECOVERED = "recovered"
    ERRORED = "errored"
    UNANSWERED = "unanswered"


class HangImpact(msgspec.Struct, frozen=True, kw_only=True):
    """What one hang did to its call (times in epoch ms, durations in ms)."""

    call_id: str
    pending_message_id: str
    hung_at_ms: float
    pending_text: str | None = None
    pending_at_ms: float | None = None
    threshold_ms: float | None = None
    stage: str | None = None
    assistant_id: str | None = None
    provider: str | None = None
    model: str | None = None
    #: Messages in the conversation when the hang fired (for length bands).
    message_count: int = 0
    outcome: HangOutcome = HangOutcome.PENDING
    response_message_id: str | None = None
    responded_at_ms: float | None = None
    waited_ms: float | None = None
    waited_source: Literal["metrics", "computed"] | None = None
    error_code: str | None = None
    repeated: bool = False
    repeat_message_id: str | None = None
    repeat_similarity: float | None = None
    abandoned: bool = False
    ended_at_ms: float | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def hang_waited_ms(message: Message) -> float | None:
    """``metrics.hang.waitedMs`` of a message, or ``None``."""
    metrics = message.metrics
    if not metrics or not metrics.hang:
        return None
    return _number(metrics.hang.waited_ms)


class HangTracker:
    """The hangs of one call and what followed each of them."""

    __slots__ = ("_config", "_responses", "impacts")

    def __init__(self, config: ImpactConfig) -> None:
        self._config = config
        self.impacts: list[HangImpact] = []
        #: user messageId -> (response messageId, timestamp, metrics.hang.waitedMs) of its
        #: first response, seen before or after the hang event.
        self._responses: dict[str, _Response] = {}

    def on_hang(self, impact: HangImpact) -> HangImpact | None:
        """Record a new hang; ``None`` if this pending message already hung (a duplicate)."""
        if any(i.pending_message_id == impact.pending_message_id for i in self.impacts):
            return None
        response = self._responses.get(impact.pending_message_id)
        if response is not None:
            impact = self._recovered(impact, response)
        self.impacts.append(impact)
        return impact

    def on_message(self, message: Message, at_ms: float | None) -> list[HangImpact]:
        """A message not seen before; returns the impacts it changed."""
        if message.role == "assistant":
            return self._on_response(message)
        if message.role == "user":
            return self._on_user(message, at_ms)
        return []

    def on_error(self, code: str | None) -> list[HangImpact]:
        """An error event: pending hangs of the call end in error."""
        return self._update(
            lambda i: i.outcome is HangOutcome.PENDING,
            lambda i: msgspec.structs.replace(i, outcome=HangOutcome.ERRORED, error_code=code),
        )

    def on_end(self, at_ms: float | None, trigger: str | None) -> list[HangImpact]:
        """The call ended at ``at_ms`` (epoch ms), ended by ``trigger`` (``callEndTriggerBy``)."""
        window = self._config.abandon_window_s * 1000
        by_user = trigger in (None, "", "user")

        def change(i: HangImpact) -> HangImpact:
            outcome = HangOutcome.UNANSWERED if i.outcome is HangOutcome.PENDING else i.outcome
            abandoned = (
                by_user and at_ms is not None and 0 <= at_ms - i.hung_at_ms <= window
            ) or i.abandoned
            return msgspec.structs.replace(
                i, outcome=outcome, abandoned=abandoned, ended_at_ms=at_ms
            )

        return self._update(lambda i: i.ended_at_ms is None, change)

    def _on_response(self, message: Message) -> list[HangImpact]:
        parent = _parent_id(message.message_id)
        if parent is None or parent in self._responses:
            return []
        response = self._responses[parent] = (
            message.message_id,
            _number(message.timestamp),
            hang_waited_ms(message),
        )
        return self._update(
            lambda i: i.pending_message_id == parent and i.response_message_id is None,
            lambda i: self._recovered(i, response),
        )

    def _on_user(self, message: Message, at_ms: float | None) -> list[HangImpact]:
        text = message.text if isinstance(message.text, str) else None
        when = _number(message.timestamp)
        when = when if when is not None else at_ms
        if not text or when is None:
            return []
        window = self._config.repeat_window_s * 1000
        changed: list[HangImpact] = []
        for index, impact in enumerate(self.impacts):
            if (
                impact.repeated
                or not impact.pending_text
                or impact.pending_message_id == message.message_id
                or not 0 <= when - impact.hung_at_ms <= window
            ):
                continue
            score = fuzz.token_sort_ratio(
                impact.pending_text, text, processor=utils.default_process
            )
            if score >= self._config.repeat_similarity:
                impact = msgspec.structs.replace(
                    impact,
                    repeated=True,
                    repeat_message_id=message.message_id,
                    repeat_similarity=round(score, 1),
                )
                self.impacts[index] = impact
                changed.append(impact)
        return changed

    @staticmethod
    def _recovered(impact: HangImpact, response: _Response) -> HangImpact:
        message_id, at, waited = response
        source: Literal["metrics", "computed"] | None = "metrics"
        if waited is None:
            source = None
            if at is not None and impact.pending_at_ms is not None:
                waited, source = at - impact.pending_at_ms, "computed"
        return msgspec.structs.replace(
            impact,
            outcome=HangOutcome.RECOVERED,
            response_message_id=message_id,
            responded_at_ms=at,
            waited_ms=waited,
            waited_source=source,
        )

    def _update(
        self, when: Callable[[HangImpact], bool], change: Callable[[HangImpact], HangImpact]
    ) -> list[HangImpact]:
        changed: list[HangImpact] = []
        for index, impact in enumerate(self.impacts):
            if when(impact):
                self.impacts[index] = new = change(impact)
                changed.append(new)
        return changed


def _parent_id(message_id: str) -> str | None:
    """``user-3`` for ``user-3-WcIrvV6mE7-1772702495604``; ``None`` for welcome or others."""
    if not message_id.startswith("user-"):
        return None
    number, sep, rest = message_id[5:].partition("-")
    if not sep or not number.isdigit() or not rest:
        return None
    return f"user-{number}"
