"""Opt-in remediation: speak into a hung call, call a webhook on systemic hangs.

- On a hang (``[monitor.remediation] say_on_hang = true``) whose call carries
  ``call.monitor.controlUrl``: ``POST {"type": "say", "message": <say_message>}`` to it, once per
  hung user turn (SPEC §5, live call control).
- When the ``systemic_hangs`` rule fires or escalates (``systemic_hangs_webhook = "<url>"``):
  ``POST`` the alert as JSON (the body of the webhook sink's ``json`` format).
"""

from __future__ import annotations

import logging

import aiohttp
import msgspec

from callhook._exceptions import CallhookError
from callhook.monitor._alerts import Notice, NoticeKind
from callhook.monitor._outcome import SayAction, WebhookAction
from callhook.monitor._sinks import notice_json, post_json

__all__ = ["RemediationError", "Remediator"]

logger = logging.getLogger("callhook.monitor")

_ENCODER = msgspec.json.Encoder()


class RemediationError(CallhookError):
    """A remediation request failed; ``url`` is where it went, ``call_id`` the call if any."""

    def __init__(self, url: str, reason: str, *, call_id: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.call_id = call_id
        about = f" for call {call_id}" if call_id else ""
        super().__init__(f"remediation request to {url}{about} failed: {reason}")


class Remediator:
    """Carries out ``SayAction`` and ``WebhookAction`` with a shared ``aiohttp.ClientSession``."""

    def __init__(self, client: aiohttp.ClientSession, *, timeout_s: float = 5.0) -> None:
        self._client = client
        self.timeout_s = timeout_s

    async def perform(self, action: SayAction | WebhookAction) -> None:
        if isinstance(action, SayAction):
            body = _ENCODER.encode({"type": "say", "message": action.message})
            await self._post(action.control_url, body, call_id=action.call_id)
            logger.info(
                "monitor.remediation.say call_id=%s pending=%s",
                action.call_id,
                action.pending_message_id,
            )
        else:
            notice = Notice(kind=NoticeKind.FIRING, alert=action.alert)
            await self._post(action.url, notice_json(notice), call_id=None)
            logger.info("monitor.remediation.webhook scope=%s", action.alert.scope)

    async def _post(self, url: str, body: bytes, *, call_id: str | None) -> None:
        headers = {"content-type": "application/json"}
        try:
            status = await post_json(self._client, url, body, headers, self.timeout_s)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RemediationError(url, f"{type(exc).__name__}: {exc}", call_id=call_id) from exc
        if not 200 <= status < 300:
            raise RemediationError(url, f"HTTP {status}", call_id=call_id)
