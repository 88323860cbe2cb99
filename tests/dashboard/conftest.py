"""A real server (uvicorn on 127.0.0.1, a random port, in a thread) and headless Chromium.

The browser tests use Debian's ``/usr/bin/chromium`` through Playwright; Playwright never
downloads a browser here. Where Chromium or Playwright is missing they skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from callhook.receiver import ReceiverConfig, create_app
from tests.databases import database_url

CHROMIUM = os.environ.get("CALLHOOK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


class LiveServer:
    """The receiver served by uvicorn in a background thread until ``stop``."""

    def __init__(
        self,
        db_url: str,
        *,
        app: Any = None,  # Any: another ASGI app to serve instead (e.g. static files)
        **settings: Any,  # Any: ReceiverConfig fields
    ) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app or create_app(ReceiverConfig(database_url=db_url, **settings))
        config = uvicorn.Config(
            self.app, lifespan="on", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self._sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="dashboard-server"
        )

    def start(self) -> None:
        self.thread.start()
        with httpx.Client(base_url=self.url, timeout=5) as client:
            for _ in range(500):  # bounded wait for the server to answer
                try:
                    if client.get("/healthz").status_code < 500:
                        return
                except httpx.TransportError:
                    pass
                threading.Event().wait(0.02)
        raise RuntimeError("the test server did not start")

    def post(self, client: httpx.Client, body: bytes) -> None:
        response = client.post(
            "/webhook", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        self.server.should_exit = True
        if hasattr(self.app, "live"):
            self.app.live.close()
        self.thread.join(10)
        self._sock.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    url = next(database_url("sqlite", tmp_path))
    server = LiveServer(url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Module scope: Playwright's sync API holds an event loop on this thread while it is open,
# so it must be closed before the next module's asyncio tests run.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:  # Any: a Playwright Browser (optional dependency)
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright: pip install -e '.[dev]'")
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def console_allowed() -> list[str]:
    """Substrings of console errors a test expects (e.g. the 404 of an unknown call)."""
    return []


@pytest.fixture
def page(chromium: Any, console_allowed: list[str]) -> Iterator[Any]:  # Any: a Playwright Page
    """A fresh page; the test fails on any uncaught exception or console error (except those
    ``console_allowed`` lists)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))

    def console(message: Any) -> None:  # Any: a Playwright ConsoleMessage
        if message.type == "error" and not any(a in message.text for a in console_allowed):
            errors.append(f"console: {message.text} at {message.location.get('url')}")

    opened.on("console", console)
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript or console errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:  # Any: a Playwright Page
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
