"""Where alert notices go: the log, a webhook (JSON or Slack-style text), email over SMTP.

A sink's ``send`` raises ``AlertSinkError`` when the notice could not be handed over; the
monitor logs that and carries on with the other sinks (an alert must never stop ingest).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Protocol

import aiohttp
import msgspec

from callhook._exceptions import CallhookError
from callhook.monitor._alerts import Notice, Severity
from callhook.monitor._config import (
    EmailSinkConfig,
    LogSinkConfig,
    SinkConfig,
    WebhookSinkConfig,
)

__all__ = [
    "AlertSink",
    "AlertSinkError",
    "EmailSink",
    "LogSink",
    "WebhookSink",
    "build_sinks",
    "notice_json",
    "post_json",
]

logger = logging.getLogger("callhook.monitor")

_ENCODER = msgspec.json.Encoder()


class AlertSinkError(CallhookError):
    """A notice could not be delivered; ``sink`` names the sink, ``target`` its URL or host."""

    def __init__(self, sink: str, target: str, reason: str) -> None:
        self.sink = sink
        self.target = target
        self.reason = reason
        super().__init__(f"alert sink {sink} could not deliver to {target}: {reason}")


class AlertSink(Protocol):
    """Anything that can take a notice; ``name`` appears in logs."""

    name: str

    async def send(self, notice: Notice) -> None: ...


def notice_json(notice: Notice) -> bytes:
    """The JSON body of a notice: ``{"text": <one line>, "kind": ..., "alert": {...}}``."""
    return _ENCODER.encode({"text": notice.text, "kind": notice.kind, "alert": notice.alert})


class LogSink:
    """Logs each notice on ``callhook.monitor``: critical firing at ERROR, others at WARNING,
    resolutions at INFO. Stable event name ``monitor.alert``; the alert's keys are the
    record's ``fields`` (``extra``), which the command line's log formats write."""

    name = "log"

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._logger = log or logger

    async def send(self, notice: Notice) -> None:
        a = notice.alert
        if notice.kind == "resolved":
            level = logging.INFO
        elif a.severity is Severity.CRITICAL:
            level = logging.ERROR
        else:
            level = logging.WARNING
        fields = {
            "kind": str(notice.kind),
            "rule": str(a.rule),
            "scope": a.scope,
            "severity": str(a.severity),
            "summary": a.summary,
            "value": a.value,
            "threshold": a.threshold,
            "alert_id": a.id,
            "call_id": a.call_id,
        }
        self._logger.log(
            level,
            "monitor.alert kind=%s rule=%s scope=%s severity=%s id=%s: %s",
            notice.kind,
            a.rule,
            a.scope,
            a.severity,
            a.id,
            a.summary,
            extra={"fields": fields},
        )


class WebhookSink:
    """POSTs each notice as JSON. ``format="json"``: ``notice_json``; ``format="slack"``: only
    ``{"text": ...}`` (what Slack incoming webhooks and most chat tools accept)."""

    def __init__(self, config: WebhookSinkConfig, client: aiohttp.ClientSession) -> None:
        self.config = config
        self.name = f"webhook:{config.format}"
        self._client = client

    async def send(self, notice: Notice) -> None:
        c = self.config
        body = (
            _ENCODER.encode({"text": notice.text}) if c.format == "slack" else notice_json(notice)
        )
        headers = {"content-type": "application/json", **c.headers}
        try:
            status = await post_json(self._client, c.url, body, headers, c.timeout_s)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AlertSinkError(self.name, c.url, f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= status < 300:
            raise AlertSinkError(self.name, c.url, f"HTTP {status}")


class EmailSink:
    """Mails each notice with the stdlib ``smtplib``, in a worker thread."""

    name = "email"

    def __init__(self, config: EmailSinkConfig) -> None:
        self.config = config

    def message(self, notice: Notice) -> EmailMessage:
        a = notice.alert
        mail = EmailMessage()
        mail["Subject"] = f"[callhook] {a.severity.upper()} {a.rule} {notice.kind}: {a.scope}"
        mail["From"] = self.config.sender
        mail["To"] = ", ".join(self.config.to)
        lines = [
            notice.text,
            "",
            f"rule: {a.rule}",
            f"scope: {a.scope}",
            f"severity: {a.severity}",
            f"value: {a.value}",
            f"threshold: {a.threshold}",
            f"alert id: {a.id}",
        ]
        mail.set_content("\n".join(lines) + "\n")
        return mail

    async def send(self, notice: Notice) -> None:
        await asyncio.to_thread(self._send, self.message(notice))

    def _send(self, mail: EmailMessage) -> None:
        c = self.config
        target = f"{c.host}:{c.port}"
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username:
                    smtp.login(c.username, c.password)
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertSinkError(self.name, target, f"{type(exc).__name__}: {exc}") from exc


async def post_json(
    client: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> int:
    """POST ``body`` within ``timeout_s`` seconds (redirects not followed); the HTTP status.
    Raises ``aiohttp.ClientError`` or ``TimeoutError`` when there is no answer."""
    async with client.post(
        url,
        data=body,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        allow_redirects=False,
    ) as response:
        await response.read()
        return response.status


def build_sinks(configs: Sequence[SinkConfig], client: aiohttp.ClientSession) -> list[AlertSink]:
    """The sinks ``[[monitor.sinks]]`` describes; webhooks share ``client``."""
    sinks: list[AlertSink] = []
    for config in configs:
        if isinstance(config, LogSinkConfig):
            sinks.append(LogSink())
        elif isinstance(config, WebhookSinkConfig):
            sinks.append(WebhookSink(config, client))
        elif isinstance(config, EmailSinkConfig):
            sinks.append(EmailSink(config))
    return sinks
