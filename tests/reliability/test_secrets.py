"""Secrets never leave: every secret callhook can be given is configured, calls run through
delivery, ``callhook serve`` and its monitor (which mails alerts over an authenticated SMTP
server), and every log line, API response, mail and stored row the test can reach is searched
for each secret (and for a signing secret's key material without its ``whsec_`` prefix).

Not searched: the delivery outbox's ``callhook_delivery_outbox.config`` column, which must hold
the assistantServer configuration (secret, headers, signing secrets) to sign and send retries
after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import sqlite3
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from callhook.delivery import Dispatcher, servers_by_assistant
from callhook.events import AssistantServer, EventType
from callhook.sim import demo_profile, run_simulation
from callhook.sim._driver import build_assistant
from tests.reliability.serving import free_port, serving

WEBHOOK_SECRET = "whk-" + secrets.token_hex(16)
SIGNING_KEY = base64.b64encode(secrets.token_bytes(24)).decode()
SIGNING_SECRET = "whsec_" + SIGNING_KEY
API_TOKEN = "tok-" + secrets.token_hex(16)
HEADER_VALUE = "hdr-" + secrets.token_hex(16)
SMTP_PASSWORD = "smtp-" + secrets.token_hex(16)
SECRETS = {
    "webhook secret": WEBHOOK_SECRET,
    "signing secret": SIGNING_SECRET,
    "signing key": SIGNING_KEY,
    "API token": API_TOKEN,
    "assistantServer header value": HEADER_VALUE,
    "SMTP password": SMTP_PASSWORD,
}


class _Mailbox:
    def __init__(self) -> None:
        self.logins: list[str] = []
        self.messages: list[Message] = []

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password.decode() == SMTP_PASSWORD
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(BytesParser().parsebytes(envelope.content))
        return "250 Message accepted for delivery"


def _leaks(where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, value in SECRETS.items() if value in text]


def _row_leaks(path: Path, skip: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """Each secret found in a stored value of the SQLite database at ``path``, as table.column."""
    found: list[str] = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables
        for table in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                if (table, column) in skip:
                    continue
                for (value,) in db.execute(f'SELECT "{column}" FROM "{table}"'):
                    text = (
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    )
                    found += _leaks(f"{path.name} {table}.{column}", text)
    return sorted(set(found))


async def _api_text(client: httpx.AsyncClient) -> str:
    seen: list[str] = []

    async def get(path: str, **params: Any) -> Any:
        answer = await client.get(path, params=params)
        seen.append(f"{answer.status_code} {answer.headers} {answer.text}")
        return (
            answer.json()
            if answer.headers.get("content-type", "").startswith("application/json")
            else None
        )

    document = await get("/openapi.json")
    calls = (await get("/api/calls", limit=500))["calls"]
    assert calls
    for call in calls:
        call_id = call["callId"]
        for suffix in ("", "/messages", "/events", "/sentiment", "/hangs"):
            await get(f"/api/calls/{call_id}{suffix}", limit=500)
    for path, operations in document["paths"].items():
        if "{" not in path and "get" in operations and path != "/api/stream":
            await get(path)
    for path in ("/metrics", "/", "/docs"):
        await get(path)
    return "\n".join(seen)


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["secret", "standard-webhooks"])
async def test_no_secret_reaches_logs_api_mail_or_stored_rows(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = _Mailbox()
    smtp_port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    env = {"CALLHOOK_API_TOKEN": API_TOKEN}
    env["CALLHOOK_WEBHOOK_SECRET" if mode == "secret" else "CALLHOOK_SIGNING_SECRET"] = (
        WEBHOOK_SECRET if mode == "secret" else SIGNING_SECRET
    )
    toml = f"""
[server]
log_level = "debug"

[monitor]
[[monitor.sinks]]
type = "log"
[[monitor.sinks]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
to = ["oncall@example.com"]
username = "callhook"
password = "{SMTP_PASSWORD}"
"""
    db = tmp_path / "receiver.sqlite3"
    outbox = tmp_path / "outbox.sqlite3"
    caplog.set_level(logging.DEBUG)
    try:
        with serving(f"sqlite:///{db}", tmp_path, toml=toml, env=env) as served:
            server = AssistantServer(
                enabled=True,
                url=f"{served.base}/webhook",
                timeout_seconds=10,
                secret=WEBHOOK_SECRET,
                headers={"X-Tenant-Key": HEADER_VALUE},
                messages=[t.value for t in EventType],
                signing_secret=SIGNING_SECRET,
            )
            profile = demo_profile()
            ids = [build_assistant(a, server).id for a in profile.assistants]
            servers = servers_by_assistant({str(i): server for i in ids})
            async with Dispatcher(f"sqlite:///{outbox}", servers=servers) as dispatcher:
                await run_simulation(
                    profile,
                    calls=6,
                    sink=dispatcher,
                    concurrency=6,
                    seed=5,
                    speed=200,
                    server=server,
                )
                await dispatcher.flush()
                await dispatcher.wait_idle()
            headers = {"authorization": f"Bearer {API_TOKEN}"}
            async with httpx.AsyncClient(
                base_url=served.base, headers=headers, timeout=30
            ) as client:
                for _ in range(100):  # the monitor's child process mails its alerts
                    if mailbox.messages:
                        break
                    await asyncio.sleep(0.2)  # bounded poll of another process
                api = await _api_text(client)
            # Refusals (a wrong token, a wrong secret) say why, never what was expected.
            async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
                wrong = await client.get(
                    "/api/calls", headers={"authorization": "Bearer nope-nope-nope-nope"}
                )
                bad = await client.post(
                    "/webhook",
                    content=b"{}",
                    headers={"content-type": "application/json", "x-interactly-secret": "nope"},
                )
                api += wrong.text + bad.text
            log = served.log_text()
    finally:
        controller.stop()
    assert mailbox.logins == ["callhook"] * len(mailbox.logins) and mailbox.messages, (
        "the monitor mailed no alert, so the SMTP password was never used"
    )
    mail = "\n".join(m.as_string() for m in mailbox.messages)
    local_logs = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert len(log) > 1000  # the alerts were logged: there was something to search
    leaks = (
        _leaks("callhook serve's log", log)
        + _leaks("the delivery side's logs", local_logs)
        + _leaks("API responses", api)
        + _leaks("alert mail", mail)
        + _row_leaks(db)
        + _row_leaks(outbox, skip=frozenset({("callhook_delivery_outbox", "config")}))
    )
    assert leaks == []
