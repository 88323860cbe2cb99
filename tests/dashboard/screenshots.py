"""The documentation's dashboard screenshots: ``python -m tests.dashboard.screenshots docs``.

A real server (SQLite in a temporary folder) with the scripted calls the browser tests use, a
recording made here, and headless Chromium (``/usr/bin/chromium``): writes ``overview.png``,
``call-view.png`` (a call with its recording player) and ``metrics.png`` into the folder given.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.dashboard.scenario import background_calls, overview_calls, scripted_call
from tests.dashboard.test_recording import _wav

CALL = "PC-7f3a9e21"


def _with_recording(bodies: list[bytes]) -> list[bytes]:
    """The scripted call, its end-of-call report carrying a recording."""
    last = json.loads(bodies[-1])
    last["message"]["call"]["recording"] = {"s3Bucket": "calls", "path": f"team-1/{CALL}.wav"}
    return [*bodies[:-1], json.dumps(last).encode()]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "rec" / "team-1").mkdir(parents=True)
        _wav(root / "rec" / "team-1" / f"{CALL}.wav")
        files = LiveServer(
            "", app=Starlette(routes=[Mount("/", StaticFiles(directory=root / "rec"))])
        )
        files.start()
        server = LiveServer(
            f"sqlite:///{root / 'db.sqlite3'}", recording_url=f"{files.url}/{{path}}"
        )
        server.start()
        try:
            with httpx.Client(base_url=server.url) as client:
                for body in [
                    *background_calls(160, now, hours=20),
                    *overview_calls(now),
                    *_with_recording(scripted_call(CALL, now - 300_000)),
                ]:
                    server.post(client, body)
            time.sleep(3)  # the monitor scores sentiment and fires alerts after the acks
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{server.url}/#/overview")
                page.wait_for_selector('[data-figure="today.calls"]')
                page.screenshot(path=str(out / "overview.png"), full_page=True)
                page.goto(f"{server.url}/#/calls/{CALL}")
                page.wait_for_selector("#player:not([hidden])")
                page.wait_for_function("document.getElementById('recording-audio').readyState >= 1")
                page.click('.msg[data-message-id="user-2"] .text')
                page.locator("details.waterfall").nth(1).evaluate("el => el.open = true")
                page.wait_for_selector("#sentiment svg.spark")
                page.screenshot(path=str(out / "call-view.png"), full_page=True)
                page.goto(f"{server.url}/#/metrics?range=24h")
                page.wait_for_selector("#metrics-scope[data-buckets]")
                page.wait_for_selector("#pattern-provider table")
                page.screenshot(path=str(out / "metrics.png"), full_page=True)
                browser.close()
        finally:
            server.stop()
            files.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "test-output"))
