"""The end-of-call report: the final ``call`` object with cost and callStats, and the analysis."""

from __future__ import annotations

import msgspec

from callhook.engine._assistant import stt_vendor, tts_vendor
from callhook.engine._config import EngineConfig
from callhook.engine._ledger import Ledger
from callhook.engine._messages import iso
from callhook.engine._stats import CostInputs, build_call_stats, build_cost
from callhook.events import (
    Analysis,
    AnalysisTask,
    Assistant,
    AssistantAnalysis,
    Call,
    CallAnalysis,
    CallMetrics,
    Customer,
    EndOfCallReport,
    Message,
    Phone,
    PhoneProvider,
    Recording,
)

__all__ = ["build_report", "final_call"]


def final_call(
    call: Call, *, start_ms: float, end_ms: float, duration_ms: float, ended_by: str
) -> Call:
    """``call`` as the finished status-update carries it: ``endAt``, duration, trigger."""
    return msgspec.structs.replace(
        call,
        status="finished" if call.status != "failed" else "failed",
        phone_call_status="completed" if call.status != "failed" else call.phone_call_status,
        phone_call_status_reason="Call is completed"
        if call.status != "failed"
        else call.phone_call_status_reason,
        start_at=iso(start_ms),
        end_at=iso(end_ms),
        call_end_trigger_by=ended_by,
        assistant_call_duration=round(duration_ms),
    )


def build_report(
    call: Call,
    *,
    ledger: Ledger,
    config: EngineConfig,
    assistant: Assistant,
    assistant_view: Assistant,
    messages: list[Message],
    phone: Phone,
    customer: Customer,
    analysis: Analysis,
    now: float,
    duration_ms: float,
) -> EndOfCallReport:
    inputs = CostInputs(
        duration_ms=duration_ms,
        phone_provider=_provider_name(phone),
        stt_vendor=stt_vendor(assistant),
        tts_vendor=tts_vendor(assistant),
        llm_provider=assistant.assistant_provider
        if isinstance(assistant.assistant_provider, str)
        else "",
    )
    final = msgspec.structs.replace(
        call,
        analysis=CallAnalysis(summary="", success_evaluation="", guardrails=_guardrails(assistant)),
        recording=Recording(
            s3_bucket=config.recording_bucket, path=f"{call.team_id}/{call.id}.mp3"
        ),
        cost=build_cost(ledger, config.prices, inputs),
        metrics=CallMetrics(call_stats=build_call_stats(ledger, duration_ms)),
    )
    return EndOfCallReport(
        timestamp=round(now),
        call=final,
        assistant=assistant_view,
        messages=messages,
        phone=phone,
        customer=customer,
        analysis=analysis,
    )


def _guardrails(assistant: Assistant) -> str:
    settings = assistant.assistant_analysis
    task = settings.guardrails if isinstance(settings, AssistantAnalysis) else None
    return "ENABLED" if isinstance(task, AnalysisTask) and task.enabled is True else "DISABLED"


def _provider_name(phone: Phone) -> str:
    provider = phone.provider
    if isinstance(provider, PhoneProvider) and isinstance(provider.name, str):
        return provider.name
    return ""
