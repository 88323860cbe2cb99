"""What the monitor's synchronous core hands to the async side: alerts to save, notices to
send, remediation to carry out.

``MonitorCore.process`` and ``MonitorCore.tick`` return an ``Outcome`` and do nothing
themselves; ``Monitor`` saves and sends, and ``Remediator`` performs the actions.
"""

from __future__ import annotations

import msgspec

from callhook.monitor._alerts import Alert, Notice

__all__ = ["Outcome", "SayAction", "WebhookAction"]


class SayAction(msgspec.Struct, frozen=True, kw_only=True):
    """Remediation: ``POST {"type": "say", "message": ...}`` to a call's control URL."""

    call_id: str
    control_url: str
    message: str
    pending_message_id: str


class WebhookAction(msgspec.Struct, frozen=True, kw_only=True):
    """Remediation: ``POST`` the systemic-hangs alert as JSON to the configured webhook."""

    url: str
    alert: Alert


class Outcome(msgspec.Struct, kw_only=True):
    """What one ``process`` or ``tick`` asks of the async side."""

    saves: list[Alert] = msgspec.field(default_factory=list)
    notices: list[Notice] = msgspec.field(default_factory=list)
    actions: list[SayAction | WebhookAction] = msgspec.field(default_factory=list)
