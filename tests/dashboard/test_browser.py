"""The dashboard in real headless Chromium against a real server (see conftest.py).

Waits are Playwright's bounded waits for a condition, never sleeps. Screenshots go to
``test-output/``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.dashboard.conftest import LiveServer, screenshot
from tests.dashboard.scenario import background_calls, scripted_call

WAIT_MS = 10_000


def _conversation(call_id: str, texts: list[tuple[str, str]], start: int) -> bytes:
    messages = [
        {
            "messageId": mid,
            "role": "user" if mid.startswith("user-") and "-r" not in mid else "assistant",
            "text": text,
            "timestamp": start + i * 1000,
        }
        for i, (mid, text) in enumerate(texts)
    ]
    call = {"id": call_id, "assistantId": "asst-live", "status": "ongoing", "callType": "web"}
    body = {
        "message": {
            "type": "conversation-update",
            "timestamp": start + len(texts) * 1000,
            "call": call,
            "messages": messages,
        }
    }
    return json.dumps(body).encode()


def test_call_view_shows_a_new_message_without_reload(live_server: LiveServer, page: Any) -> None:
    """A conversation-update ingested while the call is open appears in the chat, same page."""
    start = int(time.time() * 1000) - 60_000
    history = [("welcome-1", "Hello, how can I help?"), ("user-1", "What are your hours?")]
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _conversation("WC-live-1", history, start))
        page.goto(f"{live_server.url}/#/calls/WC-live-1")
        page.wait_for_selector('[data-message-id="user-1"]', timeout=WAIT_MS)
        page.wait_for_function(
            "() => document.getElementById('live-state').textContent === 'live'", timeout=WAIT_MS
        )
        page.evaluate("window.__sameDocument = true")
        history.append(("user-1-r1-x", "We are open nine to five, Monday to Friday."))
        live_server.post(client, _conversation("WC-live-1", history, start))
        page.wait_for_selector('[data-message-id="user-1-r1-x"]', timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True
    assert "nine to five" in page.inner_text("#chat")
    screenshot(page, "call-live-update")


def test_calls_list_shows_a_new_call_live(live_server: LiveServer, page: Any) -> None:
    """A call that starts while the list is open shows up in it, and search narrows it."""
    start = int(time.time() * 1000) - 60_000
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _conversation("WC-first", [("user-1", "hi")], start))
        page.goto(f"{live_server.url}/#/calls")
        page.wait_for_selector('tr[data-call-id="WC-first"]', timeout=WAIT_MS)
        page.wait_for_function(
            "() => document.getElementById('live-state').textContent === 'live'", timeout=WAIT_MS
        )
        live_server.post(client, _conversation("WC-second", [("user-1", "hi")], start + 5000))
        page.wait_for_selector('tr[data-call-id="WC-second"]', timeout=WAIT_MS)
    page.fill("#call-search", "second")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector('tr[data-call-id="WC-first"]', state="detached", timeout=WAIT_MS)
    assert page.locator("tr.call-row").count() == 1


def test_scripted_call_renders_hang_interruption_and_error_markers(
    live_server: LiveServer, page: Any
) -> None:
    """Hang (waited ms, stage), interruption (heard / unheard), error (code, provider), status
    changes, the report, and a masked phone number that the toggle reveals."""
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in scripted_call("PC-7f3a9e21", now - 600_000):
            live_server.post(client, body)
        # The monitor scores sentiment and hang impacts after the acks; wait (bounded) for both.
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            scored = client.get("/api/calls/PC-7f3a9e21/sentiment").json()["trajectory"]
            impacts = client.get("/api/hangs/impact", params={"callId": "PC-7f3a9e21"}).json()
            if scored and impacts["impacts"]:
                break
            time.sleep(0.05)
    page.goto(f"{live_server.url}/#/calls/PC-7f3a9e21")
    page.wait_for_selector(".marker.hang", timeout=WAIT_MS)
    hang = page.inner_text(".marker.hang")
    assert "5000 ms" in hang and "stage: llm" in hang
    heard = page.inner_text(".msg.interrupted .heard")
    unheard = page.inner_text(".msg.interrupted .unheard")
    assert heard.startswith("Thank you. I found your cleaning")
    assert unheard.strip().startswith("We have openings")
    error = page.inner_text(".marker.error")
    assert "rate_limit_exceeded" in error and "openai" in error
    statuses = page.locator(".marker.status").all_inner_texts()
    assert any("ongoing" in s for s in statuses) and any("finished" in s for s in statuses)
    assert "Excellent" in page.inner_text("#report")
    assert page.locator("details.waterfall").count() >= 4
    page.wait_for_selector("#sentiment svg.spark", timeout=WAIT_MS)
    assert page.get_attribute("#sentiment svg.spark", "data-points") == str(len(scored))
    page.wait_for_selector("#recovery ul.impacts", timeout=WAIT_MS)
    assert page.locator("#recovery ul.impacts li").count() == len(impacts["impacts"])
    header = page.inner_text(".call-head")
    assert "+14155550142" not in header and "0142" in header
    page.locator("details.waterfall").nth(1).evaluate("el => el.open = true")
    screenshot(page, "call-view")
    page.check("#reveal-numbers")
    page.wait_for_function(
        "() => document.querySelector('.call-head')?.innerText.includes('+14155550142')",
        timeout=WAIT_MS,
    )


def test_metrics_page_charts_have_data(live_server: LiveServer, page: Any) -> None:
    """Latency percentiles and hang/error rates are drawn from ingested calls, and the hang
    pattern tables from the monitor's pattern endpoint."""
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in background_calls(120, now, hours=22):
            live_server.post(client, body)
    page.goto(f"{live_server.url}/#/metrics")
    for chart in ("latency-llm", "latency-tts", "latency-stt", "latency-response", "rate-hang"):
        page.wait_for_selector(f"#{chart} svg.chart", timeout=WAIT_MS)
        points = int(page.get_attribute(f"#{chart} svg.chart", "data-points") or 0)
        assert points > 0, chart
        assert page.locator(f"#{chart} path.line").count() >= 1
    page.wait_for_selector("#pattern-provider table", timeout=WAIT_MS)
    assert page.locator("#pattern-provider table tbody tr").count() >= 1
    screenshot(page, "metrics")


def test_long_calls_paginate_and_live_messages_follow_the_last_page(
    live_server: LiveServer, page: Any
) -> None:
    """A 230-message call shows 100 messages and loads the rest page by page; a message
    stored meanwhile shows once the last page is in."""
    start = int(time.time() * 1000) - 3_600_000
    history = [(f"user-{i}", f"line {i}") for i in range(1, 231)]
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _conversation("WC-long", history, start))
        page.goto(f"{live_server.url}/#/calls/WC-long")
        page.wait_for_selector("#load-more", timeout=WAIT_MS)
        assert page.locator("#chat .msg").count() == 100
        page.wait_for_function(
            "() => document.getElementById('live-state').textContent === 'live'", timeout=WAIT_MS
        )
        history.append(("user-231", "a late addition"))
        live_server.post(client, _conversation("WC-long", history, start))
        for expected in (200, 231):
            page.click("#load-more")
            page.wait_for_function(
                f"() => document.querySelectorAll('#chat .msg').length === {expected}",
                timeout=WAIT_MS,
            )
        assert page.locator("#load-more").count() == 0
        history.append(("user-232", "live again"))
        live_server.post(client, _conversation("WC-long", history, start))
        page.wait_for_selector('[data-message-id="user-232"]', timeout=WAIT_MS)


def _fulfil(route: Any, body: dict[str, Any]) -> None:
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


def test_monitor_endpoints_render_when_the_server_has_them(
    live_server: LiveServer, page: Any
) -> None:
    """Sentiment, hang recovery, patterns and alerts, in the shapes the monitoring endpoints
    answer (served here by the browser's request routing, as this server has no monitor)."""
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in scripted_call("PC-mon", now - 600_000):
            live_server.post(client, body)
    sentiment = {
        "callId": "PC-mon",
        "average": 0.41,
        "trajectory": [
            {"messageId": f"user-{i}", "timestamp": now, "compound": c}
            for i, c in enumerate([0.2, -0.3, 0.6, 0.8], 1)
        ],
    }
    impact = {
        "impacts": [
            {
                "callId": "PC-mon",
                "pendingMessageId": "user-3",
                "hangAt": now,
                "recovered": True,
                "responseMessageId": "user-3-x",
                "waitedMs": 6800,
                "repeated": False,
                "abandoned": False,
            }
        ],
        "nextCursor": None,
    }
    patterns = {
        "kind": "hang",
        "dimension": "provider",
        "rows": [
            {
                "key": "openai",
                "calls": 40,
                "turns": 160,
                "incidents": 3,
                "ratePerCall": 0.075,
                "ratePerTurn": 0.019,
            }
        ],
    }
    alerts = {
        "alerts": [
            {
                "id": "a1",
                "rule": "hang_rate",
                "scope": "global",
                "severity": "critical",
                "state": "firing",
                "summary": "hang rate 7.5 %",
                "value": 0.075,
                "threshold": 0.05,
                "firedAt": now,
                "updatedAt": now,
                "resolvedAt": None,
                "callId": None,
                "assistantId": None,
                "provider": None,
            }
        ],
        "nextCursor": None,
    }
    page.route("**/api/calls/PC-mon/sentiment*", lambda r: _fulfil(r, sentiment))
    page.route("**/api/hangs/impact*", lambda r: _fulfil(r, impact))
    page.route("**/api/patterns*", lambda r: _fulfil(r, patterns))
    page.route("**/api/alerts*", lambda r: _fulfil(r, alerts))
    page.goto(f"{live_server.url}/#/calls/PC-mon")
    page.wait_for_selector("#sentiment svg.spark", timeout=WAIT_MS)
    assert page.get_attribute("#sentiment svg.spark", "data-points") == "4"
    page.wait_for_selector("#recovery li", timeout=WAIT_MS)
    assert "recovered after 6800 ms" in page.inner_text("#recovery")
    page.goto(f"{live_server.url}/#/metrics")
    page.wait_for_selector("#pattern-provider table", timeout=WAIT_MS)
    assert "openai" in page.inner_text("#pattern-provider") and "7.5 %" in page.inner_text(
        "#pattern-provider"
    )
    screenshot(page, "metrics-with-patterns")
    page.goto(f"{live_server.url}/#/alerts")
    page.wait_for_selector("table.calls tbody tr", timeout=WAIT_MS)
    assert "hang_rate" in page.inner_text("table.calls") and "critical" in page.inner_text(
        "table.calls"
    )


def test_an_unknown_call_says_so(
    live_server: LiveServer, page: Any, console_allowed: list[str]
) -> None:
    console_allowed.append("404")  # the call's lookup answers 404, which Chromium reports
    page.goto(f"{live_server.url}/#/calls/WC-nobody")
    page.wait_for_selector(".error-box", timeout=WAIT_MS)
    assert "No call WC-nobody has been received" in page.inner_text(".error-box")


def test_calls_from_vapi_and_retell_show_their_platform_and_filter_by_it(
    live_server: LiveServer, page: Any
) -> None:
    """Calls received at /webhook/vapi and /webhook/retell are listed with their platform,
    and the platform filter narrows the list to each."""
    from tests.platforms.samples import sample

    vapi_call = "3f1c2a7e-5b8d-4e21-9c4a-7d2e9b1f0a55"
    retell_call = "call_6b1f0c2e9d8a47b3a5c4e2f1d0b9a8c7"
    json_type = {"content-type": "application/json"}
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _conversation("WC-own", [("user-1", "hi")], 1_764_660_000_000))
        for path, body in (
            ("/webhook/vapi", sample("vapi", "end-of-call-report")),
            ("/webhook/retell", sample("retell", "call_analyzed")),
        ):
            response = client.post(path, content=body, headers=json_type)
            assert response.status_code == 200, response.text
    page.goto(f"{live_server.url}/#/calls")
    for call_id, label in ((vapi_call, "Vapi"), (retell_call, "Retell"), ("WC-own", "Interactly")):
        row = page.wait_for_selector(f'tr[data-call-id="{call_id}"]', timeout=WAIT_MS)
        assert row.query_selector(".platform").inner_text().lower() == label.lower()
    screenshot(page, "calls-platforms")
    for platform, call_id in (("vapi", vapi_call), ("retell", retell_call)):
        page.select_option("#filter-platform", platform)
        page.wait_for_function(
            "(id) => [...document.querySelectorAll('tr.call-row')].map((r) => r.dataset.callId)"
            ".join() === id",
            arg=call_id,
            timeout=WAIT_MS,
        )
        assert f"platform={platform}" in page.url
    page.select_option("#filter-platform", "")
    page.wait_for_function(
        "() => document.querySelectorAll('tr.call-row').length === 3", timeout=WAIT_MS
    )
    page.click(f'tr[data-call-id="{vapi_call}"] a')
    panel = page.wait_for_selector("#platform-raw details", timeout=WAIT_MS)
    assert "end-of-call-report" in panel.inner_text()
    assert "Vapi · ended" in page.inner_text("dl.facts")
    page.click("#platform-raw summary")
    assert "logUrl" in page.inner_text("#platform-raw pre")
    screenshot(page, "call-from-vapi")
