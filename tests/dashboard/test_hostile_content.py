"""Hostile text in calls renders as text in the dashboard and runs nothing (real Chromium).

A transcript, an assistant name, a call id, analysis text and alert text (the monitor's
systemic-hangs alert names the assistant) carry ``<img onerror>``, ``<script>`` and
``javascript:`` payloads. Each page must show them literally, never run them (no marker set,
no dialog, no request to the payloads' address) and never trip the Content-Security-Policy
(which would mean the page built markup from data and only the CSP stopped it).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx

from callhook.receiver._security import CONTENT_SECURITY_POLICY
from tests.dashboard.conftest import LiveServer

WAIT_MS = 15_000
IMG = "<img src=x onerror=\"window.__pwned=(window.__pwned||[]).concat('img')\">"
SCRIPT = "<script>window.__pwned=(window.__pwned||[]).concat('script')</script>"
JS_URL = "javascript:window.__pwned=(window.__pwned||[]).concat('url')"
CALL_ID = f"xss-{IMG}"
ASSISTANT_ID = f"asst-{SCRIPT}"
ASSISTANT_NAME = f"Name {SCRIPT} {IMG}"
TRANSCRIPT = f"Transcript {IMG} and {JS_URL}"
SUMMARY = f'Summary {SCRIPT} [link]({JS_URL}) <a href="{JS_URL}">click</a>'
WATCH = """() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective));
}"""


def _events(now: int) -> list[bytes]:
    assistant = {"_id": ASSISTANT_ID, "name": ASSISTANT_NAME, "assistantProvider": "openai"}
    call = {"id": CALL_ID, "assistantId": ASSISTANT_ID, "status": "ongoing", "callType": "web"}
    messages = [
        {"messageId": "user-1", "role": "user", "text": TRANSCRIPT, "timestamp": now - 9000},
        {"messageId": "welcome-1", "role": "assistant", "text": SCRIPT, "timestamp": now - 9500},
    ]

    def envelope(kind: str, at: int, **rest: Any) -> bytes:
        body = {"type": kind, "timestamp": at, "call": call, **rest}
        return json.dumps({"message": body}).encode()

    out = [envelope("status-update", now - 10_000, assistant=assistant)]
    out.append(envelope("conversation-update", now - 8000, messages=messages))
    for n in range(3):  # three hangs of one assistant: the systemic-hangs alert names it
        hang = {"pendingMessageId": f"user-{n + 1}", "waitedMs": 5000, "thresholdMs": 5000}
        out.append(envelope("hang", now - 7000 + n * 100, messages=messages, hang=hang))
    analysis = {"summary": SUMMARY, "successEvaluation": IMG, "structuredData": {IMG: JS_URL}}
    out.append(
        envelope(
            "end-of-call-report",
            now - 1000,
            messages=messages,
            assistant=assistant,
            analysis=analysis,
        )
    )
    return out


def _assert_inert(page: Any) -> None:  # Any: a Playwright Page
    assert page.evaluate("window.__pwned === undefined"), page.evaluate("window.__pwned")
    assert page.evaluate("window.__violations") == []
    assert page.locator("img[src=x], script:not([src])").count() == 0
    assert (
        page.evaluate(
            "[...document.querySelectorAll('[href],[src]')].filter(e => "
            "/^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src'))).length"
        )
        == 0
    )


def test_hostile_text_renders_as_text_and_runs_nothing(live_server: LiveServer, page: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.add_init_script(f"({WATCH})()")
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in _events(now):
            live_server.post(client, body)
        summaries: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the monitor's child process
            summaries = [a["summary"] for a in client.get("/api/alerts").json()["alerts"]]
            if any(ASSISTANT_ID in s for s in summaries):
                break
            time.sleep(0.2)  # bounded poll of another process
    assert any(ASSISTANT_ID in s for s in summaries), summaries

    response = page.goto(f"{live_server.url}/#/calls")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    row = page.locator("tr.call-row").first
    row.wait_for(timeout=WAIT_MS)
    assert CALL_ID in row.inner_text()
    _assert_inert(page)

    page.goto(f"{live_server.url}/#/calls/{quote(CALL_ID, safe='')}")
    page.wait_for_selector('[data-message-id="user-1"]', timeout=WAIT_MS)
    page.get_by_text("Summary <script>", exact=False).first.wait_for(timeout=WAIT_MS)
    text = page.inner_text("body")
    for shown in (CALL_ID, ASSISTANT_NAME, TRANSCRIPT, SCRIPT):
        assert shown in text
    assert SUMMARY in text
    _assert_inert(page)

    page.goto(f"{live_server.url}/#/alerts")
    page.get_by_text(f"assistant {ASSISTANT_ID}", exact=False).first.wait_for(timeout=WAIT_MS)
    assert f"assistant={ASSISTANT_ID}" in page.inner_text("body")
    _assert_inert(page)

    page.reload()
    page.get_by_text(f"assistant {ASSISTANT_ID}", exact=False).first.wait_for(timeout=WAIT_MS)
    _assert_inert(page)
    assert dialogs == []
    assert not [url for url in requests if url.rstrip("/").endswith("/x")]


def test_the_api_docs_page_works_under_the_policy(live_server: LiveServer, page: Any) -> None:
    page.add_init_script(f"({WATCH})()")
    response = page.goto(f"{live_server.url}/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector("#paths h2", timeout=WAIT_MS)
    assert "/api/calls" in page.inner_text("#paths")
    assert page.evaluate("window.__violations") == []
