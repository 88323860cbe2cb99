"""Retell webhooks as callhook events (the mapping table is in docs/retell.md).

``normalize_retell`` is pure: the same body always gives the same events, byte for byte, so a
re-sent ``call_ended`` is a duplicate for the store. Handled events (``{"event", "call"}``;
the deprecated ``data`` key is read too):

- ``call_started`` → a status-update (ongoing), at ``start_timestamp``;
- ``transcript_updated`` → a conversation-update of ``transcript_object``, at the end of its
  last word;
- ``call_ended`` → the conversation, the final status (finished; failed when the call never
  connected), a hang per slow turn (below) and the end-of-call report, at ``end_timestamp``;
- ``call_analyzed`` → the same, the report 1 ms later so that it supersedes the first one.

Other events give no event. Utterances become messages (``agent`` is the assistant;
``transfer_target`` is left out) with the messageId ``retell-<role>-<ms>``, the ms of their
first word from the call's start. ``latency`` gives the report's ``callStats``: its
``e2e``, ``llm`` and ``tts`` ``values`` are matched one to one with the replies (an agent
utterance right after a user utterance) when there are as many of each; a matched reply whose
``e2e`` latency (end of the user's speech to the agent's first audio) reaches the hang
threshold (5000 ms, as SPEC §2) also gives a ``hang`` event for that user turn.
"""

from __future__ import annotations

from statistics import fmean

from callhook._exceptions import DecodeError
from callhook.platforms._common import (
    Normalized,
    Platform,
    overrides,
    reply_pairs,
    transcript_message,
)
from callhook.platforms._json import Json, Reader, decode_body, drop, envelope, iso, message_id

__all__ = ["DEFAULT_HANG_THRESHOLD_MS", "normalize_retell"]

DEFAULT_HANG_THRESHOLD_MS = 5000
_HANDLED = ("call_started", "transcript_updated", "call_ended", "call_analyzed")
_ROLES = {"agent": "assistant", "user": "user"}
#: ``disconnection_reason`` values of calls that never connected: their status is failed.
_NEVER_CONNECTED = frozenset(
    (
        "dial_busy",
        "dial_failed",
        "dial_no_answer",
        "invalid_destination",
        "concurrency_limit_reached",
        "no_concurrency_fallback",
        "no_valid_payment",
        "scam_detected",
        "marked_as_spam",
        "user_declined",
        "registered_call_timeout",
        "error_user_not_joined",
        "telephony_provider_permission_denied",
        "telephony_provider_unavailable",
        "sip_routing_error",
    )
)
_BY_BOT = frozenset(("agent_hangup", "voicemail_reached", "ivr_reached"))
_STATUS = {"registered": "initiated", "ongoing": "ongoing", "not_connected": "failed"}
#: Product-name fragments of ``call_cost.product_costs`` → callhook's ``cost`` key; the
#: rest of ``combined_cost`` is the platform's own (``interactlyCost``).
_PRODUCTS = (
    (("twilio", "telnyx", "vonage", "telephony", "phone", "sip"), "phoneCost"),
    (("stt", "asr", "transcri", "deepgram"), "sttVendorCost"),
    (("tts", "voice", "elevenlabs", "cartesia", "playht", "minimax"), "ttsVendorCost"),
    (("llm", "gpt", "claude", "gemini", "model", "token"), "llmVendorCost"),
)
_NOT_KEPT = (
    "transcript",
    "transcript_object",
    "transcript_with_tool_calls",
    "scrubbed_transcript_with_tool_calls",
)


def normalize_retell(
    data: bytes, *, hang_threshold_ms: float = DEFAULT_HANG_THRESHOLD_MS
) -> Normalized:
    """The callhook events of one Retell webhook; raises ``DecodeError`` with the JSON path
    when the body is not one."""
    root = decode_body(data)
    kind = root.text("event")
    if kind is None:
        raise DecodeError("Object missing required field `event`")
    if kind not in _HANDLED:
        return Normalized(Platform.RETELL, kind, (), None)
    call = root.obj("call") or root.obj("data")
    if call is None:
        raise DecodeError("Object missing required field `call`")
    call_id = call.text("call_id")
    if not call_id:
        raise DecodeError("Expected a non-empty `str`", f"{call.path}.call_id")
    events = _Call(call, call_id, hang_threshold_ms).events(kind)
    return Normalized(Platform.RETELL, kind, tuple(events), call_id)


class _Call:
    def __init__(self, call: Reader, call_id: str, threshold_ms: float) -> None:
        self.call = call
        self.call_id = call_id
        self.threshold_ms = threshold_ms
        start = call.number("start_timestamp")
        end = call.number("end_timestamp")
        self.start = round(start) if start is not None else None
        self.end = round(end) if end is not None else None
        self.utterances = list(self._utterances())
        self.native = ""

    def events(self, kind: str) -> list[bytes]:
        self.native = kind
        messages = [m for m, _, _ in self.utterances]
        if kind == "call_started":
            return [envelope(self._event("status-update", self.start, self._fields(), extra=True))]
        if kind == "transcript_updated":
            ends = [end for _, _, end in self.utterances if end is not None]
            at = self.start + max(ends) if self.start is not None and ends else self.start
            event = self._event("conversation-update", at, self._fields())
            return [envelope(event | {"messages": messages})]
        at = self.end if self.end is not None else self.start
        fields = self._fields(ended=True)
        stats, hangs = self._latency(messages)
        report_at = at + 1 if kind == "call_analyzed" and at is not None else at
        report = self._event("end-of-call-report", report_at, fields | self._report(stats))
        report |= {"messages": messages, "analysis": self._analysis()}
        found = [
            self._event("conversation-update", at, fields) | {"messages": messages},
            self._event("status-update", at, fields),
            *hangs,
            report,
        ]
        return [envelope(event) for event in found]

    # -- pieces ---------------------------------------------------------------------------------

    def _event(self, kind: str, at: int | None, call: Json, *, extra: bool = False) -> Json:
        name = self.call.text("agent_name")
        agent = self.call.text("agent_id")
        event: Json = {
            "timestamp": at,
            "type": kind,
            "call": call,
            "assistant": {k: v for k, v in (("_id", agent), ("name", name)) if v is not None},
            "phone": {"provider": {"name": self._telephony()}},
            "customer": {"number": call.get("userNumber", "")},
            "analysis": {},
        }
        platform: Json = {"name": Platform.RETELL, "type": self.native}
        if extra or kind == "end-of-call-report":
            platform["event"] = drop(self.call.value, _NOT_KEPT)
        event["platform"] = platform
        return event

    def _telephony(self) -> str:
        ids = self.call.obj("telephony_identifier")
        return "twilio" if ids is not None and ids.text("twilio_call_sid") else ""

    @property
    def _web(self) -> bool:
        return self.call.text("call_type") == "web_call"

    def _fields(self, *, ended: bool = False) -> Json:
        call = self.call
        native = call.text("call_status")
        direction = call.text("direction")
        inbound = direction != "outbound"
        caller, callee = call.text("from_number"), call.text("to_number")
        reason = call.text("disconnection_reason")
        fields: Json = {
            "id": self.call_id,
            "platform": Platform.RETELL,
            "assistantId": call.text("agent_id"),
            "callType": "web" if self._web else "phone",
            "direction": direction or "",
            "startAt": iso(self.start) if self.start is not None else None,
            "userNumber": "" if self._web else ((caller if inbound else callee) or ""),
            "assistantNumber": call.text("agent_id")
            if self._web
            else ((callee if inbound else caller) or ""),
            "platformStatus": native,
            "metadata": call.raw_obj("metadata"),
            "assistantOverrides": overrides(call.raw_obj("retell_llm_dynamic_variables")),
        }
        status = _STATUS.get(native or "", "ongoing")
        if ended or native in ("ended", "error"):
            failed = native in ("error", "not_connected") or self.start is None
            status = "failed" if failed or reason in _NEVER_CONNECTED else "finished"
            fields["endAt"] = iso(self.end) if self.end is not None else None
            fields["callEndTriggerBy"] = (
                "user" if reason == "user_hangup" else ("bot" if reason in _BY_BOT else "system")
            )
            fields["phoneCallStatusReason"] = reason or ""
            duration = call.number("duration_ms")
            if duration is None and self.start is not None and self.end is not None:
                duration = self.end - self.start
            fields["assistantCallDuration"] = round(duration) if duration is not None else None
        fields["status"] = status
        return {k: v for k, v in fields.items() if v is not None}

    def _utterances(self) -> list[tuple[Json, int | None, int | None]]:
        """Each utterance as a message, with its start and end in ms from the call's start."""
        found = []
        taken: set[str] = set()
        for index, item in self.call.objects("transcript_object"):
            role = _ROLES.get(item.text("role") or "")
            if role is None:
                continue
            words = [w for _, w in item.objects("words")]
            starts = [s for w in words if (s := w.number("start")) is not None]
            ends = [e for w in words if (e := w.number("end")) is not None]
            start = round(min(starts) * 1000) if starts else None
            end = round(max(ends) * 1000) if ends else None
            stamp = self.start + start if self.start is not None and start is not None else None
            message = transcript_message(
                message_id(Platform.RETELL, role, start, index, taken),
                role,
                item.text("content") or "",
                timestamp=stamp,
                start_ms=start,
                end_ms=end,
            )
            found.append((message, start, end))
        return found

    def _latency(self, messages: list[Json]) -> tuple[Json, list[Json]]:
        """The report's ``callStats`` and the hang events of the slow replies."""
        latency = self.call.obj("latency")
        if latency is None:
            return {}, []
        groups = {name: latency.obj(name) for name in ("e2e", "llm", "tts", "asr")}
        values = {n: g.numbers("values") if g else [] for n, g in groups.items()}
        pairs = reply_pairs(messages)
        ends = {m["messageId"]: end for m, _, end in self.utterances}
        replies: list[Json] = []
        hangs: list[Json] = []
        if pairs and len(values["e2e"]) == len(pairs):
            for index, (user_id, reply_id) in enumerate(pairs):
                reply: Json = {"userMessageId": user_id, "messageId": reply_id}
                for name, key in (("e2e", "e2e"), ("llm", "llm"), ("tts", "tts")):
                    if len(values[name]) == len(pairs):
                        reply[f"{key}LatencyMs"] = round(values[name][index])
                replies.append(reply)
                waited = values["e2e"][index]
                user_end = ends.get(user_id)
                if waited >= self.threshold_ms and user_end is not None and self.start is not None:
                    hangs.append(self._hang(messages, user_id, user_end, waited))
        stats: Json = {
            "turnsStats": {
                "botResponseTime": [round(v) for v in values["e2e"]],
                "replyLatencies": replies,
            },
            "llmStats": _summary(values["llm"], "responseCount", "responseLatency"),
            "ttsStats": _summary(values["tts"], "totalRequests", "latency"),
            "sttStats": _summary(values["asr"], "responseCount", "responseLatency"),
            "latencyPercentiles": {
                name: drop(group.value, ("values",)) for name, group in groups.items() if group
            },
        }
        return stats, hangs

    def _hang(self, messages: list[Json], user_id: str, user_end: int, waited: float) -> Json:
        assert self.start is not None
        upto = next(i for i, m in enumerate(messages) if m["messageId"] == user_id)
        at = self.start + user_end + round(self.threshold_ms)
        event = self._event("hang", at, self._fields(ended=False) | {"status": "ongoing"})
        info = {
            "pendingMessageId": user_id,
            "waitedMs": round(waited),
            "thresholdMs": round(self.threshold_ms),
            "stage": "unknown",
        }
        return event | {"messages": messages[: upto + 1], "hang": info}

    def _report(self, stats: Json) -> Json:
        extras: Json = {
            "cost": self._cost(),
            "metrics": {"callStats": stats},
            "recording": {
                "s3Bucket": "",
                "path": "",
                "url": self.call.text("recording_url") or "",
            },
        }
        return extras

    def _cost(self) -> Json:
        cost = self.call.obj("call_cost")
        parts = dict.fromkeys(
            ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost"),
            0.0,
        )
        if cost is None:
            return {"callDuration": 0, **parts, "totalCost": 0.0, "analysis": {"total": 0}}
        combined = (cost.number("combined_cost") or 0.0) / 100
        for _, product in cost.objects("product_costs"):
            name = (product.text("product") or "").lower()
            target = next((t for keys, t in _PRODUCTS if any(k in name for k in keys)), None)
            if target is not None:
                parts[target] += (product.number("cost") or 0.0) / 100
        parts["interactlyCost"] = combined - sum(parts.values())
        duration = cost.number("total_duration_seconds") or 0
        return {"callDuration": duration, **parts, "totalCost": combined, "analysis": {"total": 0}}

    def _analysis(self) -> Json:
        analysis = self.call.obj("call_analysis")
        if analysis is None:
            return {}
        success = analysis.flag("call_successful")
        found: Json = {
            "summary": analysis.text("call_summary") or "",
            "successEvaluation": "" if success is None else ("true" if success else "false"),
            "structuredData": analysis.raw_obj("custom_analysis_data") or {},
            "outcome": "",
            "userSentiment": analysis.text("user_sentiment"),
            "inVoicemail": analysis.flag("in_voicemail"),
        }
        return {k: v for k, v in found.items() if v is not None}


def _summary(values: list[float], count_key: str, prefix: str) -> Json:
    if not values:
        return {}
    return {
        count_key: len(values),
        f"{prefix}Total": sum(values),
        f"{prefix}Avg": fmean(values),
    }
