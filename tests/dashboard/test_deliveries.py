"""The Deliveries page and the call view's deliveries in headless Chromium: the counts of a
known set of outbox rows, a replay refused without an API token, and, end to end, a real
``callhook serve --forward`` whose target refused an event (dead) until fixed: the page's
Replay button sends it again and the row shows delivered."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from callhook.store import make_engine
from tests.dashboard.conftest import LiveServer, screenshot
from tests.databases import sqlite_url
from tests.receiver.deliveries import BILLING, CRM, KNOWN_ROWS, insert_rows

WAIT_MS = 15_000
TOKEN = "dashboard-relay-token-0123456789"


def _status_update(call_id: str) -> bytes:
    now = int(time.time() * 1000)
    call = {"id": call_id, "assistantId": "asst-1", "status": "ongoing", "callType": "web"}
    body = {"message": {"type": "status-update", "timestamp": now, "call": call}}
    return json.dumps(body).encode()


def _tile(page: Any, target: str, count: str) -> str:
    selector = f'section.target[data-target="{target}"] [data-count="{count}"] .tile-value'
    text: str = page.inner_text(selector)
    return text


def test_the_page_shows_each_targets_counts(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url(tmp_path))  # live_server's database
    try:
        ids = insert_rows(engine, KNOWN_ROWS, time.time())
    finally:
        engine.dispose()
    page.goto(f"{live_server.url}/#/deliveries")
    page.wait_for_selector(f'section.target[data-target="{CRM}"]', timeout=WAIT_MS)
    crm = {k: _tile(page, CRM, k) for k in ("delivered", "pending", "retrying", "dead", "backlog")}
    assert crm == {"delivered": "3", "pending": "1", "retrying": "1", "dead": "2", "backlog": "2"}
    billing = {k: _tile(page, BILLING, k) for k in ("delivered", "dead", "backlog")}
    assert billing == {"delivered": "1", "dead": "1", "backlog": "0"}
    assert page.locator(f'section.target[data-target="{CRM}"] svg.chart').count() == 2
    page.wait_for_selector("#dead-table", timeout=WAIT_MS)
    shown = page.eval_on_selector_all(
        "#dead-table tbody tr", "rows => rows.map(r => Number(r.dataset.delivery))"
    )
    assert shown == [ids[8], ids[4], ids[3]]
    assert "crm-password" not in page.content() and "query-secret" not in page.content()
    screenshot(page, "deliveries")


def test_the_call_view_shows_its_deliveries_per_target(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        live_server.post(client, _status_update("call-c"))
    engine = make_engine(sqlite_url(tmp_path))
    try:
        insert_rows(engine, KNOWN_ROWS, time.time())
    finally:
        engine.dispose()
    page.goto(f"{live_server.url}/#/calls/call-c")
    page.wait_for_selector("#call-deliveries", timeout=WAIT_MS)
    panel = page.inner_text("#deliveries")
    assert CRM in panel
    assert "1 dead" in panel and "1 retrying" in panel
    assert "HTTP 410" in panel and "HTTP 503" in panel


def test_a_replay_without_a_token_says_what_to_do(
    live_server: LiveServer, page: Any, console_allowed: list[str], tmp_path: Path
) -> None:
    console_allowed.append("403")  # the refused replay, which Chromium reports
    engine = make_engine(sqlite_url(tmp_path))
    try:
        ids = insert_rows(engine, KNOWN_ROWS, time.time())
    finally:
        engine.dispose()
    page.goto(f"{live_server.url}/#/deliveries")
    page.click(f'tr[data-delivery="{ids[3]}"] button.replay', timeout=WAIT_MS)
    page.wait_for_selector("#replay-notice .error-box", timeout=WAIT_MS)
    notice = page.inner_text("#replay-notice")
    assert "needs an API token" in notice and "?token=" in notice
    assert page.inner_text(f'tr[data-delivery="{ids[3]}"] .delivery-status') == "dead"


class Target:
    """The customer's app: refuses events (422) until ``fixed``; records their webhook-ids."""

    def __init__(self) -> None:
        self.fixed = False
        self.received: list[tuple[str, int]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                status = 200 if target.fixed else 422
                target.received.append((self.headers.get("webhook-id", ""), status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # Any: log arguments
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    app = Target()
    try:
        yield app
    finally:
        app.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve(tmp_path: Path, target: Target) -> Iterator[str]:
    """``callhook serve --forward`` (its own dispatcher, an API token) on a free port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env["CALLHOOK_API_TOKEN"] = TOKEN
    command = [sys.executable, "-m", "callhook", "serve", "--db"]
    command += [f"sqlite:///{tmp_path / 'relay.sqlite3'}", "--port", str(port)]
    command += ["--forward", target.url]
    log = (tmp_path / "serve.log").open("ab")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded wait for the server to answer
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "callhook serve did not start"
            threading.Event().wait(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_for_status(client: httpx.Client, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = client.get("/api/deliveries", params={"status": status}).json()["deliveries"]
        if found:
            first: dict[str, Any] = found[0]
            return first
        assert time.monotonic() < deadline, f"no {status} delivery within 30 s"
        threading.Event().wait(0.1)


def test_a_dead_letter_replayed_from_the_page_is_delivered(
    serve: str, target: Target, page: Any
) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=serve, headers=headers, timeout=10) as client:
        answer = client.post(
            "/webhook",
            content=_status_update("WC-relay"),
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        dead = _wait_for_status(client, "dead")  # the target refused it: 422, given up
    assert dead["lastStatusCode"] == 422 and dead["attempts"] == 1
    target.fixed = True
    page.goto(f"{serve}/?token={TOKEN}#/deliveries")
    row = f'tr[data-delivery="{dead["id"]}"]'
    page.click(f"{row} button.replay", timeout=WAIT_MS)
    page.wait_for_function(
        "(row) => document.querySelector(row + ' .delivery-status')?.textContent === 'delivered'",
        arg=row,
        timeout=WAIT_MS,
    )
    assert page.inner_text(f"{row} td.num") == "2"
    assert target.received == [(dead["webhookId"], 422), (dead["webhookId"], 200)]
    screenshot(page, "deliveries-replayed")


def test_a_configured_target_shows_by_name_before_anything_is_sent(
    tmp_path: Path, page: Any
) -> None:
    from callhook.relay import ForwardTarget, RelayConfig

    url = "http://app-user:app-password@127.0.0.1:9/crm?key=query-secret"
    crm = ForwardTarget.from_table({"url": url, "name": "crm"}, "forward[0]")
    server = LiveServer(sqlite_url(tmp_path), relay=RelayConfig(targets=(crm,), deliver=False))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            summary = client.get("/api/deliveries/targets").json()
        assert [(t["name"], t["target"], t["backlog"]) for t in summary["targets"]] == [
            ("crm", "http://127.0.0.1:9/crm", 0)
        ]
        page.goto(f"{server.url}/#/deliveries")
        card = 'section.target[data-target="http://127.0.0.1:9/crm"]'
        page.wait_for_selector(card, timeout=WAIT_MS)
        assert page.inner_text(f"{card} h3").startswith("crm")
        assert page.inner_text(f'{card} [data-count="dead"] .tile-value') == "0"
        assert "app-password" not in page.content() and "query-secret" not in page.content()
    finally:
        server.stop()
