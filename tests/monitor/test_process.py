"""``MonitorProcess``: the monitor in a child process, fed request bodies through a pipe.

Real child processes on a real database: events are evaluated and their alerts and hang
impacts written where the API reads them; closing drains; a killed child is started again;
a child that stops reading makes the parent drop (and count) events instead of waiting.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callhook.events import Envelope, Event, encode
from callhook.monitor import MonitorConfig, MonitorProcess, MonitorProcessError
from callhook.store import Store, list_alerts, list_hang_impacts
from tests.databases import database_url
from tests.monitor.calls import T0_MS, conv, error, hang, started, user, welcome

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def hang_call(call_id: str) -> list[Event]:
    """A call that starts, hangs on the user's first message and then errors."""
    w, u1 = welcome(), user(1, "Is there a table free tonight?", T0_MS + 1_000)
    return [
        started(call_id),
        conv(call_id, [w, u1]),
        hang(call_id, [w, u1], T0_MS + 6_000),
        error(call_id, T0_MS + 7_000, messages=[w, u1]),
    ]


def feed(process: MonitorProcess, events: list[Event]) -> list[bool]:
    return [
        process.observe(encode(Envelope(message=e)), T0_MS + 10_000 + i)
        for i, e in enumerate(events)
    ]


async def alerts(store: Store) -> list[dict[str, Any]]:
    page = await store.read(
        lambda c: list_alerts(c, since=None, state=None, cursor=None, limit=1000)
    )
    return list(page.items)


async def impacts(store: Store) -> list[dict[str, Any]]:
    page = await store.read(
        lambda c: list_hang_impacts(c, call_id=None, since=None, cursor=None, limit=1000)
    )
    return list(page.items)


async def test_events_are_evaluated_in_the_child_and_written_to_the_database(
    db_url: str,
) -> None:
    async with Store(db_url) as store, MonitorProcess(MonitorConfig(), db_url) as process:
        assert process.pid is not None and process.pid != os.getpid()
        assert feed(process, hang_call("P1")) == [True] * 4
        await process.drain()
        found = await alerts(store)
        assert sorted((a["rule"], a["callId"]) for a in found) == [
            ("error", "P1"),
            ("hang", "P1"),
        ]
        (impact,) = await impacts(store)
        assert impact["callId"] == "P1" and impact["pendingMessageId"] == "user-1"
        stats = process.stats
        assert (stats.sent, stats.dropped, stats.restarts, stats.buffered) == (4, 0, 0, 0)


async def test_closing_drains_the_child_before_it_exits(db_url: str) -> None:
    async with Store(db_url) as store:
        async with MonitorProcess(MonitorConfig(), db_url) as process:
            feed(process, hang_call("P2") + hang_call("P3"))
            # no drain: leaving the block must still evaluate everything observed
        found = await alerts(store)
        assert sorted(a["callId"] for a in found if a["rule"] == "hang") == ["P2", "P3"]
        assert process.pid is None
        with pytest.raises(MonitorProcessError, match="not running"):
            await process.drain()


async def wait_for(condition: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_killed_child_is_started_again(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        Store(db_url) as store,
        MonitorProcess(MonitorConfig(), db_url, restart_delay_s=0.1) as process,
    ):
        first = process.pid
        assert first is not None
        feed(process, hang_call("P4"))
        await process.drain()
        os.kill(first, signal.SIGKILL)
        await wait_for(lambda: process.stats.restarts == 1 and process.pid is not None)
        assert process.pid != first
        assert f"monitor.process_exited pid={first} returncode=-9" in caplog.text
        feed(process, hang_call("P5"))
        await process.drain()
        found = await alerts(store)
        assert sorted(a["callId"] for a in found if a["rule"] == "hang") == ["P4", "P5"]


async def test_a_stalled_child_makes_the_parent_drop_and_count_never_wait(db_url: str) -> None:
    config = MonitorConfig(suppress_s=0)
    limit = 256 * 1024
    async with (
        Store(db_url) as store,
        MonitorProcess(config, db_url, max_buffer_bytes=limit, flush_interval_s=0.01) as process,
    ):
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        kept: set[str] = set()
        dropped: set[str] = set()
        try:
            for n in range(3000):
                call_id = f"S{n}"
                w, u1 = welcome(), user(1, "x" * 200, T0_MS + 1_000)
                accepted = feed(process, [hang(call_id, [w, u1], T0_MS + 6_000)])
                (kept if accepted[0] else dropped).add(call_id)
                if n % 50 == 0:  # let the flusher run: the pipe fills, then the buffer
                    await asyncio.sleep(0.02)
            stats = process.stats
            assert dropped and kept
            assert stats.dropped == len(dropped)
            assert stats.buffered <= limit
        finally:
            os.kill(pid, signal.SIGCONT)
        await process.drain()
        hangs = {a["callId"] for a in await alerts(store) if a["rule"] == "hang"}
        assert hangs == kept
        assert process.stats.sent == len(kept)


@pytest.mark.parametrize("priority", ["idle", "low", "normal"])
async def test_the_child_runs_at_the_configured_cpu_priority(tmp_path: Path, priority: str) -> None:
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    config = MonitorConfig(process_priority=priority)  # type: ignore[arg-type]
    async with Store(url), MonitorProcess(config, url) as process:
        await process.drain()  # the child has read its settings and applied them
        pid = process.pid
        assert pid is not None
        policy = os.sched_getscheduler(pid)
        niceness = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)
        expected = {
            "idle": (os.SCHED_IDLE, 0),
            "low": (os.SCHED_OTHER, 10),
            "normal": (os.SCHED_OTHER, 0),
        }
        assert (policy, niceness) == expected[priority]
