"""LiveKit Agents → callhook: ``attach(agent_session, call_session)`` follows an
``AgentSession``'s events with a ``CallSession``.

Needs ``pip install 'callhook[livekit]'``. ``callhook.integrations.livekit.offline`` holds
scripted plugins that run a whole session with no room and no keys (demos, tests).
"""

from callhook.integrations._missing import missing_extra

try:
    from callhook.integrations.livekit._attach import CallhookAgent, LiveKitCall, attach, new_call
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    if not (exc.name or "").startswith("livekit"):
        raise
    raise missing_extra("livekit-agents", "livekit", exc) from exc

__all__ = ["CallhookAgent", "LiveKitCall", "attach", "new_call"]
