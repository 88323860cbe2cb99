"""Simulated calls in Vapi's and Retell's webhook formats (``simulate --format vapi|retell``).

A renderer turns the events of ``CallSession`` (callhook's shape) into the bodies the platform
would send for the same call, following the mappings of docs/vapi.md and docs/retell.md in
reverse, so that the receiver's ``/webhook/vapi`` and ``/webhook/retell`` are exercised end to
end. Each renderer keeps a little state per call (its start, the messages as first rendered),
so that every body carrying a message carries it identically, as the platforms do.
"""

from __future__ import annotations

import enum
import itertools
from datetime import UTC, datetime
from typing import Any

import msgspec

from callhook.events import Envelope, Event

__all__ = ["RetellRenderer", "SimFormat", "VapiRenderer", "renderer_for"]

Json = dict[str, Any]  # Any: JSON values

_ENCODE = msgspec.json.encode


class SimFormat(enum.StrEnum):
    """The webhook format of a simulation."""

    #: callhook's own events (Interactly's shape) through the durable dispatcher.
    INTERACTLY = "interactly"
    #: Vapi server messages, to ``/webhook/vapi``.
    VAPI = "vapi"
    #: Retell webhooks, to ``/webhook/retell``.
    RETELL = "retell"


def _iso(ms: float) -> str:
    text = datetime.fromtimestamp(round(ms) / 1000, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _get(value: Any, *path: str) -> Any:  # Any: JSON values
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _num(value: Any) -> float:  # Any: a JSON value
    return float(value) if isinstance(value, int | float) else 0.0


class _Calls:
    """What a renderer remembers of each call."""

    def __init__(self) -> None:
        self.calls: dict[str, Json] = {}

    def state(self, event: Json) -> Json:
        call = event.get("call") or {}
        state = self.calls.setdefault(call.get("id", ""), {"messages": {}, "first": None})
        if state["first"] is None:
            state["first"] = event.get("timestamp")
        if isinstance(event.get("assistant"), dict) and event["assistant"].get("name"):
            state.setdefault("assistant", event["assistant"])
        if call.get("status") == "ongoing" and "startAt" in call:
            state.setdefault("started", call["startAt"])
        return state


class VapiRenderer:
    """CallSession events → Vapi server messages (``{"message": {...}}`` bodies)."""

    def __init__(self) -> None:
        self._calls = _Calls()

    def render(self, envelope: Envelope[Event]) -> list[bytes]:
        event: Json = msgspec.to_builtins(envelope.message)
        kind = event["type"]
        if kind == "error":
            return []  # Vapi has no error message (its endedReason says why a call failed)
        state = self._calls.state(event)
        call = event.get("call") or {}
        messages = [self._message(state, m) for m in event.get("messages") or []]
        status = {
            "initiated": "scheduled",
            "queued": "queued",
            "ongoing": "in-progress",
            "forwarded": "forwarding",
        }.get(call.get("status", ""), "ended")
        body: Json = {
            "timestamp": event["timestamp"],
            "type": kind,
            "call": self._call(state, call, status, event["timestamp"]),
            "customer": self._customer(call),
        }
        assistant = state.get("assistant")
        if assistant:
            body["assistant"] = {
                "name": assistant.get("name"),
                "firstMessage": assistant.get("welcomeMessage"),
                "model": {
                    "provider": assistant.get("assistantProvider"),
                    "model": assistant.get("assistantModel"),
                },
            }
        if kind == "status-update":
            body["status"] = status
        elif kind == "conversation-update":
            body["messages"] = messages
            body["messagesOpenAIFormatted"] = [
                {"role": "assistant" if m["role"] == "bot" else "user", "content": m["message"]}
                for m in messages
            ]
        else:
            body["artifact"] = {"messages": messages}
        if status == "ended" and call.get("callEndTriggerBy"):
            body["endedReason"] = _ended_reason(call)
        if kind == "end-of-call-report":
            self._report(body, event, messages)
        return [_ENCODE({"message": body})]

    def _call(self, state: Json, call: Json, status: str, ts: int) -> Json:
        web = call.get("callType") == "web"
        kind = "webCall" if web else f"{call.get('direction') or 'inbound'}PhoneCall"
        found: Json = {
            "id": call.get("id"),
            "orgId": call.get("teamId"),
            "type": kind,
            "status": status,
            "assistantId": call.get("assistantId"),
            "createdAt": _iso(state["first"] or ts),
            "updatedAt": _iso(ts),
        }
        if state.get("started"):
            found["startedAt"] = state["started"]
        if call.get("endAt"):
            found["endedAt"] = call["endAt"]
        variables = _get(call, "assistantOverrides", "dynamicVariables")
        if variables:
            found["assistantOverrides"] = {"variableValues": variables}
        if not web:
            found["phoneCallProvider"] = "twilio"
        return found

    @staticmethod
    def _customer(call: Json) -> Json:
        number = call.get("userNumber") or ""
        return {"name": number[4:]} if number.startswith("web-") else {"number": number}

    @staticmethod
    def _message(state: Json, message: Json) -> Json:
        known: dict[str, Json] = state["messages"]
        if message["messageId"] in known:  # as first rendered: every carrier is the same
            return known[message["messageId"]]
        user = message["role"] == "user"
        time = message.get("timestamp") or 0
        length = _num(_get(message, "metrics", "stt" if user else "tts", "durationMs"))
        length = length or _num(_get(message, "metrics", "tts", "audioDurationMs"))
        elapsed = _num(_get(message, "metrics", "timeline", "totalElapsedTimeMs"))
        rendered = {
            "role": "user" if user else "bot",
            "message": message.get("text") or "",
            "time": time,
            "endTime": time + round(length),
            "secondsFromStart": elapsed / 1000,
            "duration": round(length),
        }
        if message.get("metrics"):  # only full messages are remembered
            known[message["messageId"]] = rendered
            state.setdefault("metrics", {})[message["messageId"]] = message["metrics"]
        return rendered

    def _report(self, body: Json, event: Json, messages: list[Json]) -> None:
        call = event.get("call") or {}
        cost = call.get("cost") or {}
        body["call"]["costBreakdown"] = {
            "vapi": cost.get("interactlyCost", 0),
            "transport": cost.get("phoneCost", 0),
            "tts": cost.get("ttsVendorCost", 0),
            "stt": cost.get("sttVendorCost", 0),
            "llm": cost.get("llmVendorCost", 0),
            "total": cost.get("totalCost", 0),
            "llmPromptTokens": cost.get("inputTokensTotal", 0),
            "llmCompletionTokens": cost.get("outputTokensTotal", 0),
            "ttsCharacters": cost.get("ttsGenCharsTotal", 0),
        }
        analysis = event.get("analysis") or {}
        body["analysis"] = {
            k: analysis[k]
            for k in ("summary", "successEvaluation", "structuredData")
            if k in analysis
        }
        body["artifact"]["recordingUrl"] = f"https://recordings.invalid/{call.get('id')}.wav"
        body["artifact"]["performanceMetrics"] = {"turnLatencies": self._turns(event, messages)}

    def _turns(self, event: Json, messages: list[Json]) -> list[Json]:
        state = self._calls.calls.get((event.get("call") or {}).get("id", ""), {})
        metrics: dict[str, Json] = state.get("metrics", {})
        ids = [m.get("messageId") for m in event.get("messages") or []]
        turns = []
        for (before_id, before), (after_id, after) in zip(
            zip(ids, messages, strict=True), zip(ids[1:], messages[1:], strict=True), strict=False
        ):
            if before["role"] != "user" or after["role"] != "bot":
                continue
            user, reply = metrics.get(before_id or "", {}), metrics.get(after_id or "", {})
            turns.append(
                {
                    "modelLatency": _num(_get(reply, "llm", "responseLatencyMs")),
                    "voiceLatency": _num(_get(reply, "tts", "generationTimeMs")),
                    "transcriberLatency": _num(_get(user, "stt", "relativeLatencyMs")),
                    "endpointingLatency": _num(_get(user, "interactlyEOU", "turnDetectionTimeMs")),
                    "turnLatency": after["time"] - before["time"],
                }
            )
        return turns


def _ended_reason(call: Json) -> str:
    if call.get("status") == "failed":
        return "call.start.error-subscription-concurrency-limit-reached"
    return {
        "user": "customer-ended-call",
        "bot": "assistant-said-end-call-phrase",
    }.get(call.get("callEndTriggerBy", ""), "exceeded-max-duration")


class RetellRenderer:
    """CallSession events → Retell webhooks (``{"event", "call"}`` bodies)."""

    def __init__(self) -> None:
        self._calls = _Calls()

    def render(self, envelope: Envelope[Event]) -> list[bytes]:
        event: Json = msgspec.to_builtins(envelope.message)
        kind = event["type"]
        state = self._calls.state(event)
        call = event.get("call") or {}
        if event.get("messages") and kind == "conversation-update":
            state["transcript"] = self._utterances(state, event["messages"])
        if kind == "status-update" and call.get("status") == "ongoing":
            return [self._body("call_started", state, call, ended=False)]
        if kind == "conversation-update":
            return [self._body("transcript_updated", state, call, ended=False)]
        if kind == "end-of-call-report":
            return [
                self._body("call_ended", state, call, ended=True, report=event),
                self._body("call_analyzed", state, call, ended=True, report=event),
            ]
        return []  # hangs and errors: Retell reports latency at the end instead

    def _start(self, state: Json) -> int | None:
        started = state.get("started")
        if not started:
            return None
        return round(datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() * 1000)

    def _utterances(self, state: Json, messages: list[Json]) -> list[Json]:
        known: dict[str, Json] = state["messages"]
        found = []
        for message in messages:
            if message["messageId"] not in known:
                known[message["messageId"]] = self._utterance(message)
            found.append(known[message["messageId"]] | {"_id": message["messageId"]})
        return found

    @staticmethod
    def _utterance(message: Json) -> Json:
        metrics = message.get("metrics") or {}
        user = message["role"] == "user"
        if user:
            start = _num(_get(metrics, "stt", "startOffsetMs"))
            end = _num(_get(metrics, "stt", "endOffsetMs")) or start
        else:
            start = _num(_get(metrics, "timeline", "totalElapsedTimeMs"))
            end = start + _num(_get(metrics, "tts", "audioDurationMs"))
        words = (message.get("text") or "").split() or [""]
        step = (end - start) / len(words)
        return {
            "role": "user" if user else "agent",
            "content": message.get("text") or "",
            "words": [
                {
                    "word": word,
                    "start": round((start + i * step) / 1000, 3),
                    "end": round((start + (i + 1) * step) / 1000, 3),
                }
                for i, word in enumerate(words)
            ],
            "_metrics": metrics,
            "_timestamp": message.get("timestamp"),
        }

    def _body(
        self, kind: str, state: Json, call: Json, *, ended: bool, report: Json | None = None
    ) -> bytes:
        web = call.get("callType") == "web"
        inbound = call.get("direction") != "outbound"
        number, own = call.get("userNumber") or "", call.get("assistantNumber") or ""
        assistant = state.get("assistant") or {}
        found: Json = {
            "call_type": "web_call" if web else "phone_call",
            "call_id": call.get("id"),
            "agent_id": call.get("assistantId"),
            "agent_name": assistant.get("name"),
            "call_status": "ended" if ended else "ongoing",
            "metadata": call.get("metadata") or {},
        }
        if not web:
            found |= {
                "direction": "inbound" if inbound else "outbound",
                "from_number": number if inbound else own,
                "to_number": own if inbound else number,
            }
        variables = _get(call, "assistantOverrides", "dynamicVariables")
        if variables:
            found["retell_llm_dynamic_variables"] = variables
        start = self._start(state)
        if start is not None:
            found["start_timestamp"] = start
        utterances = state.get("transcript", [])
        found["transcript_object"] = [
            {k: v for k, v in u.items() if not k.startswith("_")} for u in utterances
        ]
        if report is not None:
            self._end(found, state, report, utterances, analyzed=kind == "call_analyzed")
        return _ENCODE({"event": kind, "call": found})

    def _end(
        self, found: Json, state: Json, report: Json, utterances: list[Json], *, analyzed: bool
    ) -> None:
        call = report.get("call") or {}
        failed = call.get("status") == "failed"
        end = round(datetime.fromisoformat(call["endAt"].replace("Z", "+00:00")).timestamp() * 1000)
        if failed:
            found["call_status"] = "error"
            found.pop("start_timestamp", None)
        found["end_timestamp"] = end
        found["duration_ms"] = call.get("assistantCallDuration", 0)
        found["disconnection_reason"] = (
            "concurrency_limit_reached"
            if failed
            else {"user": "user_hangup", "bot": "agent_hangup"}.get(
                call.get("callEndTriggerBy", ""), "max_duration_reached"
            )
        )
        found["recording_url"] = f"https://recordings.invalid/{call.get('id')}.wav"
        e2e, llm, tts = [], [], []
        start = self._start(state) or 0
        for before, after in itertools.pairwise(utterances):
            if before["role"] != "user" or after["role"] != "agent":
                continue
            spoken = start + before["words"][-1]["end"] * 1000
            e2e.append(round((after["_timestamp"] or spoken) - spoken))
            llm.append(_num(_get(after["_metrics"], "llm", "responseLatencyMs")))
            tts.append(_num(_get(after["_metrics"], "tts", "generationTimeMs")))
        found["latency"] = {
            name: {"values": values, "num": len(values), "max": max(values), "min": min(values)}
            for name, values in (("e2e", e2e), ("llm", llm), ("tts", tts))
            if values
        }
        cost = call.get("cost") or {}
        products = (
            ("retell_platform", "interactlyCost"),
            ("twilio", "phoneCost"),
            ("deepgram_stt", "sttVendorCost"),
            ("elevenlabs_tts", "ttsVendorCost"),
            ("llm_tokens", "llmVendorCost"),
        )
        found["call_cost"] = {
            "product_costs": [
                {"product": name, "cost": round(_num(cost.get(key)) * 100, 6)}
                for name, key in products
            ],
            "combined_cost": round(_num(cost.get("totalCost")) * 100, 6),
            "total_duration_seconds": _num(cost.get("callDuration")),
            "total_duration_unit_price": 0,
        }
        analysis = report.get("analysis") or {}
        if analysis and analyzed:
            found["call_analysis"] = {
                "call_summary": analysis.get("summary", ""),
                "call_successful": analysis.get("successEvaluation") in ("Excellent", "Good"),
                "custom_analysis_data": analysis.get("structuredData") or {},
                "in_voicemail": False,
                "user_sentiment": "Neutral",
            }


def renderer_for(format: SimFormat) -> VapiRenderer | RetellRenderer:
    """A fresh renderer of ``format`` (Vapi or Retell)."""
    if format is SimFormat.VAPI:
        return VapiRenderer()
    if format is SimFormat.RETELL:
        return RetellRenderer()
    raise ValueError(f"no renderer for {format.value}: its events are callhook's own")
