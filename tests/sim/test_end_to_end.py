"""The whole loop over real HTTP on loopback: simulated calls → CallSession → durable delivery
→ ``callhook serve`` (a real process) → what it stored equals what the emitter produced."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from typer.testing import CliRunner

from callhook import events
from callhook.cli import app
from callhook.delivery import RetryPolicy
from callhook.engine import ListSink
from callhook.sim import demo_profile, simulate

CALLS = 50


def _expected(sink: ListSink) -> dict[str, dict[str, Any]]:
    """Per call, what the emitter produced: each message as first sent, the last status, the
    end-of-call report."""
    calls: dict[str, dict[str, Any]] = {}
    for envelope in sink.envelopes:
        event = envelope.message
        assert event.call_id is not None
        call = calls.setdefault(event.call_id, {"messages": {}, "status": None, "report": None})
        assert isinstance(event.call, events.Call)
        if isinstance(event, events.StatusUpdate):
            call["status"] = event.call.status
        if isinstance(event, events.EndOfCallReport):
            call["report"] = msgspec.to_builtins(event)
        for message in getattr(event, "messages", None) or []:
            call["messages"].setdefault(message.message_id, msgspec.to_builtins(message))
    return calls


async def _stored(client: httpx.AsyncClient, call_id: str) -> dict[str, Any]:
    detail = (await client.get(f"/api/calls/{call_id}")).json()
    messages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/api/calls/{call_id}/messages", params=params)).json()
        messages += page["messages"]
        cursor = page["nextCursor"]
        if cursor is None:
            return {"detail": detail, "messages": messages}


async def _assert_stored_equals_emitted(base: str, sink: ListSink) -> Counter[str]:
    expected = _expected(sink)
    assert len(expected) == CALLS
    kinds: Counter[str] = Counter(e.message.type.value for e in sink.envelopes)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for call_id, want in expected.items():
            got = await _stored(client, call_id)
            stored = {m["messageId"]: m for m in got["messages"]}
            assert stored == want["messages"], call_id
            assert got["detail"]["status"] == want["status"], call_id
            report = want["report"]
            assert report is not None, call_id
            assert got["detail"]["analysis"] == report.get("analysis"), call_id
            assert got["detail"]["cost"] == report["call"].get("cost"), call_id
            stored_report = got["detail"]["report"]
            for key in ("metrics", "recording", "endAt"):
                assert stored_report.get(key) == report["call"].get(key), (call_id, key)
            for key in ("callEndTriggerBy", "assistantCallDuration", "startAt", "endAt"):
                assert got["detail"]["call"].get(key) == report["call"].get(key), (call_id, key)
    return kinds


@pytest.mark.asyncio
async def test_fifty_calls_arrive_exactly_as_emitted(receiver: str, tmp_path: Path) -> None:
    sink = ListSink()
    result = await simulate(
        f"{receiver}/webhook",
        demo_profile(),
        calls=CALLS,
        outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        concurrency=25,
        seed=11,
        speed=200,
        also=sink,
    )
    assert result.delivery.delivered == len(sink.envelopes)
    assert (result.delivery.pending, result.delivery.dead, result.delivery.retries) == (0, 0, 0)
    kinds = await _assert_stored_equals_emitted(receiver, sink)
    # The run covered what the issue names: hangs, errors, barge-ins, end phrases.
    assert kinds["hang"] > 0 and kinds["error"] > 0
    assert result.report.barge_ins > 0
    reports = [e.message for e in sink.envelopes if isinstance(e.message, events.EndOfCallReport)]
    triggers = Counter(
        r.call.call_end_trigger_by for r in reports if isinstance(r.call, events.Call)
    )
    assert triggers["bot"] > 0  # calls ended by an end-call phrase


class FlakyProxy:
    """Forwards requests to the receiver, but fails a share of them: 503, or a dropped
    connection before any answer. Seeded, so a run replays."""

    def __init__(self, target: str, failure_share: float, seed: int) -> None:
        self.target = target
        self.failure_share = failure_share
        self.rng = random.Random(seed)
        self.failed: Counter[str] = Counter()
        self.forwarded = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with httpx.AsyncClient(base_url=self.target, timeout=30) as client:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, path, _ = lines[0].split(" ", 2)
                    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                    length = int(
                        {k.lower(): v for k, v in headers.items()}.get("content-length", 0)
                    )
                    body = await reader.readexactly(length)
                    roll = self.rng.random()
                    if roll < self.failure_share / 2:
                        self.failed["dropped"] += 1
                        writer.close()
                        return
                    if roll < self.failure_share:
                        self.failed["503"] += 1
                        writer.write(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
                        )
                        await writer.drain()
                        continue
                    forward = {k: v for k, v in headers.items() if k.lower() != "host"}
                    response = await client.request(method, path, content=body, headers=forward)
                    self.forwarded += 1
                    head_out = (
                        f"HTTP/1.1 {response.status_code} X\r\n"
                        f"content-length: {len(response.content)}\r\n"
                        "content-type: application/json\r\n\r\n"
                    )
                    writer.write(head_out.encode() + response.content)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.close()
            await server.wait_closed()


@pytest.mark.asyncio
async def test_a_flaky_receiver_still_ends_with_identical_data(
    receiver: str, tmp_path: Path
) -> None:
    proxy = FlakyProxy(receiver, failure_share=0.25, seed=3)
    sink = ListSink()
    async with proxy.running() as flaky:
        result = await simulate(
            f"{flaky}/webhook",
            demo_profile(),
            calls=CALLS,
            outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
            concurrency=25,
            seed=12,
            speed=200,
            also=sink,
            policy=RetryPolicy().testing(),  # retries at once: the test never waits on backoff
            wait_s=120,
        )
    assert proxy.failed["dropped"] > 0 and proxy.failed["503"] > 0
    assert result.delivery.retries >= sum(proxy.failed.values())
    assert (result.delivery.pending, result.delivery.dead) == (0, 0)
    assert result.delivery.delivered == len(sink.envelopes)
    await _assert_stored_equals_emitted(receiver, sink)


def test_simulate_command_prints_a_summary(receiver: str, tmp_path: Path) -> None:
    outbox = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    args = ["simulate", "--to", f"{receiver}/webhook", "--calls", "4", "--speed", "200"]
    result = CliRunner().invoke(app, [*args, "--seed", "5", "--outbox", outbox])
    assert result.exit_code == 0, result.output
    assert "callhook simulation" in result.stdout
    assert "end-of-call-report events" in result.stdout
    assert "dead letters / still pending" in result.stdout and "0 / 0" in result.stdout


def test_simulate_command_explains_a_bad_profile(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text("[rates]\nhang = 2\n")
    result = CliRunner().invoke(
        app, ["simulate", "--to", "http://127.0.0.1:9/webhook", "--profile", str(profile)]
    )
    assert result.exit_code == 2
    assert "Expected `float` <= 1.0 - at `$.rates.hang`" in result.stderr
