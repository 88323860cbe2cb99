"""The overview in Chromium: the figures are the API's (and the known ones), a new call and a
new hang appear without a reload, and every figure links to its filtered view."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import LiveServer, screenshot
from tests.dashboard.scenario import OVERVIEW_EXPECTED, _envelope, overview_calls

WAIT_MS = 10_000


def _figures(page: Any) -> dict[str, str]:
    pairs = page.eval_on_selector_all(
        "[data-figure]", "els => els.map(e => [e.dataset.figure, e.dataset.value])"
    )
    return dict(pairs)


def _same(shown: str, value: Any) -> bool:
    if value is None:
        return shown == ""
    return float(shown) == pytest.approx(float(value))


def test_overview_shows_the_apis_figures(live_server: LiveServer, page: Any) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in overview_calls(now):
            live_server.post(client, body)
        page.goto(f"{live_server.url}/")
        page.wait_for_selector('[data-figure="today.calls"]', timeout=WAIT_MS)
        shown = _figures(page)
        day_start = page.evaluate(
            "() => { const d = new Date(); d.setHours(0,0,0,0); return d.getTime(); }"
        )
        api = client.get("/api/overview", params={"dayStart": day_start}).json()
    for section in ("hour", "today"):
        for key in ("calls", "hangRate", "errorRate", "responseP50", "responseP95", "alerts"):
            assert _same(shown[f"{section}.{key}"], api[section]["current"][key]), (section, key)
    for key in ("ongoingCalls", "hangsLastHour", "errorsLastHour", "openAlerts"):
        assert _same(shown[f"live.{key}"], api["live"][key]), key
    # The last hour does not depend on the viewer's midnight: it is the known one.
    for key, value in OVERVIEW_EXPECTED["hour.current"].items():
        assert _same(shown[f"hour.{key}"], value), key
    assert int(shown["live.ongoingCalls"]) == 1
    text = page.inner_text('[data-figure="hour.hangRate"]')
    assert "50.0 %" in text and "0.0 % before" in text
    assert page.locator("#overview-hour svg.trend").count() == 6
    screenshot(page, "overview")
    # Each figure is a link to its filtered view: the hang rate to the calls with hangs.
    page.click('[data-figure="hour.hangRate"]')
    page.wait_for_selector("tr.call-row", timeout=WAIT_MS)
    rows = page.eval_on_selector_all("tr.call-row", "els => els.map(e => e.dataset.callId)")
    assert sorted(rows) == ["OV-0", "OV-1"]


def test_a_new_call_and_a_new_hang_appear_live(live_server: LiveServer, page: Any) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in overview_calls(now):
            live_server.post(client, body)
        page.goto(f"{live_server.url}/#/overview")
        page.wait_for_selector('[data-figure="live.ongoingCalls"][data-value="1"]', timeout=WAIT_MS)
        page.wait_for_function(
            "() => document.getElementById('live-state').textContent === 'live'", timeout=WAIT_MS
        )
        page.evaluate("window.__sameDocument = true")
        call = {"id": "OV-new", "assistantId": "asst-dental", "status": "ongoing"}
        live_server.post(client, _envelope("status-update", now, call))
        page.wait_for_selector('[data-figure="live.ongoingCalls"][data-value="2"]', timeout=WAIT_MS)
        page.wait_for_selector('[data-figure="hour.calls"][data-value="5"]', timeout=WAIT_MS)
        hang = {"pendingMessageId": "user-1", "waitedMs": 5000, "thresholdMs": 5000}
        live_server.post(client, _envelope("hang", now + 10, call, hang=hang))
        page.wait_for_selector(
            '[data-figure="live.hangsLastHour"][data-value="3"]', timeout=WAIT_MS
        )
        page.wait_for_selector('[data-figure="hour.hangRate"][data-value="0.6"]', timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True
