"""The sliding-window rules of SPEC §5: what they count and when they fire.

Every window runs on the monitor's clock (the ``received_at`` of each event), not on the
sender's ``timestamp``, so a late or replayed event counts when it arrives. Denominators:

- ``response_time_p95``: samples are ``metrics.llm.responseLatencyMs`` of each new assistant
  message (welcome excluded); value = nearest-rank p95 over the window; global.
- ``hang_rate``: calls with at least one hang event in the window / distinct calls with any
  event in the window; global.
- ``llm_error_rate``: ``llm_error`` events / (new assistant responses + ``llm_error`` events).
- ``stt_error_rate``: ``stt_error`` events / (new user messages + ``stt_error`` events).
- ``provider_error_rate``: per provider, its error events / its requests, where a request is a
  new assistant response (the call's ``assistantProvider``), a new user message (the call's
  STT vendor, ``assistant.config.speech.stt.vendor``) or an error event naming it
  (``error.provider``, else the call's LLM provider or STT vendor by error type).
- ``provider_response_time``: per LLM provider, the mean ``responseLatencyMs`` in the window.
- ``systemic_hangs``: per assistant, the number of hang events in the window.

A rule fires when its value reaches (``>=``) a threshold and the window holds at least
``min_count`` samples (denominator); it clears as soon as either stops being true.
"""

from __future__ import annotations

import msgspec

from callhook.monitor._alerts import Condition, RuleId, Severity
from callhook.monitor._config import RuleConfig, RulesConfig
from callhook.monitor._windows import CountWindow, DistinctWindow, ValueWindow

__all__ = ["RuleSet", "level"]

GLOBAL = "global"


def level(config: RuleConfig, value: float) -> Severity | None:
    """The severity ``value`` reaches under ``config``, or ``None`` below every threshold."""
    if config.critical is not None and value >= config.critical:
        return Severity.CRITICAL
    if config.warning is not None and value >= config.warning:
        return Severity.WARNING
    return None


def _threshold(config: RuleConfig, severity: Severity | None) -> float | None:
    if severity is Severity.CRITICAL:
        return config.critical
    return config.warning if config.warning is not None else config.critical


class RuleSet:
    """The windows of every windowed rule, fed by the core and evaluated on demand."""

    def __init__(self, config: RulesConfig) -> None:
        self.config = c = config
        self.calls = DistinctWindow(c.hang_rate.window_s)
        self.hung_calls = DistinctWindow(c.hang_rate.window_s)
        self.latencies = ValueWindow(c.response_time_p95.window_s)
        self.llm_requests = CountWindow(c.llm_error_rate.window_s)
        self.llm_errors = CountWindow(c.llm_error_rate.window_s)
        self.stt_requests = CountWindow(c.stt_error_rate.window_s)
        self.stt_errors = CountWindow(c.stt_error_rate.window_s)
        self.provider_requests: dict[str, CountWindow] = {}
        self.provider_errors: dict[str, CountWindow] = {}
        self.provider_latency: dict[str, ValueWindow] = {}
        self.assistant_hangs: dict[str, CountWindow] = {}
        # What the events fed since the last evaluation: only that is re-evaluated per event
        # (sliding alone is caught by the periodic full evaluation).
        self._dirty: set[RuleId] = set()
        self._dirty_providers: set[str] = set()
        self._dirty_assistants: set[str] = set()

    # -- feeding ---------------------------------------------------------------------------

    def call_seen(self, now: float, call_id: str) -> None:
        if call_id not in self.calls:
            self._dirty.add(RuleId.HANG_RATE)
        self.calls.add(now, call_id)

    def hang(self, now: float, call_id: str, assistant_id: str | None) -> None:
        self.hung_calls.add(now, call_id)
        self._dirty.add(RuleId.HANG_RATE)
        if assistant_id:
            self._dirty_assistants.add(assistant_id)
            window = self.assistant_hangs.get(assistant_id)
            if window is None:
                window = self.assistant_hangs[assistant_id] = CountWindow(
                    self.config.systemic_hangs.window_s
                )
            window.add(now)

    def llm_response(self, now: float, provider: str | None, latency_ms: float | None) -> None:
        self.llm_requests.add(now)
        self._dirty.add(RuleId.LLM_ERROR_RATE)
        if provider:
            self._provider_request(now, provider)
        if latency_ms is not None:
            self.latencies.add(now, latency_ms)
            self._dirty.add(RuleId.RESPONSE_TIME_P95)
            if provider:
                window = self.provider_latency.get(provider)
                if window is None:
                    window = self.provider_latency[provider] = ValueWindow(
                        self.config.provider_response_time.window_s
                    )
                window.add(now, latency_ms)

    def stt_result(self, now: float, vendor: str | None) -> None:
        self.stt_requests.add(now)
        self._dirty.add(RuleId.STT_ERROR_RATE)
        if vendor:
            self._provider_request(now, vendor)

    def error(self, now: float, kind: str | None, provider: str | None) -> None:
        if kind == "llm_error":
            self.llm_requests.add(now)
            self.llm_errors.add(now)
            self._dirty.add(RuleId.LLM_ERROR_RATE)
        elif kind == "stt_error":
            self.stt_requests.add(now)
            self.stt_errors.add(now)
            self._dirty.add(RuleId.STT_ERROR_RATE)
        if provider:
            self._provider_request(now, provider)
            window = self.provider_errors.get(provider)
            if window is None:
                window = self.provider_errors[provider] = CountWindow(
                    self.config.provider_error_rate.window_s
                )
            window.add(now)

    def _provider_request(self, now: float, provider: str) -> None:
        self._dirty_providers.add(provider)
        window = self.provider_requests.get(provider)
        if window is None:
            window = self.provider_requests[provider] = CountWindow(
                self.config.provider_error_rate.window_s
            )
        window.add(now)

    # -- evaluating ------------------------------------------------------------------------

    def evaluate_changed(self, now: float) -> list[Condition]:
        """Conditions of the rules and keys fed since the last evaluation."""
        dirty, providers, assistants = self._dirty, self._dirty_providers, self._dirty_assistants
        if not (dirty or providers or assistants):
            return []
        self._dirty, self._dirty_providers, self._dirty_assistants = set(), set(), set()
        return self._evaluate(now, dirty, providers, assistants)

    def evaluate(self, now: float) -> list[Condition]:
        """Conditions of every rule and every provider and assistant the windows know."""
        self._dirty, self._dirty_providers, self._dirty_assistants = set(), set(), set()
        providers = set(self.provider_requests) | set(self.provider_latency)
        return self._evaluate(now, set(RuleId), providers, set(self.assistant_hangs))

    def _evaluate(
        self, now: float, rules: set[RuleId], providers: set[str], assistants: set[str]
    ) -> list[Condition]:
        c = self.config
        out: list[Condition] = []
        if c.response_time_p95.enabled and RuleId.RESPONSE_TIME_P95 in rules:
            n = self.latencies.count(now)
            p95 = self.latencies.percentile(now, 95) if n >= c.response_time_p95.min_count else None
            text = f"response time p95 {p95:.0f} ms over {n} responses" if p95 is not None else ""
            out.append(_condition(RuleId.RESPONSE_TIME_P95, GLOBAL, c.response_time_p95, p95, text))
        if c.hang_rate.enabled and RuleId.HANG_RATE in rules:
            hung, calls = self.hung_calls.count(now), self.calls.count(now)
            out.append(_rate(RuleId.HANG_RATE, GLOBAL, c.hang_rate, hung, calls, "calls hung"))
        if c.llm_error_rate.enabled and RuleId.LLM_ERROR_RATE in rules:
            errors, total = self.llm_errors.count(now), self.llm_requests.count(now)
            out.append(
                _rate(
                    RuleId.LLM_ERROR_RATE,
                    GLOBAL,
                    c.llm_error_rate,
                    errors,
                    total,
                    "LLM requests failed",
                )
            )
        if c.stt_error_rate.enabled and RuleId.STT_ERROR_RATE in rules:
            errors, total = self.stt_errors.count(now), self.stt_requests.count(now)
            out.append(
                _rate(
                    RuleId.STT_ERROR_RATE,
                    GLOBAL,
                    c.stt_error_rate,
                    errors,
                    total,
                    "STT requests failed",
                )
            )
        for p in sorted(providers):
            out.extend(self._provider(now, p))
        if c.systemic_hangs.enabled:
            for a in sorted(assistants):
                window = self.assistant_hangs.get(a)
                hangs = float(window.count(now)) if window else 0.0
                text = f"assistant {a}: {hangs:.0f} hangs within {c.systemic_hangs.window_s:g} s"
                cond = _condition(
                    RuleId.SYSTEMIC_HANGS, f"assistant={a}", c.systemic_hangs, hangs, text
                )
                out.append(msgspec.structs.replace(cond, assistant_id=a))
        return out

    def _provider(self, now: float, p: str) -> list[Condition]:
        c = self.config
        out: list[Condition] = []
        scope = f"provider={p}"
        if c.provider_error_rate.enabled:
            errors = self.provider_errors.get(p)
            requests = self.provider_requests.get(p)
            hits = errors.count(now) if errors else 0
            total = requests.count(now) if requests else 0
            cond = _rate(
                RuleId.PROVIDER_ERROR_RATE,
                scope,
                c.provider_error_rate,
                hits,
                total,
                f"{p} requests failed",
            )
            out.append(msgspec.structs.replace(cond, provider=p))
        if c.provider_response_time.enabled:
            window = self.provider_latency.get(p)
            n = window.count(now) if window else 0
            mean = window.mean(now) if window and n >= c.provider_response_time.min_count else None
            text = (
                f"{p} mean response time {mean:.0f} ms over {n} responses"
                if mean is not None
                else ""
            )
            cond = _condition(
                RuleId.PROVIDER_RESPONSE_TIME, scope, c.provider_response_time, mean, text
            )
            out.append(msgspec.structs.replace(cond, provider=p))
        return out

    def prune(self, now: float) -> None:
        """Drop the per-provider / per-assistant windows that have emptied."""
        for table in (self.provider_requests, self.provider_errors, self.assistant_hangs):
            for key in [k for k, w in table.items() if w.count(now) == 0]:
                del table[key]
        for key in [k for k, w in self.provider_latency.items() if w.count(now) == 0]:
            del self.provider_latency[key]


def _condition(
    rule: RuleId, scope: str, config: RuleConfig, value: float | None, summary: str
) -> Condition:
    severity = None if value is None else level(config, value)
    return Condition(
        rule=rule,
        scope=scope,
        severity=severity,
        summary=summary,
        value=value,
        threshold=_threshold(config, severity),
    )


def _rate(
    rule: RuleId, scope: str, config: RuleConfig, hits: int, total: int, what: str
) -> Condition:
    """``hits / total`` as a condition; no value (clear) below ``min_count`` of ``total``."""
    value = hits / total if total > 0 and total >= config.min_count else None
    summary = f"{hits}/{total} {what} ({100 * hits / total:.2f} %)" if total else ""
    return _condition(rule, scope, config, value, summary)
