"""``callhook serve --workers N``: N receiver processes on one port (PostgreSQL only).

The supervisor (the process ``serve`` started in) migrates the database and forks N workers.
Each worker runs the whole receiver on the port (``SO_REUSEPORT``: the kernel spreads new
connections over them) with its own store and group commit; PostgreSQL's row
locks and the call versions keep their writes exact (``store/_writer.py``), and the live
dashboard hears every worker through ``LISTEN/NOTIFY`` (``_fanout.py``).

The monitor must see every event of a call, whichever worker stored it, so it runs once: the
supervisor runs the monitor's child process (``MonitorProcess``) and each worker relays the
events it stored to the supervisor over a pipe (``MonitorRelay``, the same frames the child
reads). A worker that dies stops the service (the others are stopped and ``serve`` exits
with status 1) for the service manager to restart it whole.

SQLite has one writer at a time: several workers would only take turns on its write lock,
so ``ReceiverConfig.check`` refuses ``workers > 1`` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
from multiprocessing.process import BaseProcess

import msgspec

from callhook.monitor import MonitorProcess
from callhook.monitor._process import FRAME, MonitorProcessStats
from callhook.receiver._config import ReceiverConfig

__all__ = ["MonitorRelay", "serve_workers"]

logger = logging.getLogger("callhook.receiver")

_FLUSH_S = 0.05
_MAX_BACKLOG = 64 * 1024 * 1024


class MonitorRelay:
    """In a worker: hands each stored event to the supervisor's monitor, over a pipe.

    ``observe`` only appends (O(1)); every 50 ms the frames go down the pipe without
    blocking. Beyond 64 MiB waiting, new events are dropped and counted, as the monitor's
    own child process does.
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._pending: list[bytes] = []
        self._unsent = b""
        self._pending_bytes = self._pending_events = 0
        self._sent = self._dropped = 0
        self._task: asyncio.Task[None] | None = None

    def observe(self, body: bytes, received_at_ms: int) -> bool:
        if self._pending_bytes + len(self._unsent) + len(body) > _MAX_BACKLOG:
            self._dropped += 1
            return False
        self._pending.append(FRAME.pack(received_at_ms, len(body)))
        self._pending.append(body)
        self._pending_bytes += FRAME.size + len(body)
        self._pending_events += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flusher())
        return True

    @property
    def stats(self) -> MonitorProcessStats:
        return MonitorProcessStats(
            sent=self._sent,
            pending=self._pending_events,
            dropped=self._dropped,
            restarts=0,
            buffered=self._pending_bytes + len(self._unsent),
        )

    async def drain(self) -> None:
        """Write what is pending (the supervisor's monitor evaluates it on its own time)."""
        while self._pending or self._unsent:
            self._flush()
            if self._pending or self._unsent:
                await asyncio.sleep(_FLUSH_S)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(OSError):
            self._flush()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_S)
            try:
                self._flush()
            except OSError as exc:  # the supervisor is gone: nothing more to relay
                logger.warning("receiver.monitor_relay_closed %s", exc)
                return

    def _flush(self) -> None:
        if self._pending:
            self._unsent += b"".join(self._pending)
            self._sent += self._pending_events
            self._pending.clear()
            self._pending_bytes = self._pending_events = 0
        while self._unsent:
            try:
                written = os.write(self._fd, self._unsent)
            except BlockingIOError:
                return
            self._unsent = self._unsent[written:]


class _Frames(asyncio.Protocol):
    """In the supervisor: reads one worker's frames and feeds them to the monitor."""

    def __init__(self, monitor: MonitorProcess | None, closed: asyncio.Future[None]) -> None:
        self.monitor = monitor
        self.closed = closed
        self.buffer = bytearray()

    def itself(self) -> _Frames:
        """The protocol factory ``connect_read_pipe`` needs."""
        return self

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= FRAME.size:
            received_at, length = FRAME.unpack_from(buffer, offset)
            end = offset + FRAME.size + length
            if len(buffer) < end:
                break
            if self.monitor is not None:
                self.monitor.observe(bytes(buffer[offset + FRAME.size : end]), received_at)
            offset = end
        del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def serve_workers(config: ReceiverConfig) -> None:
    """Serve ``config`` with ``config.workers`` processes; returns when they have stopped."""
    context = multiprocessing.get_context("fork")  # before any thread or loop exists here
    workers: list[BaseProcess] = []
    pipes: list[int] = []
    for number in range(config.workers):
        read_end, write_end = os.pipe()
        worker = context.Process(
            target=_worker, args=(config, write_end, pipes), name=f"callhook-worker-{number}"
        )
        worker.start()
        os.close(write_end)
        workers.append(worker)
        pipes.append(read_end)
    logger.info("receiver.workers_started %s", [w.pid for w in workers])
    failed = asyncio.run(_supervise(config, workers, pipes))
    if failed:
        raise SystemExit(1)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket of its own per worker, on the shared port: with ``SO_REUSEPORT``
    the kernel spreads new connections evenly over the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(config: ReceiverConfig, relay_fd: int, others: list[int]) -> None:
    """A worker process: the receiver on the port, its monitor events relayed on ``relay_fd``."""
    from callhook.receiver._app import create_app
    from callhook.receiver._serve import run_server

    for fd in others:  # the read ends of earlier workers' pipes belong to the supervisor
        with contextlib.suppress(OSError):
            os.close(fd)
    relay = MonitorRelay(relay_fd) if config.monitor.enabled else None
    own = dataclasses.replace(
        config, monitor=msgspec.structs.replace(config.monitor, enabled=False)
    )
    app = create_app(own, monitor_sink=relay)
    try:
        run_server(own, app, sockets=[_bind(config.host, config.port)])
    finally:
        if relay is not None:
            relay.close()


async def _supervise(config: ReceiverConfig, workers: list[BaseProcess], pipes: list[int]) -> bool:
    """Relay the workers' events to the monitor until a signal or a worker's death; stop
    everything; whether a worker died on its own."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    failed = False
    async with contextlib.AsyncExitStack() as stack:
        monitor = None
        if config.monitor.enabled:
            monitor = await stack.enter_async_context(
                MonitorProcess(config.monitor, config.database_url)
            )
        closed: list[asyncio.Future[None]] = []
        for fd in pipes:
            frames = _Frames(monitor, loop.create_future())
            await loop.connect_read_pipe(frames.itself, os.fdopen(fd, "rb"))
            closed.append(frames.closed)
        while not stop.is_set():
            dead = [w for w in workers if not w.is_alive()]
            if dead:
                failed = True
                logger.error(
                    "receiver.worker_exited %s; stopping the other workers",
                    [(w.pid, w.exitcode) for w in dead],
                )
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            await loop.run_in_executor(None, worker.join, 30)
            if worker.is_alive() and worker.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(worker.pid, signal.SIGKILL)
        # Every worker has closed its pipe: what they relayed reaches the monitor, which
        # drains on close.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closed), 10)
    return failed
