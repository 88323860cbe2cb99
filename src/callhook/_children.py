"""What callhook's child processes share: the monitor's and the relay dispatcher's.

``lower_priority`` runs in the child; ``copy_stderr`` in the parent, which copies the child's
log to its own standard error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

__all__ = ["copy_stderr", "lower_priority"]


def lower_priority(priority: str) -> None:
    """``idle``: Linux's ``SCHED_IDLE`` (CPU time only when nothing else wants it; ``nice``
    19 where that policy does not exist); ``low``: ``nice`` 10; ``normal``: unchanged."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):
            with contextlib.suppress(OSError):
                os.nice(19)
    elif priority == "low":
        with contextlib.suppress(OSError):
            os.nice(10)


async def copy_stderr(proc: asyncio.subprocess.Process) -> None:
    """Copy the child's stderr (its log) to this process's ``sys.stderr`` line by line, so
    that a live display in this process keeps its lines whole."""
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        sys.stderr.write(line.decode("utf-8", "replace"))
        sys.stderr.flush()
