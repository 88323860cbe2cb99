"""``MonitorProcess``: the monitor in a child process, so that it never takes CPU from ingest.

``callhook serve`` runs its monitor this way by default (``[monitor] isolation = "process"``).
The receiver hands each stored event's request body to ``observe`` (O(1): the bytes are only
appended to a list). Every ``flush_interval_s`` the pending frames go down the child's stdin
in one write; the child (``python -m callhook.monitor._child``, at the CPU priority of
``config.process_priority``) decodes them and runs an ordinary ``Monitor`` with its history
in the same database.

The pipe protocol, little-endian: a first frame holding the ``ChildSettings`` as JSON, then one
frame per event: ``received_at_ms`` (int64), the body's length (uint32), the body. A length of
``DRAIN`` (no body) asks the child to finish everything sent so far and answer one byte on its
stdout. End of input closes the child's monitor (which drains it) and the child exits.

The receiver never waits for the child: when the child falls behind by more than
``max_buffer_bytes``, new events are dropped and counted (``stats.dropped``), as the inline
monitor drops beyond its queue. A child that dies is started again after ``restart_delay_s``
(``monitor.process_exited`` is logged); events sent to it but not yet evaluated are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
from types import TracebackType
from typing import Self

import msgspec

from callhook._children import copy_stderr
from callhook._exceptions import CallhookError
from callhook.monitor._config import MonitorConfig

__all__ = [
    "DRAIN",
    "FRAME",
    "ChildSettings",
    "MonitorProcess",
    "MonitorProcessError",
    "MonitorProcessStats",
]

logger = logging.getLogger("callhook.monitor")

#: The header of every frame: received_at_ms, body length.
FRAME = struct.Struct("<qI")
#: The length that marks a drain request (no body follows).
DRAIN = 0xFFFFFFFF

_CLOSE_TIMEOUT_S = 10.0


class MonitorProcessError(CallhookError):
    """The monitor's child process could not be started or answered a drain with an error."""


class ChildSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What the parent tells the child in the first frame."""

    database_url: str
    # Any: MonitorConfig as msgspec builtins; the child converts it back.
    config: dict[str, object]
    #: The log format the child sets up (``callhook._logging``); empty: none set up.
    log_format: str = ""


class MonitorProcessStats(msgspec.Struct, frozen=True, kw_only=True):
    #: Events written to the child (over all its restarts).
    sent: int
    #: Events accepted by ``observe`` and not yet written to the child (the next flush).
    pending: int
    #: Events not sent because the child was too far behind (or not running).
    dropped: int
    #: How many times a dead child was started again.
    restarts: int
    #: Bytes waiting for the child: pending frames plus the pipe writer's buffer.
    buffered: int


class MonitorProcess:
    """Runs a ``Monitor`` built from ``config`` in a child process (an async context manager).

    The child opens ``database_url`` itself (without migrating it: the receiver has) and keeps
    the alert history, hang impacts and sentiment there, where the API reads them.
    """

    def __init__(
        self,
        config: MonitorConfig,
        database_url: str,
        *,
        max_buffer_bytes: int = 64 * 1024 * 1024,
        flush_interval_s: float = 0.05,
        restart_delay_s: float = 1.0,
        log_format: str | None = None,
    ) -> None:
        self.config = config
        #: The child's log format (``pretty``, ``json``, ``logfmt``); ``None``: the child sets
        #: up no logging. Either way its stderr is relayed line by line to this process's.
        self.log_format = log_format
        self.database_url = database_url
        self.max_buffer_bytes = max_buffer_bytes
        self.flush_interval_s = flush_interval_s
        self.restart_delay_s = restart_delay_s
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_events = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._relays: set[asyncio.Task[None]] = set()
        self._drain_lock = asyncio.Lock()
        self._started = False
        self._closing = False
        self._sent = self._dropped = self._restarts = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._started:
            raise MonitorProcessError("a MonitorProcess can be entered once; create a new one")
        self._started = True
        await self._spawn()
        self._tasks = [
            asyncio.create_task(self._flusher(), name="callhook-monitor-flush"),
            asyncio.create_task(self._watcher(), name="callhook-monitor-watch"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            try:
                self._flush(proc)
                proc.stdin.close()  # end of input: the child drains its monitor and exits
                await asyncio.wait_for(proc.wait(), _CLOSE_TIMEOUT_S)
            except (TimeoutError, ConnectionError):
                logger.warning("monitor.process_close_timeout pid=%s; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        # The relays end at the children's end of output; bounded, then cancelled.
        relays = list(self._relays)
        if relays:
            _, late = await asyncio.wait(relays, timeout=_CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)

    async def _spawn(self) -> None:
        settings = ChildSettings(
            database_url=self.database_url,
            config=msgspec.to_builtins(self.config),
            log_format=self.log_format or "",
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "callhook.monitor._child",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise MonitorProcessError(f"cannot start the monitor process: {exc}") from exc
        assert proc.stdin is not None
        first = msgspec.json.encode(settings)
        proc.stdin.write(FRAME.pack(0, len(first)) + first)
        self._proc = proc
        relay = asyncio.create_task(copy_stderr(proc), name=f"callhook-monitor-stderr-{proc.pid}")
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)
        logger.info("monitor.process_started pid=%s", proc.pid)

    # -- the hot path ----------------------------------------------------------------------

    def observe(self, body: bytes, received_at_ms: int) -> bool:
        """Queue one event's request body for the child; ``False`` if it was dropped because
        the child is too far behind. O(1), never blocks."""
        if self._buffered() + len(body) > self.max_buffer_bytes:
            self._dropped += 1
            return False
        self._pending.append(FRAME.pack(received_at_ms, len(body)))
        self._pending.append(body)
        self._pending_bytes += FRAME.size + len(body)
        self._pending_events += 1
        return True

    async def drain(self) -> None:
        """Wait until the child has evaluated every event sent so far and carried out the
        outcomes (alerts saved, notices sent). Raises ``MonitorProcessError`` when the child
        is not running or dies meanwhile."""
        async with self._drain_lock:
            proc = self._proc
            if proc is None or proc.returncode is not None:
                raise MonitorProcessError("the monitor process is not running")
            assert proc.stdin is not None and proc.stdout is not None
            self._flush(proc)
            proc.stdin.write(FRAME.pack(0, DRAIN))
            try:
                await proc.stdin.drain()
                await proc.stdout.readexactly(1)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                raise MonitorProcessError("the monitor process exited during drain") from exc

    # -- background tasks ------------------------------------------------------------------

    def _buffered(self) -> int:
        proc = self._proc
        in_pipe = 0
        if proc is not None and proc.stdin is not None and proc.returncode is None:
            in_pipe = proc.stdin.transport.get_write_buffer_size()
        return self._pending_bytes + in_pipe

    def _flush(self, proc: asyncio.subprocess.Process) -> None:
        if not self._pending:
            return
        assert proc.stdin is not None
        proc.stdin.write(b"".join(self._pending))
        self._sent += self._pending_events
        self._pending.clear()
        self._pending_bytes = self._pending_events = 0

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            proc = self._proc
            if proc is not None and proc.returncode is None:
                # ConnectionError: the child is gone; the watcher starts it again.
                with contextlib.suppress(ConnectionError):
                    self._flush(proc)

    async def _watcher(self) -> None:
        while True:
            proc = self._proc
            assert proc is not None
            returncode = await proc.wait()
            if self._closing:
                return
            logger.warning(
                "monitor.process_exited pid=%s returncode=%s; restarting in %.1f s",
                proc.pid,
                returncode,
                self.restart_delay_s,
            )
            await asyncio.sleep(self.restart_delay_s)
            try:
                await self._spawn()
            except MonitorProcessError as exc:
                logger.error("monitor.process_restart_failed %s", exc)
                continue
            self._restarts += 1

    # -- read side -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def stats(self) -> MonitorProcessStats:
        return MonitorProcessStats(
            sent=self._sent,
            pending=self._pending_events,
            dropped=self._dropped,
            restarts=self._restarts,
            buffered=self._buffered(),
        )
