"""Reading a call back from ``callhook serve``'s query API and comparing it with what the
adapter emitted."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from callhook import events
from callhook.engine import ListSink


def emitted_call(sink: ListSink) -> dict[str, Any]:
    """What the emitter produced for its one call: each message as first sent, the last
    status, the end-of-call report."""
    messages: dict[str, Any] = {}
    status = None
    report: dict[str, Any] | None = None
    for envelope in sink.envelopes:
        event = envelope.message
        assert isinstance(event.call, events.Call)
        if isinstance(event, events.StatusUpdate):
            status = event.call.status
        if isinstance(event, events.EndOfCallReport):
            report = msgspec.to_builtins(event)
        for message in getattr(event, "messages", None) or []:
            messages.setdefault(message.message_id, msgspec.to_builtins(message))
    assert report is not None
    return {"messages": messages, "status": status, "report": report}


async def assert_stored_exactly(base: str, call_id: str, sink: ListSink) -> None:
    want = emitted_call(sink)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        detail = (await client.get(f"/api/calls/{call_id}")).json()
        page = (await client.get(f"/api/calls/{call_id}/messages", params={"limit": "500"})).json()
    assert page["nextCursor"] is None
    stored = {message["messageId"]: message for message in page["messages"]}
    assert stored == want["messages"]
    assert detail["status"] == want["status"] == "finished"
    report = want["report"]
    assert detail["analysis"] == report.get("analysis")
    assert detail["cost"] == report["call"].get("cost")
    for key in ("metrics", "recording", "endAt"):
        assert detail["report"].get(key) == report["call"].get(key), key
    for key in ("callEndTriggerBy", "assistantCallDuration", "startAt", "endAt"):
        assert detail["call"].get(key) == report["call"].get(key), key
