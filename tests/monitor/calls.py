"""Scripted calls built from ``callhook.events`` models, for the monitor's tests."""

from __future__ import annotations

from callhook.events import (
    Assistant,
    Call,
    ConversationUpdate,
    EndOfCallReport,
    ErrorEvent,
    ErrorInfo,
    HangEvent,
    HangInfo,
    HangMetrics,
    LlmMetrics,
    Message,
    MessageMetrics,
    SpeechConfig,
    StatusUpdate,
    SttConfig,
    VoiceConfig,
)
from callhook.events import Monitor as CallMonitor

#: Platform epoch ms of the scripted calls' start.
T0_MS = 1_772_702_480_000


def assistant(
    assistant_id: str = "asst-1", provider: str = "openai", model: str = "gpt-4o"
) -> Assistant:
    return Assistant(
        id=assistant_id,
        assistant_provider=provider,
        assistant_model=model,
        config=VoiceConfig(speech=SpeechConfig(stt=SttConfig(vendor="deepgram"))),
    )


def call(
    call_id: str,
    *,
    status: str = "ongoing",
    assistant_id: str = "asst-1",
    control_url: str | None = None,
    trigger: str | None = None,
) -> Call:
    return Call(
        id=call_id,
        assistant_id=assistant_id,
        status=status,
        monitor=CallMonitor(control_url=control_url) if control_url else None,
        call_end_trigger_by=trigger if trigger is not None else "",
    )


def user(n: int, text: str, ts: int) -> Message:
    return Message(message_id=f"user-{n}", role="user", text=text, timestamp=ts)


def bot(
    n: int, text: str, ts: int, *, latency: float | None = None, waited: float | None = None
) -> Message:
    metrics = MessageMetrics(
        llm=LlmMetrics(response_latency_ms=latency) if latency is not None else None,
        hang=HangMetrics(waited_ms=waited) if waited is not None else None,
    )
    return Message(
        message_id=f"user-{n}-AbCdEfGhIj-{ts}",
        role="assistant",
        text=text,
        timestamp=ts,
        metrics=metrics,
    )


def welcome(ts: int = T0_MS) -> Message:
    return Message(message_id="welcome-1", role="assistant", text="Welcome!", timestamp=ts)


def started(call_id: str, ts: int = T0_MS, **kw: str) -> StatusUpdate:
    """The first event of a call: full assistant (provider, model, STT vendor)."""
    return StatusUpdate(
        timestamp=ts,
        call=call(call_id, **kw),
        assistant=assistant(kw.get("assistant_id", "asst-1")),
    )


def conv(
    call_id: str, messages: list[Message], ts: int | None = None, **kw: str
) -> ConversationUpdate:
    stamp = ts if ts is not None else int(messages[-1].timestamp or T0_MS)
    return ConversationUpdate(
        timestamp=stamp, call=call(call_id, **kw), assistant=Assistant(), messages=messages
    )


def hang(
    call_id: str,
    messages: list[Message],
    ts: int,
    *,
    pending: str | None = None,
    waited: float = 5000,
    stage: str = "llm",
    **kw: str,
) -> HangEvent:
    info = HangInfo(
        pending_message_id=pending or messages[-1].message_id,
        waited_ms=waited,
        threshold_ms=5000,
        stage=stage,
    )
    return HangEvent(timestamp=ts, call=call(call_id, **kw), messages=messages, hang=info)


def error(
    call_id: str,
    ts: int,
    *,
    kind: str = "llm_error",
    code: str = "rate_limit_exceeded",
    provider: str | None = "openai",
    messages: list[Message] | None = None,
) -> ErrorEvent:
    info = ErrorInfo(type=kind, code=code, message="boom", provider=provider, retryable=True)
    return ErrorEvent(timestamp=ts, call=call(call_id), messages=messages or [], error=info)


def finished(call_id: str, ts: int, *, trigger: str = "user") -> StatusUpdate:
    return StatusUpdate(timestamp=ts, call=call(call_id, status="finished", trigger=trigger))


def report(
    call_id: str, messages: list[Message], ts: int, *, trigger: str = "user"
) -> EndOfCallReport:
    return EndOfCallReport(
        timestamp=ts, call=call(call_id, status="finished", trigger=trigger), messages=messages
    )
