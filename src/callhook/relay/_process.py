"""``DispatcherProcess``: the relay's dispatcher in a child process of ``serve``.

Sending costs about as much CPU per event as storing it (an HTTP request, a claim and a
record per delivery). In the receiver's own process it would take that CPU from ingest (one
interpreter runs one thread at a time); in a child it runs on another core. ``serve`` does
this by default (``[relay] isolation = "process"``), as it runs its monitor.

The child (``python -m callhook.relay._child``) runs an ordinary ``Dispatcher`` on the same
database, at a lower CPU priority (``[relay] process_priority``, ``low`` by default). Each
commit that queued rows writes one byte to the child's stdin, which wakes it at once; it
also looks for due rows every second (retries, rows replayed through the API or
the CLI). End of input (the receiver closing, or dying) stops the child: requests in flight
finish, rows it claimed but did not send go back to the queue. A child that dies is started
again after ``restart_delay_s`` (``relay.process_exited`` is logged); nothing is lost, since
the rows stay in the outbox until delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from types import TracebackType
from typing import Self

from callhook._children import copy_stderr
from callhook._exceptions import CallhookError

__all__ = ["DispatcherProcess", "DispatcherProcessError"]

logger = logging.getLogger("callhook.relay")

_CLOSE_TIMEOUT_S = 20.0


class DispatcherProcessError(CallhookError):
    """The dispatcher's child process could not be started."""


class DispatcherProcess:
    """Runs a ``Dispatcher`` on ``database_url`` in a child process (an async context
    manager); ``wake()`` tells it that rows were queued.

    ``priority``: the child's CPU priority, ``low`` (``nice`` 10: when the machine is busy,
    acknowledging Interactly's fire-once webhooks goes first and forwarding catches up
    after), ``normal`` or ``idle``.
    """

    def __init__(
        self,
        database_url: str,
        *,
        log_format: str | None = None,
        priority: str = "low",
        restart_delay_s: float = 1.0,
    ) -> None:
        self.database_url = database_url
        self.priority = priority
        self.log_format = log_format
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._copies: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def __aenter__(self) -> Self:
        if self._proc is not None or self._closing:
            raise DispatcherProcessError("a DispatcherProcess can be entered once")
        await self._spawn()
        self._watch = asyncio.create_task(self._watcher(), name="callhook-relay-watch")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            try:
                proc.stdin.close()  # end of input: the child stops its dispatcher and exits
                await asyncio.wait_for(proc.wait(), _CLOSE_TIMEOUT_S)
            except (TimeoutError, ConnectionError):
                logger.warning("relay.process_close_timeout pid=%s; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        copies = list(self._copies)
        if copies:
            _, late = await asyncio.wait(copies, timeout=_CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*copies, return_exceptions=True)

    def wake(self) -> None:
        """Rows were queued: the child looks for them now (one byte down its stdin)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return  # the watcher starts it again; it looks at the outbox when it starts
        if proc.stdin.transport.get_write_buffer_size() == 0:  # one wake-up is enough
            with contextlib.suppress(ConnectionError, RuntimeError):
                proc.stdin.write(b"\x01")

    async def _spawn(self) -> None:
        command = [sys.executable, "-m", "callhook.relay._child", self.database_url, self.priority]
        if self.log_format:
            command.append(self.log_format)
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise DispatcherProcessError(f"cannot start the dispatcher process: {exc}") from exc
        self._proc = proc
        copy = asyncio.create_task(copy_stderr(proc), name=f"callhook-relay-log-{proc.pid}")
        self._copies.add(copy)
        copy.add_done_callback(self._copies.discard)
        logger.info("relay.process_started pid=%s", proc.pid)

    async def _watcher(self) -> None:
        while True:
            proc = self._proc
            assert proc is not None
            returncode = await proc.wait()
            if self._closing:
                return
            logger.warning(
                "relay.process_exited pid=%s returncode=%s; restarting in %.1f s",
                proc.pid,
                returncode,
                self.restart_delay_s,
            )
            await asyncio.sleep(self.restart_delay_s)
            try:
                await self._spawn()
            except DispatcherProcessError as exc:
                logger.error("relay.process_restart_failed %s", exc)
                continue
            self.restarts += 1
