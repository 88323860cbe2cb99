"""``[dashboard] recording_url``: the template, its checks, the recording endpoint and the
Content-Security-Policy's ``media-src`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from callhook._exceptions import ConfigError
from callhook.receiver import ReceiverConfig, create_app, load_config
from callhook.receiver._recording import RecordingTemplate
from callhook.store import Store

S3 = "https://{s3Bucket}.s3.amazonaws.com/{path}"


def test_the_template_fills_from_the_recording_object() -> None:
    template = RecordingTemplate(S3)
    url = template.fill({"s3Bucket": "calls-eu", "path": "team 1/PC-1.mp3"})
    assert url == "https://calls-eu.s3.amazonaws.com/team%201/PC-1.mp3"
    # Empty until the end of the call (SPEC §3): no URL yet.
    assert template.fill({"s3Bucket": "", "path": ""}) is None
    assert template.fill({"path": "x.mp3"}) is None
    assert template.media_source() == "https://*.s3.amazonaws.com"
    assert RecordingTemplate("https://cdn.example.com/{path}").media_source() == (
        "https://cdn.example.com"
    )
    assert RecordingTemplate("/recordings/{path}").media_source() == "'self'"
    assert RecordingTemplate("https://{s3Bucket}-x.example.com/{path}").media_source() == "https:"


@pytest.mark.parametrize(
    "bad", ["ftp://host/{path}", "recordings/{path}", "https://host/{path", "https://host/{1x}"]
)
def test_a_bad_template_is_refused_with_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ReceiverConfig(recording_url=bad).check()
    assert "dashboard.recording_url" in str(caught.value)


def test_the_config_file_sets_it(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(f'[dashboard]\nrecording_url = "{S3}"\n')
    assert load_config(path, environ={}).recording_url == S3


def _report(call_id: str, recording: dict[str, str]) -> bytes:
    call = {"id": call_id, "status": "finished", "recording": recording}
    body = {"type": "end-of-call-report", "timestamp": 1_000, "call": call, "messages": []}
    return json.dumps({"message": body}).encode()


@pytest.mark.asyncio
async def test_the_endpoint_and_the_policy(store: Store) -> None:
    config = ReceiverConfig(database_url=store.url, recording_url=S3)
    app = create_app(config, store=store, clock=lambda: 1_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        for call_id, recording in (
            ("PC-1", {"s3Bucket": "b", "path": "t/PC-1.mp3"}),
            ("PC-2", {"s3Bucket": "", "path": ""}),
        ):
            response = await client.post(
                "/webhook",
                content=_report(call_id, recording),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200
        one = await client.get("/api/calls/PC-1/recording")
        assert one.json() == {"url": "https://b.s3.amazonaws.com/t/PC-1.mp3", "reason": None}
        assert "media-src https://*.s3.amazonaws.com" in one.headers["content-security-policy"]
        two = (await client.get("/api/calls/PC-2/recording")).json()
        assert two["url"] is None and "no recording" in two["reason"]
        missing = await client.get("/api/calls/PC-none/recording")
        assert missing.status_code == 404
