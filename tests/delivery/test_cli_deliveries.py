"""``callhook deliveries list`` and ``replay`` on a SQLite outbox."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from callhook.cli import app
from callhook.delivery import list_deliveries
from callhook.store import make_engine

from .conftest import dispatcher, envelope, server

runner = CliRunner()


class _Ok(BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.received.append(self.headers["webhook-id"])
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP endpoint answering 200; yields its URL and the webhook-ids seen."""
    received: ClassVar[list[str]] = []
    handler = type("Handler", (_Ok,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _dead_letters(path: Path) -> str:
    """Two events of call WC-1 given up with 404 (the secret ends up only in the DB)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)

    async def fill() -> None:
        async with dispatcher(engine, lambda r: httpx.Response(404)) as d:
            await d.deliver(envelope(n=0, assistant_server=server(url="http://u:pw@dead/x?k=1")))
            await d.deliver(envelope(n=1, assistant_server=server(url="http://u:pw@dead/x?k=1")))
            await d.deliver(envelope("WC-2", n=2, assistant_server=server(maxRetries=0)))
            await d.wait_idle()

    asyncio.run(fill())
    engine.dispose()
    return url


def test_list_shows_dead_letters_without_secrets(tmp_path: Path) -> None:
    url = _dead_letters(tmp_path / "callhook.sqlite3")
    result = runner.invoke(app, ["deliveries", "list", "--failed", "--db", url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATUS",
        "TRY",
        "HTTP",
        "CREATED",
        "EVENT",
        "CALL",
        "#SEQ",
        "URL",
    ]
    assert "dead" in lines[1] and "404" in lines[1] and "WC-2 #1" in lines[1]
    assert "HTTP 404 Not Found" in result.stdout
    assert "WC-1 #2  http://dead/x" in result.stdout
    for secret in ("pw", "k=1", "s3cret", "token-1"):
        assert secret not in result.stdout


def test_list_on_a_missing_database_says_what_to_pass(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["deliveries", "list", "--db", f"sqlite:///{tmp_path / 'nope.sqlite3'}"]
    )
    assert result.exit_code == 1
    assert "No database at" in result.stderr and "--db" in result.stderr


def test_replay_a_call_to_a_fixed_endpoint(tmp_path: Path, receiver: tuple[str, list[str]]) -> None:
    url = _dead_letters(tmp_path / "callhook.sqlite3")
    target, received = receiver
    result = runner.invoke(
        app, ["deliveries", "replay", "--call", "WC-1", "--to", target, "--db", url]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 of 2 delivered"
    engine = make_engine(url)
    records = list_deliveries(engine, call_id="WC-1")
    engine.dispose()
    assert [r.status for r in records] == ["delivered", "delivered"]
    assert received == [r.webhook_id for r in sorted(records, key=lambda r: r.sequence)]


def test_replay_by_id_without_waiting_queues_it_and_exits_1(tmp_path: Path) -> None:
    url = _dead_letters(tmp_path / "callhook.sqlite3")
    engine = make_engine(url)
    [record] = list_deliveries(engine, call_id="WC-2")
    engine.dispose()
    result = runner.invoke(
        app, ["deliveries", "replay", str(record.id), "--wait", "0", "--db", url]
    )
    assert result.exit_code == 1
    assert "pending" in result.stdout
    assert result.stdout.splitlines()[-1] == "0 of 1 delivered"


def test_replay_needs_ids_or_a_call(tmp_path: Path) -> None:
    result = runner.invoke(app, ["deliveries", "replay", "--db", f"sqlite:///{tmp_path}/x"])
    assert result.exit_code == 2
    assert "give delivery ids or --call" in result.stderr


def test_replay_of_an_unknown_id_names_it(tmp_path: Path) -> None:
    url = _dead_letters(tmp_path / "callhook.sqlite3")
    result = runner.invoke(app, ["deliveries", "replay", "999", "--db", url])
    assert result.exit_code == 1
    assert "No delivery with id 999" in result.stderr


def test_show_prints_every_attempt(tmp_path: Path) -> None:
    url = _dead_letters(tmp_path / "callhook.sqlite3")
    engine = make_engine(url)
    [record] = list_deliveries(engine, call_id="WC-2")
    engine.dispose()
    result = runner.invoke(app, ["deliveries", "show", str(record.id), "--db", url])
    assert result.exit_code == 0, result.output
    assert f"webhook-id {record.webhook_id}" in result.stdout
    [attempt] = [line for line in result.stdout.splitlines() if "attempt" in line]
    assert " 404 " in attempt and "give-up" in attempt and "HTTP 404 Not Found" in attempt
    missing = runner.invoke(app, ["deliveries", "show", "999", "--db", url])
    assert missing.exit_code == 1
    assert "No delivery with id 999" in missing.stderr
