"""The metrics page in Chromium: the default range fits the data, the range picker sets the
bucket width (and with it the bucket count), dragging across a chart zooms in, and
assistants compared draw one series each."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.dashboard.conftest import LiveServer, screenshot
from tests.dashboard.scenario import ASSISTANTS, background_calls

WAIT_MS = 10_000


def _scope(page: Any) -> tuple[int, int]:
    page.wait_for_selector("#metrics-scope[data-buckets]", timeout=WAIT_MS)
    return (
        int(page.get_attribute("#metrics-scope", "data-buckets")),
        int(page.get_attribute("#metrics-scope", "data-bucket-ms")),
    )


def _pick(page: Any, key: str, bucket_ms: int) -> int:
    page.click(f'#metrics-range button[data-range="{key}"]')
    page.wait_for_selector(f'#metrics-scope[data-bucket-ms="{bucket_ms}"]', timeout=WAIT_MS)
    buckets, _ = _scope(page)
    chart = int(page.get_attribute("#latency-llm svg.chart", "data-buckets") or 0)
    assert chart == buckets
    return buckets


def test_default_range_fits_the_data_and_the_picker_sets_the_buckets(
    live_server: LiveServer, page: Any
) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        # 30 calls over the last 40 minutes: 15 min is too short, 1 h holds them all.
        for body in background_calls(30, now, hours=40 / 60):
            live_server.post(client, body)
    page.goto(f"{live_server.url}/#/metrics")
    page.wait_for_selector('#metrics-range button.active[data-range="1h"]', timeout=WAIT_MS)
    buckets, bucket_ms = _scope(page)
    assert bucket_ms == 60_000 and 60 <= buckets <= 61
    assert int(page.get_attribute("#latency-llm svg.chart", "data-points") or 0) > 0
    counts = {
        "6h": _pick(page, "6h", 300_000),
        "24h": _pick(page, "24h", 1_800_000),
        "7d": _pick(page, "7d", 10_800_000),
        "15m": _pick(page, "15m", 15_000),
    }
    assert 72 <= counts["6h"] <= 73 and 48 <= counts["24h"] <= 49
    assert 56 <= counts["7d"] <= 57 and 60 <= counts["15m"] <= 61
    assert len(set(counts.values())) == 4  # the bucket count follows the range


def test_dragging_across_a_chart_zooms_in(live_server: LiveServer, page: Any) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in background_calls(60, now, hours=5):
            live_server.post(client, body)
    page.goto(f"{live_server.url}/#/metrics?range=6h")
    _scope(page)
    box = page.locator("#latency-response svg.chart").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_selector('#metrics-range button.active[data-range="custom"]', timeout=WAIT_MS)
    page.wait_for_selector('#metrics-scope[data-bucket-ms="60000"]', timeout=WAIT_MS)
    buckets, bucket_ms = _scope(page)
    # A fifth of the chart (23 % of its plot area) of 6 hours: about 82 minutes, by 1 min.
    assert bucket_ms == 60_000 and 75 <= buckets <= 90
    since = page.input_value("#metrics-since")
    until = page.input_value("#metrics-until")
    assert since < until and "since=" in page.evaluate("location.hash")


def test_assistants_compared_draw_one_series_each(live_server: LiveServer, page: Any) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(base_url=live_server.url) as client:
        for body in background_calls(45, now, hours=3):
            live_server.post(client, body)
    page.goto(f"{live_server.url}/#/metrics")
    _scope(page)
    page.select_option("#metrics-compare", "assistantId")
    # Without a comparison the chart has three series too (p50, p95, p99): wait for names.
    page.wait_for_function(
        "name => document.querySelector('#latency-llm .legend')?.innerText.includes(name)",
        arg=ASSISTANTS[1][1],
        timeout=WAIT_MS,
    )
    assert page.get_attribute("#latency-llm svg.chart", "data-series") == "3"
    legend = page.inner_text("#latency-llm .legend")
    for _, name, _, _ in ASSISTANTS:
        assert name in legend
    page.wait_for_selector('#rate-hang svg.chart[data-series="3"]', timeout=WAIT_MS)
    page.uncheck(f'#metrics-compare-values input[value="{ASSISTANTS[0][0]}"]')
    page.wait_for_selector('#latency-llm svg.chart[data-series="2"]', timeout=WAIT_MS)
    screenshot(page, "metrics-compare")
