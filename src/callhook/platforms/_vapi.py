"""Vapi server messages as callhook events (the mapping table is in docs/vapi.md).

``normalize_vapi`` is pure: the same body always gives the same events, byte for byte, so a
re-sent delivery is a duplicate for the store. Handled types: ``status-update``,
``conversation-update``, ``hang`` and ``end-of-call-report``; every other type (``transcript``,
``speech-update``, ``user-interrupted``, tool and assistant requests, ...) gives no event.

- Messages come from ``messages`` (conversation-update) or ``artifact.messages``; ``bot`` is
  the assistant; system and tool messages are left out. Each messageId is
  ``vapi-<role>-<time>`` from the message's own epoch-ms ``time``.
- Statuses: scheduled → initiated; queued, ringing → queued; in-progress → ongoing;
  forwarding → forwarded; ended → finished, or failed when the call never started (no
  ``startedAt``). The native status stays in ``call.platformStatus``.
- ``artifact.performanceMetrics`` gives the report's ``callStats``; its ``turnLatencies`` are
  matched one to one with the replies (an assistant message right after a user message) when
  there are as many of each, and listed per reply in ``turnsStats.replyLatencies``.
- What has no counterpart stays in ``message.platform.event`` (without the transcript, the
  assistant, the customer and phone-number objects, and per-delivery presigned URLs).
"""

from __future__ import annotations

import re

from callhook._exceptions import DecodeError
from callhook.platforms._common import (
    Normalized,
    Platform,
    overrides,
    transcript_message,
)
from callhook.platforms._json import (
    Json,
    Reader,
    decode_body,
    drop,
    envelope,
    epoch_ms,
    message_id,
    millis,
)
from callhook.platforms._vapi_report import report_analysis, report_call

__all__ = ["normalize_vapi"]

_STATUS = {
    "scheduled": "initiated",
    "queued": "queued",
    "ringing": "queued",
    "in-progress": "ongoing",
    "forwarding": "forwarded",
    "ended": "finished",
}
_HANDLED = ("status-update", "conversation-update", "hang", "end-of-call-report")
_ROLES = {"bot": "assistant", "assistant": "assistant", "user": "user"}
#: Keys of the message that are mapped, or that must not be stored (credentials, bulk).
_NOT_KEPT = (
    "type",
    "timestamp",
    "call",
    "assistant",
    "customer",
    "phoneNumber",
    "messages",
    "messagesOpenAIFormatted",
    "artifact",
    "analysis",
    "costs",
)
_ARTIFACT_NOT_KEPT = ("messages", "messagesOpenAIFormatted", "transcript", "performanceMetrics")
_CALL_NOT_KEPT = (
    "id",
    "orgId",
    "status",
    "assistantId",
    "assistant",
    "assistantOverrides",
    "squad",
    "workflow",
    "customer",
    "phoneNumber",
    "messages",
    "artifact",
    "analysis",
    "costs",
    "costBreakdown",
    "startedAt",
    "endedAt",
    "monitor",
)


def normalize_vapi(data: bytes) -> Normalized:
    """The callhook events of one Vapi delivery (``{"message": {...}}``).

    Raises ``DecodeError`` with the JSON path when the body is not a Vapi server message.
    """
    root = decode_body(data)
    message = root.obj("message")
    if message is None:
        raise DecodeError("Object missing required field `message`")
    kind = message.text("type")
    if kind is None:
        raise DecodeError("Object missing required field `type`", "$.message")
    vapi = _Message(message)
    events = vapi.events(kind) if kind in _HANDLED else ()
    return Normalized(Platform.VAPI, kind, tuple(events), vapi.call_id)


def _presigned(key: str) -> bool:
    return key.startswith("presigned")


class _Message:
    def __init__(self, message: Reader) -> None:
        self.message = message
        self.ts = millis(message.number("timestamp"))
        self.call = message.obj("call")
        call_id = self.call.text("id") if self.call is not None else None
        self.call_id = call_id or None
        self.artifact = message.obj("artifact")
        self.customer = message.obj("customer") or (self.call and self.call.obj("customer"))

    # -- events -------------------------------------------------------------------------------

    def events(self, kind: str) -> list[bytes]:
        event: Json = {"timestamp": self.ts, "type": kind}
        native_status = self.message.text("status") if kind == "status-update" else None
        event["call"] = self._call(native_status)
        event["assistant"] = self._assistant()
        messages = self._messages(kind)
        if kind != "status-update":
            event["messages"] = messages
        event["phone"] = self._phone()
        event["customer"] = self._customer()
        event["analysis"] = {}
        if kind == "hang":
            users = [m["messageId"] for m in messages if m["role"] == "user"]
            event["hang"] = {"stage": "unknown"}
            if users:
                event["hang"] = {"pendingMessageId": users[-1], "stage": "unknown"}
        if kind == "end-of-call-report":
            if event["call"] is not None:
                event["call"].update(report_call(self.message, self.call, self.artifact, messages))
            event["analysis"] = report_analysis(self.message, self.call)
        event["platform"] = {"name": Platform.VAPI, "type": kind, "event": self._extra()}
        failure = self._failure(event) if kind == "end-of-call-report" else None
        return [envelope(event)] if failure is None else [envelope(failure), envelope(event)]

    def _failure(self, report: Json) -> Json | None:
        """An ``error`` event when the report's ``endedReason`` names an LLM or STT failure."""
        reason = self.message.text("endedReason") or ""
        kind = error_type(reason)
        call = report.get("call")
        if kind is None or call is None:
            return None
        ended = epoch_ms(call.get("endAt"))
        detail = self.call.text("endedMessage") if self.call is not None else None
        return {
            "timestamp": ended if ended is not None else self.ts,
            "type": "error",
            "call": {k: v for k, v in call.items() if k not in ("cost", "metrics", "recording")},
            "assistant": report.get("assistant"),
            "messages": report.get("messages"),
            "phone": report["phone"],
            "customer": report["customer"],
            "analysis": {},
            "error": {
                "type": kind,
                "code": reason,
                "message": detail or reason,
                "provider": _vendor(reason),
                "retryable": False,
                "details": {},
            },
            "platform": {"name": Platform.VAPI, "type": "end-of-call-report"},
        }

    def _messages(self, kind: str) -> list[Json]:
        source = self.message if kind == "conversation-update" else self.artifact
        if source is None or (kind == "conversation-update" and "messages" not in source.value):
            source = self.artifact
        if source is None:
            return []
        found: list[Json] = []
        taken: set[str] = set()
        for index, item in source.objects("messages"):
            role = _ROLES.get(item.text("role") or "")
            if role is None:
                continue
            time, end = millis(item.number("time")), millis(item.number("endTime"))
            offset = item.number("secondsFromStart")
            start = round(offset * 1000) if offset is not None else None
            length = end - time if end is not None and time is not None else None
            found.append(
                transcript_message(
                    message_id(Platform.VAPI, role, time, index, taken),
                    role,
                    item.text("message") or "",
                    timestamp=time,
                    start_ms=start,
                    end_ms=start + length if start is not None and length is not None else None,
                )
            )
        return found

    # -- call, assistant, phone, customer ----------------------------------------------------

    def _call(self, native_status: str | None) -> Json | None:
        call = self.call
        if call is None or self.call_id is None:
            return None
        started = call.text("startedAt") or self.message.text("startedAt")
        ended = call.text("endedAt") or self.message.text("endedAt")
        kind = call.text("type") or ""
        fields: Json = {
            "id": self.call_id,
            "platform": Platform.VAPI,
            "teamId": call.text("orgId"),
            "assistantId": call.text("assistantId"),
            "callType": "phone" if "PhoneCall" in kind else ("web" if kind else None),
            "direction": {"inboundPhoneCall": "inbound", "outboundPhoneCall": "outbound"}.get(
                kind, "" if kind else None
            ),
            "startAt": started,
            "endAt": ended,
            "userNumber": self._user_number(),
        }
        native = native_status or call.text("status")
        if native is not None:
            fields["platformStatus"] = native
            status = _STATUS.get(native)
            if status == "finished" and not started:
                status = "failed"
            fields["status"] = status
        reason = self.message.text("endedReason") or call.text("endedReason")
        if reason is not None:
            fields["phoneCallStatusReason"] = reason
            fields["callEndTriggerBy"] = _trigger(reason)
        start_ms, end_ms = epoch_ms(started), epoch_ms(ended)
        if start_ms is not None and end_ms is not None:
            fields["assistantCallDuration"] = end_ms - start_ms
        number = self.message.obj("phoneNumber") or call.obj("phoneNumber")
        if number is not None and number.text("number"):
            fields["assistantNumber"] = number.text("number")
        monitor = call.obj("monitor")
        if monitor is not None and monitor.text("controlUrl"):
            fields["monitor"] = {"controlUrl": monitor.text("controlUrl")}
        custom = call.obj("assistantOverrides")
        variables = custom.raw_obj("variableValues") if custom is not None else None
        fields["assistantOverrides"] = overrides(variables)
        return {k: v for k, v in fields.items() if v is not None}

    def _user_number(self) -> str | None:
        customer = self.customer
        if customer is None:
            return None
        number = customer.text("number")
        if number:
            return number
        name = customer.text("name")
        return f"web-{name}" if name else None

    def _assistant(self) -> Json | None:
        assistant = self.message.obj("assistant")
        if assistant is None:
            return None
        found: Json = {
            "_id": (self.call.text("assistantId") if self.call else None) or assistant.text("id"),
            "name": assistant.text("name"),
            "welcomeMessage": assistant.text("firstMessage"),
            "endCallMessage": assistant.text("endCallMessage"),
            "maxCallDuration": assistant.number("maxDurationSeconds"),
        }
        model = assistant.obj("model")
        if model is not None:
            found["assistantProvider"] = model.text("provider")
            found["assistantModel"] = model.text("model")
            found["assistantTemperature"] = model.number("temperature")
            found["assistantMaxTokens"] = model.number("maxTokens")
            prompts = [m.text("content") for _, m in model.objects("messages")]
            found["assistantSystemPrompt"] = next((p for p in prompts if p), None)
        speech: Json = {}
        transcriber = assistant.obj("transcriber")
        if transcriber is not None:
            speech["stt"] = {"vendor": transcriber.text("provider") or ""}
        voice = assistant.obj("voice")
        if voice is not None:
            speech["ttsData"] = [
                {"vendor": voice.text("provider") or "", "voice": voice.text("voiceId") or ""}
            ]
        if speech:
            found["config"] = {"speech": speech}
        return {k: v for k, v in found.items() if v is not None}

    def _phone(self) -> Json:
        provider = self.call.text("phoneCallProvider") if self.call is not None else None
        return {"provider": {"name": provider or ""}}

    def _customer(self) -> Json:
        return {"number": self._user_number() or ""}

    def _extra(self) -> Json:
        extra = drop(self.message.value, _NOT_KEPT)
        if self.artifact is not None:
            artifact = drop(self.artifact.value, _ARTIFACT_NOT_KEPT)
            extra["artifact"] = {k: v for k, v in artifact.items() if not _presigned(k)}
        if self.call is not None:
            extra["call"] = drop(self.call.value, _CALL_NOT_KEPT)
        return extra


#: LLM vendors as Vapi names them in ``endedReason`` (``pipeline-error-openai-429-...``).
_LLM_VENDORS = (
    "openai",
    "azure-openai",
    "google",
    "xai",
    "baseten",
    "anthropic",
    "groq",
    "mistral",
    "cerebras",
    "deep-seek",
    "inflection-ai",
    "minimax-llm",
    "vapi",
)
_REASON_PREFIX = re.compile(
    r"^(?:pipeline-error-|call\.in-progress\.error-(?:vapifault-|providerfault-)?)"
)


def error_type(reason: str) -> str | None:
    """``stt_error`` or ``llm_error`` for an ``endedReason`` naming such a failure, else
    ``None`` (voice failures have no callhook error type): a transcriber failure (or a
    transcription vendor ``returning`` an error) is ``stt_error``; an ``llm`` failure, or an
    HTTP error of an LLM vendor, ``llm_error``."""
    rest = _REASON_PREFIX.sub("", reason)
    if rest == reason or "voice" in rest:
        return None
    if "transcriber" in rest or "-returning-" in rest:  # deepgram-returning-401-...
        return "stt_error"
    if "llm" in rest or any(
        rest.startswith(f"{vendor}-") and re.match(r"\d{3}-", rest[len(vendor) + 1 :])
        for vendor in _LLM_VENDORS
    ):
        return "llm_error"
    return None


def _vendor(reason: str) -> str:
    rest = _REASON_PREFIX.sub("", reason)
    for vendor in sorted(_LLM_VENDORS, key=len, reverse=True):
        if rest.startswith(f"{vendor}-"):
            return vendor
    return rest.split("-")[0]


def _trigger(reason: str) -> str:
    """``callEndTriggerBy`` from Vapi's ``endedReason``."""
    if reason.startswith("customer-"):
        return "user"
    if reason.startswith("assistant-"):
        return "bot"
    return "system"
