"""Issue 20's findings, in Chromium: a long assistant id stays in its column of the call
header, and the calls list names provider and model from the messages' LLM metrics."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.dashboard.conftest import LiveServer

WAIT_MS = 10_000
LONG_ID = "65f1c2a9b8e4d7f0a1b2c3d4e5f60718"  # 32 characters, no name


def _call(call_id: str, start: int) -> bytes:
    messages = [
        {"messageId": "user-1", "role": "user", "text": "Hello", "timestamp": start},
        {
            "messageId": "user-1-a",
            "role": "assistant",
            "text": "Hi there",
            "timestamp": start + 900,
            "metrics": {"llm": {"responseLatencyMs": 650, "provider": "groq", "model": "llama"}},
        },
    ]
    call = {"id": call_id, "assistantId": LONG_ID, "status": "ongoing", "callType": "web"}
    body = {
        "message": {
            "type": "conversation-update",
            "timestamp": start + 900,
            "call": call,
            "assistant": {"_id": LONG_ID},
            "messages": messages,
        }
    }
    return json.dumps(body).encode()


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_a_long_assistant_id_does_not_overlap_its_neighbour(
    live_server: LiveServer, page: Any
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _call("WC-long-id", int(time.time() * 1000) - 60_000))
    for width in (1400, 900):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/#/calls/WC-long-id")
        page.wait_for_selector("dl.facts dd", timeout=WAIT_MS)
        facts = page.locator("dl.facts > div")
        assert facts.nth(0).inner_text().endswith(LONG_ID)
        # The id's text (a Range over it, not its box) stays inside its own grid cell.
        text = page.evaluate(
            """() => { const dd = document.querySelector('dl.facts dd');
                 const r = document.createRange(); r.selectNodeContents(dd);
                 const b = r.getBoundingClientRect();
                 return {x: b.x, y: b.y, width: b.width, height: b.height}; }"""
        )
        own = facts.nth(0).bounding_box()
        neighbour = facts.nth(1).bounding_box()
        assert text["x"] + text["width"] <= own["x"] + own["width"] + 0.5, width
        assert not _overlap(text, neighbour), width
        assert page.inner_text("dl.facts > div:nth-child(2) dd") == "groq / llama"


def test_the_calls_list_names_provider_and_model_from_llm_metrics(
    live_server: LiveServer, page: Any
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _call("WC-llm", int(time.time() * 1000) - 60_000))
    page.goto(f"{live_server.url}/#/calls")
    page.wait_for_selector('tr[data-call-id="WC-llm"]', timeout=WAIT_MS)
    assert "groq / llama" in page.inner_text('tr[data-call-id="WC-llm"]')
