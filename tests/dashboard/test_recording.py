"""The recording player in Chromium: with ``[dashboard] recording_url`` set, the call view
plays the report's recording (a WAV made here, served from another local server), clicking a
message, a hang marker or an interruption seeks within 0.2 s of its offset, and the message
being played is highlighted."""

from __future__ import annotations

import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.dashboard.conftest import LiveServer, screenshot
from tests.databases import database_url

WAIT_MS = 10_000
SECONDS = 60
#: The call: (kind, id, ms after the start), in order.
SCRIPT = [
    ("assistant", "welcome-1", 1_000),
    ("user", "user-1", 6_000),
    ("assistant", "user-1-a", 9_500),
    ("user", "user-2", 16_000),
    ("hang", "user-2", 21_000),
    ("assistant", "user-2-a", 24_000),
    ("interrupted", "user-2-a2", 27_000),
    ("user", "user-3", 33_500),
    ("assistant", "user-3-a", 38_000),
]


def _wav(path: Path) -> None:
    """60 s of a quiet 8 kHz tone (its content does not matter, its length does)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frame = bytes([0, 8, 0, 248]) * 4000  # a square wave, one second
        out.writeframes(frame * SECONDS)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[LiveServer]:
    folder = tmp_path / "recordings" / "team-1"
    folder.mkdir(parents=True)
    _wav(folder / "PC-rec.wav")
    app = Starlette(routes=[Mount("/", StaticFiles(directory=tmp_path / "recordings"))])
    server = LiveServer("", app=app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def recorded(tmp_path: Path, files: LiveServer) -> Iterator[LiveServer]:
    url = next(database_url("sqlite", tmp_path))
    server = LiveServer(url, recording_url=f"{files.url}/{{path}}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _events(call_id: str, start: int) -> list[bytes]:
    base = {"id": call_id, "assistantId": "asst-rec", "callType": "web"}
    call = {**base, "status": "ongoing", "startAt": _iso(start)}
    history: list[dict[str, Any]] = []
    out = []
    for kind, mid, at in SCRIPT:
        if kind == "hang":
            hang = {"pendingMessageId": mid, "waitedMs": 5000, "thresholdMs": 5000}
            body = {"type": "hang", "timestamp": start + at, "call": call, "hang": hang}
            out.append(json.dumps({"message": {**body, "messages": history}}).encode())
            continue
        if kind == "interrupted":
            continue  # carried by the next user message
        message: dict[str, Any] = {
            "messageId": mid,
            "role": kind,
            "text": mid,
            "timestamp": start + at,
        }
        if mid == "user-3":
            skipped = {
                "messageId": "user-2-a2",
                "text": "And one more thing",
                "timestamp": start + 27_000,
            }
            message["skippedAssistantMessages"] = [
                {**skipped, "playedText": "And", "playedMs": 400}
            ]
        history = [*history, message]
        body = {"type": "conversation-update", "timestamp": start + at, "call": call}
        out.append(json.dumps({"message": {**body, "messages": history}}).encode())
    recording = {"s3Bucket": "bucket", "path": f"team-1/{call_id}.wav"}
    end = {**call, "status": "finished", "recording": recording, "endAt": _iso(start + 40_000)}
    body = {"type": "end-of-call-report", "timestamp": start + 41_000, "call": end}
    out.append(json.dumps({"message": {**body, "messages": history}}).encode())
    return out


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _seek(page: Any, selector: str, offset_ms: int) -> None:
    page.click(selector)
    page.wait_for_function(
        "t => Math.abs(document.getElementById('recording-audio').currentTime - t) < 0.2",
        arg=offset_ms / 1000,
        timeout=WAIT_MS,
    )
    now = page.evaluate("document.getElementById('recording-audio').currentTime")
    assert abs(now - offset_ms / 1000) < 0.2, (selector, now)


def test_clicks_seek_the_recording_and_the_playing_message_is_highlighted(
    recorded: LiveServer, page: Any
) -> None:
    start = int(time.time() * 1000) - 120_000
    with httpx.Client(base_url=recorded.url) as client:
        for body in _events("PC-rec", start):
            recorded.post(client, body)
        found = client.get("/api/calls/PC-rec/recording").json()
    assert found["url"].endswith("/team-1/PC-rec.wav")
    page.goto(f"{recorded.url}/#/calls/PC-rec")
    page.wait_for_selector("#player:not([hidden])", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.getElementById('recording-audio').readyState >= 1", timeout=WAIT_MS
    )
    duration = page.evaluate("document.getElementById('recording-audio').duration")
    assert duration == pytest.approx(SECONDS, abs=0.1)
    _seek(page, '.msg[data-message-id="user-2"] .text', 16_000)
    page.wait_for_selector('.msg.playing[data-message-id="user-2"]', timeout=WAIT_MS)
    assert page.locator(".msg.playing").count() == 1
    _seek(page, ".marker.hang", 21_000)
    _seek(page, ".msg.interrupted", 27_000)
    page.wait_for_selector('.msg.playing[data-message-id="user-2-a2"]', timeout=WAIT_MS)
    _seek(page, '.msg[data-message-id="user-3-a"]', 38_000)
    page.wait_for_selector('.msg.playing[data-message-id="user-3-a"]', timeout=WAIT_MS)
    # Playing on moves the highlight with the recording (set the time as playback would).
    page.evaluate("document.getElementById('recording-audio').currentTime = 7.0")
    page.wait_for_selector('.msg.playing[data-message-id="user-1"]', timeout=WAIT_MS)
    screenshot(page, "call-player")


def test_without_the_setting_there_is_no_player(live_server: LiveServer, page: Any) -> None:
    start = int(time.time() * 1000) - 120_000
    with httpx.Client(base_url=live_server.url) as client:
        for body in _events("PC-norec", start):
            live_server.post(client, body)
        found = client.get("/api/calls/PC-norec/recording").json()
    assert found == {"url": None, "reason": "not configured"}
    page.goto(f"{live_server.url}/#/calls/PC-norec")
    page.wait_for_selector('.msg[data-message-id="user-3-a"]', timeout=WAIT_MS)
    assert page.locator("#player").is_hidden()
