"""The table ``simulate`` and ``demo`` print at the end."""

from __future__ import annotations

from rich.table import Table

from callhook.events import EventType
from callhook.sim._simulate import SimulationResult

__all__ = ["summary_table"]


def summary_table(result: SimulationResult, seconds: float) -> Table:
    """Calls, events by type, hangs, errors, barge-ins, delivery figures, generated latencies."""
    report, delivery = result.report, result.delivery
    table = Table(title=f"callhook simulation ({seconds:.1f} s)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("calls", f"{report.calls} ({report.failed_calls} failed to start, "
                  f"{report.forwarded_calls} forwarded)")  # fmt: skip
    for kind in EventType:
        table.add_row(f"  {kind.value} events", str(report.events[kind]))
    table.add_row("hangs", str(report.hangs))
    table.add_row("errors", str(report.errors))
    table.add_row("barge-ins", str(report.barge_ins))
    table.add_row("delivered", str(delivery.delivered))
    table.add_row("delivery attempts (failed)", f"{delivery.attempts} ({delivery.failed_attempts})")
    table.add_row("retries", str(delivery.retries))
    table.add_row("dead letters / still pending", f"{delivery.dead} / {delivery.pending}")
    for stage in ("stt", "eou", "llm", "tts"):
        p50, p95, p99 = report.percentiles(stage)
        table.add_row(f"{stage} latency p50/p95/p99", f"{p50:.0f} / {p95:.0f} / {p99:.0f} ms")
    return table
