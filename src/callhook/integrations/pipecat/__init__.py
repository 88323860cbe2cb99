"""Pipecat → callhook: ``CallhookObserver`` drives one ``CallSession`` per pipeline run.

Needs ``pip install 'callhook[pipecat]'``. ``callhook.integrations.pipecat.offline`` holds
scripted services that run a whole pipeline with no network (demos, tests, benchmarks).
"""

from callhook.integrations._missing import missing_extra

try:
    from callhook.integrations.pipecat._observer import CallhookObserver
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    if not (exc.name or "").startswith("pipecat"):
        raise
    raise missing_extra("pipecat-ai", "pipecat", exc) from exc

__all__ = ["CallhookObserver"]
