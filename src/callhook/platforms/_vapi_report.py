"""The end of a Vapi call as callhook's end-of-call report: cost, callStats, analysis.

The reply-latency rule (docs/vapi.md): ``artifact.performanceMetrics.turnLatencies`` are
matched one to one with the replies (an assistant message right after a user message) when
there are as many of each, and listed per reply in ``turnsStats.replyLatencies``.
"""

from __future__ import annotations

from statistics import fmean

from callhook.platforms._common import reply_pairs
from callhook.platforms._json import Json, Reader, epoch_ms, millis

__all__ = ["report_analysis", "report_call"]

#: ``costBreakdown`` key (or ``costs[].type``) → callhook's ``cost`` key.
_COST_KEYS = {
    "vapi": "interactlyCost",
    "transport": "phoneCost",
    "tts": "ttsVendorCost",
    "voice": "ttsVendorCost",
    "stt": "sttVendorCost",
    "transcriber": "sttVendorCost",
    "llm": "llmVendorCost",
    "model": "llmVendorCost",
}
_PARTS = ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost")


def report_call(
    message: Reader, call: Reader | None, artifact: Reader | None, messages: list[Json]
) -> Json:
    """The keys the end-of-call report adds to ``call``: cost, callStats, recording."""
    extras: Json = {
        "cost": _cost(message, call),
        "metrics": {"callStats": _stats(artifact, messages)},
    }
    if artifact is not None:
        recording = artifact.obj("recording")
        mono = recording.obj("mono") if recording is not None else None
        url = (mono.text("combinedUrl") if mono else None) or artifact.text("recordingUrl")
        extras["recording"] = {"s3Bucket": "", "path": "", "url": url or ""}
    return extras


def _cost(message: Reader, call: Reader | None) -> Json:
    parts = dict.fromkeys(_PARTS, 0.0)
    analysis = 0.0
    breakdown = call.obj("costBreakdown") if call is not None else None
    tokens: Json = {}
    if breakdown is not None:
        for key, target in _COST_KEYS.items():
            parts[target] += breakdown.number(key) or 0.0
        costs = breakdown.obj("analysisCostBreakdown")
        analysis = sum(costs.number(k) or 0.0 for k in costs.value) if costs else 0.0
        tokens = {
            "inputTokensTotal": millis(breakdown.number("llmPromptTokens")),
            "outputTokensTotal": millis(breakdown.number("llmCompletionTokens")),
            "ttsGenCharsTotal": millis(breakdown.number("ttsCharacters")),
        }
    else:
        for _, item in message.objects("costs"):
            kind, amount = item.text("type") or "", item.number("cost") or 0.0
            if kind == "analysis":
                analysis += amount
            else:
                parts[_COST_KEYS.get(kind, "interactlyCost")] += amount
    started = epoch_ms(call.text("startedAt") if call else None)
    ended = epoch_ms(call.text("endedAt") if call else None)
    duration = (ended - started) / 1000 if started is not None and ended is not None else 0
    cost: Json = {"callDuration": duration, **parts, "totalCost": sum(parts.values())}
    cost["analysis"] = {"total": analysis}
    cost.update({k: v for k, v in tokens.items() if v is not None})
    return cost


def _stats(artifact: Reader | None, messages: list[Json]) -> Json:
    metrics = artifact.obj("performanceMetrics") if artifact else None
    if metrics is None:
        return {}
    turns = [t for _, t in metrics.objects("turnLatencies")]
    total = [millis(t.number("turnLatency")) for t in turns]
    model = [t.number("modelLatency") for t in turns]
    replies: list[Json] = []
    pairs = reply_pairs(messages)
    if turns and len(pairs) == len(turns):
        for (user_id, reply_id), turn in zip(pairs, turns, strict=True):
            latencies = {
                "turnLatencyMs": turn.number("turnLatency"),
                "modelLatencyMs": turn.number("modelLatency"),
                "voiceLatencyMs": turn.number("voiceLatency"),
                "transcriberLatencyMs": turn.number("transcriberLatency"),
                "endpointingLatencyMs": turn.number("endpointingLatency"),
            }
            replies.append(
                {"userMessageId": user_id, "messageId": reply_id}
                | {k: millis(v) for k, v in latencies.items() if v is not None}
            )
    known = [m for m in model if m is not None]
    return {
        "turnsStats": {
            "botResponseTime": [t for t in total if t is not None],
            "bargeInCount": millis(metrics.number("numAssistantInterrupted")) or 0,
            "replyLatencies": replies,
        },
        "llmStats": {
            "responseCount": len(known),
            "responseLatencyTotal": sum(known),
            "responseLatencyAvg": metrics.number("modelLatencyAverage")
            or (fmean(known) if known else 0),
        },
        "ttsStats": {"latencyAvg": metrics.number("voiceLatencyAverage") or 0},
        "sttStats": {"responseLatencyAvg": metrics.number("transcriberLatencyAverage") or 0},
    }


def report_analysis(message: Reader, call: Reader | None) -> Json:
    """``message.analysis`` of the report."""
    analysis = message.obj("analysis") or (call and call.obj("analysis"))
    if analysis is None:
        return {}
    found: Json = {
        "summary": analysis.text("summary") or "",
        "successEvaluation": _text(analysis.value.get("successEvaluation")),
        "structuredData": analysis.raw_obj("structuredData") or {},
        "outcome": "",
    }
    return found


def _text(value: object) -> str:
    """``successEvaluation`` as a string (Vapi rubrics give strings, numbers or booleans)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
