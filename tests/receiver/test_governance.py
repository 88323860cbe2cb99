"""``DELETE /api/calls/{callId}`` (named API tokens, audit), the ``[retention]`` purge task,
and the ``[retention]`` / ``[redaction]`` / named-token settings."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from callhook import ConfigError
from callhook.monitor import MonitorConfig
from callhook.receiver import (
    ReceiverApp,
    ReceiverConfig,
    RetentionConfig,
    RetentionTask,
    create_app,
    load_config,
)
from callhook.redaction import NumberMode, RedactionConfig
from callhook.store import DAY_MS, Store, list_erasures
from tests.calls import START
from tests.governance import ingest_all, marked_events, scan

TOKEN = "privacy-officer-token-0123456789"
OTHER_TOKEN = "dashboard-token-abcdefghijklmnop"


def http(app: ReceiverApp, token: str | None = None) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver", headers=headers
    )


def with_tokens(store: Store) -> ReceiverApp:
    config = ReceiverConfig(
        database_url=store.url,
        api_tokens=(OTHER_TOKEN, TOKEN),
        api_token_names=("dashboard", "privacy-officer"),
    )
    return create_app(config, store=store, clock=lambda: START + 42)


@pytest.mark.asyncio
async def test_delete_erases_the_call_and_the_audit_names_the_token(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await ingest_all(store, marked_events("call-x", number="+14155550101", marker="MX"), START)
    await ingest_all(store, marked_events("call-y", number="+14155550102", marker="MY"), START)
    async with http(with_tokens(store), TOKEN) as client:
        response = await client.delete("/api/calls/call-x", params={"reference": "DSR-12"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["calls"] == 1 and answer["rows"]["messages"] == 6
        assert (await client.get("/api/calls/call-x")).status_code == 404
        assert (await client.get("/api/calls/call-y")).status_code == 200
    assert scan(store.url, ["call-x", "MX", "+14155550101"]) == []
    [record] = await store.read(list_erasures)
    assert record["id"] == answer["auditId"]
    assert record["actor"] == "privacy-officer" and record["reference"] == "DSR-12"
    assert record["at"] == START + 42
    assert scan(store.url, [TOKEN]) == [] and TOKEN not in caplog.text


@pytest.mark.asyncio
async def test_delete_of_an_unknown_call_is_404_and_still_recorded(store: Store) -> None:
    async with http(with_tokens(store), TOKEN) as client:
        response = await client.delete("/api/calls/nope")
    assert response.status_code == 404 and response.json()["error"]["path"] == "path.callId"
    [record] = await store.read(list_erasures)
    assert record["calls"] == 0


@pytest.mark.asyncio
async def test_delete_needs_a_valid_token(store: Store) -> None:
    await ingest_all(store, marked_events("call-x", number="+1", marker="MX"), START)
    async with http(with_tokens(store), "wrong-token-0123456789") as client:
        assert (await client.delete("/api/calls/call-x")).status_code == 401
    async with http(with_tokens(store)) as client:
        assert (await client.delete("/api/calls/call-x")).status_code == 401
    # Without tokens configured (loopback), erasure over HTTP is refused: no name to record.
    open_app = create_app(ReceiverConfig(database_url=store.url), store=store)
    async with http(open_app) as client:
        refused = await client.delete("/api/calls/call-x")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "token_required"
    assert scan(store.url, ["call-x"]) != [] and await store.read(list_erasures) == []


@pytest.mark.asyncio
async def test_the_openapi_document_lists_the_erasure(store: Store) -> None:
    async with http(with_tokens(store)) as client:
        document = (await client.get("/openapi.json")).json()
    erase = document["paths"]["/api/calls/{callId}"]["delete"]
    assert set(erase["responses"]) == {"200", "401", "403", "404", "429"}


@pytest.mark.asyncio
async def test_a_long_reference_is_refused(store: Store) -> None:
    async with http(with_tokens(store), TOKEN) as client:
        response = await client.delete("/api/calls/x", params={"reference": "r" * 201})
    assert response.status_code == 400 and response.json()["error"]["path"] == "query.reference"


# -- the purge task ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_purge_task_removes_old_calls_in_paced_batches(store: Store) -> None:
    for n in range(5):
        await ingest_all(store, marked_events(f"old-{n}", number="+1", marker=f"OLD{n}"), START)
    await ingest_all(store, marked_events("new", number="+1", marker="NEW"), START + 9 * DAY_MS)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    config = RetentionConfig(calls_days=7, batch=2, duty=0.25)
    task = RetentionTask(store, config, clock=lambda: START + 10 * DAY_MS, sleep=sleep)
    await task.run_pass()
    assert task.calls_removed == 5 and task.passes == 1
    assert scan(store.url, [f"OLD{n}" for n in range(5)]) == []
    assert scan(store.url, ["NEW"]) != []
    assert len(pauses) == 3 and all(p > 0 for p in pauses)  # 2 + 2 + 1 calls, a pause each


@pytest.mark.asyncio
async def test_the_app_runs_the_purge_task_when_retention_is_configured(store: Store) -> None:
    await ingest_all(store, marked_events("old", number="+1", marker="OLD"), START)
    config = ReceiverConfig(
        database_url=store.url,
        retention=RetentionConfig(calls_days=1, interval_seconds=3600),
        monitor=MonitorConfig(enabled=False),
    )
    app = create_app(config, store=store, clock=lambda: START + 3 * DAY_MS)
    async with app.other.router.lifespan_context(app.other):
        for _ in range(500):  # the task's first pass starts at once
            if not scan(store.url, ["OLD"]):
                break
            await asyncio.sleep(0.01)
    assert scan(store.url, ["OLD"]) == []


# -- settings ----------------------------------------------------------------------------------


def test_sections_and_named_tokens_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        "[api]\n"
        f'tokens = {{ privacy-officer = "{TOKEN}", dashboard = "{OTHER_TOKEN}" }}\n'
        "[retention]\ncalls_days = 30\nevent_bodies_days = 7\nalerts_days = 90\nbatch = 50\n"
        '[redaction]\nenabled = true\nnumbers = "mask"\nregions = ["GB"]\n'
    )
    config = load_config(path, environ={})
    assert config.api_tokens == (TOKEN, OTHER_TOKEN)
    assert config.token_names() == ("privacy-officer", "dashboard")
    assert config.retention == RetentionConfig(
        calls_days=30, event_bodies_days=7, alerts_days=90, batch=50
    )
    assert config.redaction == RedactionConfig(
        enabled=True, numbers=NumberMode.MASK, regions=("GB",)
    )
    config.check()


def test_tokens_from_the_environment_may_be_named() -> None:
    config = load_config(environ={"CALLHOOK_API_TOKEN": f"ops={TOKEN},{OTHER_TOKEN}"})
    assert config.api_tokens == (TOKEN, OTHER_TOKEN)
    assert config.token_names() == ("ops", "token-2")
    unnamed = load_config(environ={}, api_tokens=(TOKEN,))
    assert unnamed.token_names() == ("token-1",)


def test_token_names_are_unique() -> None:
    config = load_config(environ={"CALLHOOK_API_TOKEN": f"ops={TOKEN},ops={OTHER_TOKEN}"})
    with pytest.raises(ConfigError, match="same name"):
        config.check()


def test_the_redaction_key_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text("[redaction]\nenabled = true\n")
    with pytest.raises(ConfigError, match="CALLHOOK_REDACTION_KEY") as raised:
        load_config(path, environ={}).check()
    assert raised.value.setting == "redaction.key"
    config = load_config(path, environ={"CALLHOOK_REDACTION_KEY": "x" * 32})
    config.check()
    assert config.redaction.key == "x" * 32 and "x" * 32 not in repr(config)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[retention]\ncalls_day = 3\n", "unknown setting retention.calls_day"),
        ("[retention]\ncalls_days = -1\n", "must be a positive number"),
        ("[retention]\nbatch = 2.5\n", "must be an integer"),
        ('[redaction]\nnumbers = "scramble"\n', "must be one of 'hash', 'mask'"),
        ("[redaction]\nenabled = 1\n", "must be true or false"),
        ('[redaction]\nregions = "US"\n', "list of region codes"),
        ("[redaction]\nkeys = 1\n", "unknown setting redaction.keys"),
        ('[api]\ntokens = { "bad name" = "' + TOKEN + '" }\n', "API token name"),
    ],
)
def test_bad_settings_say_which_and_why(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(section)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={}).check()
