"""Call sessions: what a platform observes on a call in, the five webhook events out.

A ``CallSession`` is driven by the platform (or a pipeline adapter, or the simulator) one
observation at a time and emits status-update, conversation-update, hang, error and
end-of-call-report events to an ``EventSink``. Time and timers come from a ``Scheduler``
(``AsyncioScheduler`` in production, ``FakeScheduler`` in tests); no HTTP, no SQL here.
"""

from callhook._exceptions import EngineError
from callhook.engine._analysis import AnalysisInput, Analyzer, OfflineAnalyzer
from callhook.engine._assistant import REDACTED, render_variables
from callhook.engine._config import CallParams, EndTrigger, EngineConfig, Prices, Segment
from callhook.engine._llm_analysis import ChatCompletionsAnalyzer
from callhook.engine._ports import (
    AsyncioScheduler,
    EventSink,
    FakeScheduler,
    ListSink,
    Scheduler,
    TimerHandle,
)
from callhook.engine._session import CallSession

__all__ = [
    "REDACTED",
    "AnalysisInput",
    "Analyzer",
    "AsyncioScheduler",
    "CallParams",
    "CallSession",
    "ChatCompletionsAnalyzer",
    "EndTrigger",
    "EngineConfig",
    "EngineError",
    "EventSink",
    "FakeScheduler",
    "ListSink",
    "OfflineAnalyzer",
    "Prices",
    "Scheduler",
    "Segment",
    "TimerHandle",
    "render_variables",
]
