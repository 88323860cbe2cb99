"""Scripted, realistic calls for the dashboard tests, screenshots and the live benchmark.

``scripted_call`` is one phone call with everything the call view shows: the welcome, user and
assistant turns with full latency metrics, a response the user barged in on (heard part and
unheard rest), a hang (stage ``llm``) and the late response that recovered it, an LLM error,
status changes and an end-of-call report with summary, evaluation, structured data and cost.
``background_calls`` are many smaller calls spread over the last hours, for the metrics page.
"""

from __future__ import annotations

import json
import random
from typing import Any

ASSISTANTS = [
    ("asst-dental", "Dental front desk", "openai", "gpt-4o-mini"),
    ("asst-billing", "Billing support", "anthropic", "claude-3-5-haiku"),
    ("asst-survey", "Post-visit survey", "groq", "llama-3.1-70b"),
]


def _assistant(index: int) -> dict[str, Any]:
    aid, name, provider, model = ASSISTANTS[index]
    return {
        "_id": aid,
        "name": name,
        "assistantProvider": provider,
        "assistantModel": model,
        "bargeInEnabled": True,
        "config": {"speech": {"stt": {"vendor": "deepgram", "language": "en"}}},
    }


def _user_metrics(rng: random.Random) -> dict[str, Any]:
    return {
        "stt": {
            "relativeLatencyMs": rng.randint(140, 420),
            "durationMs": rng.randint(900, 4200),
            "confidence": round(rng.uniform(0.82, 0.99), 3),
        },
        "interactlyEOU": {"turnDetectionTimeMs": rng.randint(180, 650), "queueLatencyMs": 1},
    }


def _assistant_metrics(rng: random.Random, slow: float = 1.0) -> dict[str, Any]:
    return {
        "llm": {"responseLatencyMs": int(rng.lognormvariate(6.6, 0.35) * slow)},
        "tts": {
            "generationTimeMs": rng.randint(90, 320),
            "audioDurationMs": rng.randint(1500, 6000),
        },
        "interactlyPlayer": {"waitTimeMs": rng.randint(5, 60)},
    }


def _envelope(kind: str, ts: int, call: dict[str, Any], **rest: Any) -> bytes:
    return json.dumps({"message": {"timestamp": ts, "type": kind, "call": call, **rest}}).encode()


SCRIPT = [
    ("assistant", "Hi, this is Ava from Bright Smile Dental. How can I help you today?"),
    ("user", "Hi, I'd like to move my cleaning appointment to next week if possible."),
    ("assistant", "Of course. Can I have your date of birth to find your booking?"),
    ("user", "It's March 4th, 1988."),
    (
        "interrupted",
        "Thank you. I found your cleaning on Thursday at 10 AM with Dr. Patel. We have openings "
        "on Tuesday at 9, Wednesday at 2:30 and Friday at 11.",
    ),
    ("user", "Wednesday afternoon works."),
    ("hang", ""),
    ("assistant", "Great, I've moved you to Wednesday at 2:30 PM with Dr. Patel."),
    ("user", "Can you also send me a text reminder?"),
    ("error", ""),
    ("assistant", "Sure, you'll get a text reminder the day before. Anything else?"),
    ("user", "No, that's all. Thanks!"),
    ("assistant", "You're welcome. Have a great day!"),
]


def scripted_call(call_id: str, start_ms: int, *, seed: int = 7) -> list[bytes]:
    """Every event of one realistic phone call, in sending order."""
    rng = random.Random(seed)
    assistant = _assistant(0)
    base = {
        "id": call_id,
        "assistantId": assistant["_id"],
        "callType": "phone",
        "direction": "inbound",
        "startAt": _iso(start_ms),
        "userNumber": "+14155550142",
        "assistantNumber": "+14155550100",
    }
    out: list[bytes] = []
    clock = start_ms
    for status in ("initiated", "queued", "ongoing"):
        out.append(
            _envelope("status-update", clock, {**base, "status": status}, assistant=assistant)
        )
        clock += 400
    history: list[dict[str, Any]] = []
    user_n = 0
    skipped: list[dict[str, Any]] = []
    last_user = ""
    hang_waited = 0
    for role, text in SCRIPT:
        clock += rng.randint(1800, 4200)
        call = {**base, "status": "ongoing", "assistantCallDuration": clock - start_ms}
        if role == "interrupted":
            played = text[: text.index(" We have") + 1]
            skipped = [
                {
                    "messageId": f"{last_user}-Qx7Lm2Pa9Z-{clock}",
                    "text": text,
                    "timestamp": clock,
                    "playedText": played,
                    "playedMs": 4100,
                }
            ]
            continue
        if role == "hang":
            hang_waited = 6800
            hang = {
                "pendingMessageId": last_user,
                "waitedMs": 5000,
                "thresholdMs": 5000,
                "stage": "llm",
            }
            out.append(_envelope("hang", clock, call, messages=list(history), hang=hang))
            clock += 1800
            continue
        if role == "error":
            error = {
                "type": "llm_error",
                "code": "rate_limit_exceeded",
                "provider": "openai",
                "message": "Rate limit reached for gpt-4o-mini; retried after 1.2 s",
                "retryable": True,
                "details": {"retryAfterMs": 1200},
            }
            out.append(_envelope("error", clock, call, messages=list(history), error=error))
            clock += 1400
            continue
        if role == "user":
            user_n += 1
            last_user = f"user-{user_n}"
            message = {
                "messageId": last_user,
                "role": "user",
                "text": text,
                "timestamp": clock,
                "metrics": _user_metrics(rng),
                "skippedAssistantMessages": skipped,
            }
            skipped = []
        elif not history:
            message = {
                "messageId": "welcome-1",
                "role": "assistant",
                "text": text,
                "timestamp": clock,
                "metrics": {"llm": {}, "tts": {"generationTimeMs": 6, "isCachePlaying": True}},
            }
        else:
            metrics = _assistant_metrics(rng)
            if hang_waited:
                metrics["llm"]["responseLatencyMs"] = 6420
                metrics["hang"] = {"waitedMs": hang_waited}
                hang_waited = 0
            message = {
                "messageId": f"{last_user}-{rng.randbytes(5).hex()}-{clock}",
                "role": "assistant",
                "text": text,
                "timestamp": clock,
                "metrics": metrics,
            }
        history.append(message)
        out.append(_envelope("conversation-update", clock, call, messages=list(history)))
    clock += 1500
    end = {
        **base,
        "status": "finished",
        "endAt": _iso(clock),
        "callEndTriggerBy": "user",
        "assistantCallDuration": clock - start_ms,
    }
    out.append(_envelope("status-update", clock, end, assistant=assistant))
    report = {
        **end,
        "cost": {
            "callDuration": (clock - start_ms) // 1000,
            "interactlyCost": 0.0412,
            "phoneCost": 0.0155,
            "ttsVendorCost": 0.0231,
            "sttVendorCost": 0.0078,
            "llmVendorCost": 0.0094,
            "totalCost": 0.097,
        },
    }
    analysis = {
        "summary": "The caller rescheduled a cleaning from Thursday 10 AM to Wednesday 2:30 PM "
        "with Dr. Patel and asked for a text reminder.",
        "successEvaluation": "Excellent",
        "structuredData": {
            "intent": "reschedule",
            "new slot": "Wed 2:30 PM",
            "reminder requested": True,
        },
    }
    out.append(
        _envelope(
            "end-of-call-report",
            clock + 900,
            report,
            messages=history,
            assistant=assistant,
            analysis=analysis,
        )
    )
    return out


def background_calls(count: int, now_ms: int, *, hours: float = 20, seed: int = 11) -> list[bytes]:
    """``count`` short calls spread over the last ``hours``, with occasional hangs and errors."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for n in range(count):
        index = n % len(ASSISTANTS)
        assistant = _assistant(index)
        start = now_ms - int(hours * 3_600_000) + int(n * hours * 3_600_000 / count)
        start += rng.randint(0, 60_000)
        call_id = f"call-{n:04d}-{rng.randbytes(3).hex()}"
        base = {
            "id": call_id,
            "assistantId": assistant["_id"],
            "callType": "phone",
            "direction": "outbound",
            "startAt": _iso(start),
            "userNumber": f"+1415555{rng.randint(1000, 9999)}",
        }
        out.append(
            _envelope("status-update", start, {**base, "status": "ongoing"}, assistant=assistant)
        )
        history: list[dict[str, Any]] = []
        clock = start
        slow = 1.0 + (0.6 if index == 2 else 0) + (0.8 if 14 <= (n * 24 // count) <= 16 else 0)
        for turn in range(1, rng.randint(3, 7)):
            clock += rng.randint(2000, 5000)
            history.append(
                {
                    "messageId": f"user-{turn}",
                    "role": "user",
                    "text": f"Request {turn}",
                    "timestamp": clock,
                    "metrics": _user_metrics(rng),
                    "skippedAssistantMessages": [],
                }
            )
            call = {**base, "status": "ongoing"}
            if rng.random() < 0.03 * slow:
                out.append(
                    _envelope(
                        "hang",
                        clock + 5000,
                        call,
                        messages=list(history),
                        hang={
                            "pendingMessageId": f"user-{turn}",
                            "waitedMs": 5000,
                            "thresholdMs": 5000,
                            "stage": "llm",
                        },
                    )
                )
            if rng.random() < 0.015 * slow:
                out.append(
                    _envelope(
                        "error",
                        clock + 5500,
                        call,
                        messages=list(history),
                        error={
                            "type": "llm_error",
                            "code": "service_unavailable",
                            "provider": assistant["assistantProvider"],
                            "message": "upstream 503",
                            "retryable": True,
                        },
                    )
                )
            clock += rng.randint(700, 2500)
            history.append(
                {
                    "messageId": f"user-{turn}-r{rng.randbytes(4).hex()}-{clock}",
                    "role": "assistant",
                    "text": f"Answer {turn}",
                    "timestamp": clock,
                    "metrics": _assistant_metrics(rng, slow),
                }
            )
            out.append(_envelope("conversation-update", clock, call, messages=list(history)))
        end = {**base, "status": "finished", "assistantCallDuration": clock - start}
        out.append(_envelope("status-update", clock + 1000, end))
    return out


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


MINUTE = 60_000

#: The calls of ``overview_calls``: (minutes before now, response ms, hang, error, finished).
OVERVIEW_CALLS = [
    (50, 800, True, False, True),
    (40, 1200, True, False, True),
    (30, 1600, False, True, True),
    (20, 2000, False, False, False),  # still going on
    (110, 500, False, False, True),
    (90, 700, False, False, True),
    (25 * 60, 900, False, False, True),
]


def overview_calls(now_ms: int) -> list[bytes]:
    """Calls whose overview figures are known (see ``OVERVIEW_EXPECTED``): each a user turn
    answered after a fixed response time, some with a hang or an error."""
    out: list[bytes] = []
    for n, (ago, response, hang, error, finished) in enumerate(OVERVIEW_CALLS):
        start = now_ms - ago * MINUTE
        base = {"id": f"OV-{n}", "assistantId": "asst-dental", "callType": "web"}
        call = {**base, "status": "ongoing"}
        out.append(_envelope("status-update", start, call, assistant=_assistant(0)))
        user = {"messageId": "user-1", "role": "user", "text": "Hello?", "timestamp": start + 1000}
        out.append(_envelope("conversation-update", start + 1000, call, messages=[user]))
        if hang:
            stuck = {"pendingMessageId": "user-1", "waitedMs": 500, "thresholdMs": 500}
            out.append(_envelope("hang", start + 1500, call, messages=[user], hang=stuck))
        if error:
            failure = {"type": "llm_error", "code": "rate_limit_exceeded", "provider": "openai"}
            out.append(_envelope("error", start + 1600, call, messages=[user], error=failure))
        answer = {
            "messageId": "user-1-answer",
            "role": "assistant",
            "text": "Hi, how can I help?",
            "timestamp": start + 1000 + response,
        }
        reply = [user, answer]
        out.append(_envelope("conversation-update", start + 1000 + response, call, messages=reply))
        if finished:
            ended = {**base, "status": "finished"}
            out.append(_envelope("status-update", start + 5000, ended))
    return out


#: The overview of ``overview_calls`` with ``dayStart`` 3 hours before now.
OVERVIEW_EXPECTED = {
    "live": {"ongoingCalls": 1, "hangsLastHour": 2, "errorsLastHour": 1, "openAlerts": 0},
    "hour.current": {
        "calls": 4,
        "hangRate": 0.5,
        "errorRate": 0.25,
        "responseP50": 1200.0,
        "responseP95": 2000.0,
    },
    "hour.previous": {
        "calls": 2,
        "hangRate": 0.0,
        "errorRate": 0.0,
        "responseP50": 500.0,
        "responseP95": 700.0,
    },
    "today.current": {
        "calls": 6,
        "hangRate": 2 / 6,
        "errorRate": 1 / 6,
        "responseP50": 800.0,
        "responseP95": 2000.0,
    },
    "today.previous": {
        "calls": 1,
        "hangRate": 0.0,
        "errorRate": 0.0,
        "responseP50": 900.0,
        "responseP95": 900.0,
    },
}
