"""Alert sinks against real local servers: an HTTP receiver and an aiosmtpd SMTP server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from callhook.monitor import (
    AlertSinkError,
    Condition,
    EmailSink,
    EmailSinkConfig,
    LogSink,
    LogSinkConfig,
    Notice,
    RuleId,
    Severity,
    WebhookSink,
    WebhookSinkConfig,
    build_sinks,
)
from callhook.monitor._alerts import AlertBook

from .conftest import HttpReceiver, SmtpServer

pytestmark = pytest.mark.asyncio


def notice(severity: Severity | None = Severity.CRITICAL) -> Notice:
    book = AlertBook(suppress_s=0)
    condition = Condition(
        rule=RuleId.HANG_RATE,
        scope="global",
        severity=Severity.CRITICAL,
        summary="2/20 calls hung (10.00 %)",
        value=0.1,
        threshold=0.05,
    )
    _, notices = book.apply(condition, 1000.0)
    if severity is None:
        _, notices = book.apply(
            Condition(rule=RuleId.HANG_RATE, scope="global", severity=None), 2000.0
        )
    return notices[0]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as c:
        yield c


async def test_webhook_sink_posts_json_with_text(
    http_receiver: HttpReceiver, client: aiohttp.ClientSession
) -> None:
    config = WebhookSinkConfig(url=f"{http_receiver.url}/alerts", headers={"x-team": "ops"})
    await WebhookSink(config, client).send(notice())
    ((path, headers, body),) = http_receiver.requests
    assert path == "/alerts" and headers["x-team"] == "ops"
    assert headers["content-type"] == "application/json"
    assert body["text"] == "[CRITICAL] hang_rate global firing: 2/20 calls hung (10.00 %)"
    assert body["kind"] == "firing"
    alert = body["alert"]
    assert (alert["rule"], alert["scope"], alert["severity"], alert["state"]) == (
        "hang_rate",
        "global",
        "critical",
        "firing",
    )
    assert (alert["value"], alert["threshold"], alert["fired_at_ms"]) == (0.1, 0.05, 1_000_000)


async def test_webhook_sink_slack_format_sends_only_text(
    http_receiver: HttpReceiver, client: aiohttp.ClientSession
) -> None:
    config = WebhookSinkConfig(url=f"{http_receiver.url}/slack", format="slack")
    await WebhookSink(config, client).send(notice(None))
    assert http_receiver.bodies("/slack") == [
        {"text": "[CRITICAL] hang_rate global resolved: 2/20 calls hung (10.00 %)"}
    ]


async def test_webhook_sink_raises_on_http_error_status(
    http_receiver: HttpReceiver, client: aiohttp.ClientSession
) -> None:
    http_receiver.status = 503
    sink = WebhookSink(WebhookSinkConfig(url=f"{http_receiver.url}/x"), client)
    with pytest.raises(
        AlertSinkError, match=r"could not deliver to http://127\.0\.0\.1:\d+/x: HTTP 503"
    ):
        await sink.send(notice())


async def test_webhook_sink_raises_when_nobody_listens(client: aiohttp.ClientSession) -> None:
    from .conftest import _free_port

    sink = WebhookSink(WebhookSinkConfig(url=f"http://127.0.0.1:{_free_port()}/"), client)
    with pytest.raises(AlertSinkError, match="ClientConnectorError"):
        await sink.send(notice())


async def test_email_sink_delivers_over_smtp(smtp_server: SmtpServer) -> None:
    config = EmailSinkConfig(
        host=smtp_server.host,
        port=smtp_server.port,
        sender="monitor@example.com",
        to=["oncall@example.com", "lead@example.com"],
    )
    await EmailSink(config).send(notice())
    ((mail_from, rcpt),) = smtp_server.envelopes
    assert mail_from == "monitor@example.com"
    assert rcpt == ["oncall@example.com", "lead@example.com"]
    (mail,) = smtp_server.messages
    assert mail["Subject"] == "[callhook] CRITICAL hang_rate firing: global"
    assert "2/20 calls hung" in mail.get_payload()  # type: ignore[operator]


async def test_email_sink_raises_when_the_server_is_down() -> None:
    from .conftest import _free_port

    config = EmailSinkConfig(host="127.0.0.1", port=_free_port(), to=["a@example.com"])
    with pytest.raises(AlertSinkError, match=r"alert sink email could not deliver to 127\.0\.0\.1"):
        await EmailSink(config).send(notice())


async def test_log_sink_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callhook.monitor")
    await LogSink().send(notice())
    await LogSink().send(notice(None))
    levels = [(r.levelno, r.getMessage().split(" ")[0]) for r in caplog.records]
    assert levels == [(logging.ERROR, "monitor.alert"), (logging.INFO, "monitor.alert")]
    assert "rule=hang_rate scope=global severity=critical" in caplog.records[0].getMessage()


async def test_build_sinks_from_config(client: aiohttp.ClientSession) -> None:
    sinks = build_sinks(
        [
            LogSinkConfig(),
            WebhookSinkConfig(url="http://127.0.0.1:9/", format="slack"),
            EmailSinkConfig(host="localhost", to=["a@example.com"]),
        ],
        client,
    )
    assert [s.name for s in sinks] == ["log", "webhook:slack", "email"]
