"""``/api/overview`` and ``/api/live`` on SQLite and PostgreSQL, over calls whose figures are
known (tests/dashboard/scenario.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.dashboard.scenario import OVERVIEW_EXPECTED, overview_calls

HOUR = 3_600_000


async def _ingest(client: httpx.AsyncClient, bodies: list[bytes]) -> None:
    for body in bodies:
        response = await client.post(
            "/webhook", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_overview_figures_are_the_known_ones(client: httpx.AsyncClient) -> None:
    bodies = overview_calls(int(time.time() * 1000))
    await _ingest(client, bodies)
    day_start = int(time.time() * 1000) - 3 * HOUR
    found = (await client.get("/api/overview", params={"dayStart": day_start})).json()
    live = found["live"]
    for key, value in OVERVIEW_EXPECTED["live"].items():
        assert live[key] == value, key
    # Every event was stored within the last minute (the test is far shorter).
    assert live["eventsPerMinute"] == len(bodies)
    for path, figures in OVERVIEW_EXPECTED.items():
        if path == "live":
            continue
        section, when = path.split(".")
        window = found[section][when]
        for key, value in figures.items():
            assert window[key] == pytest.approx(value), (path, key)
    current = found["hour"]["current"]
    assert current["until"] - current["since"] == HOUR
    # Sparklines: 12 buckets whose calls add up to the window's.
    assert len(current["spark"]["calls"]) == 12 and sum(current["spark"]["calls"]) == 4
    assert sum(found["today"]["current"]["spark"]["calls"]) == 6


@pytest.mark.asyncio
async def test_live_figures_alone(client: httpx.AsyncClient) -> None:
    await _ingest(client, overview_calls(int(time.time() * 1000)))
    live = (await client.get("/api/live")).json()
    assert live["ongoingCalls"] == 1 and live["hangsLastHour"] == 2
    assert live["errorsLastHour"] == 1 and live["openAlerts"] == 0
    assert live["eventsPerSecond"] >= 0 and isinstance(live["now"], int)


@pytest.mark.asyncio
async def test_overview_refuses_a_day_start_out_of_range(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/overview", params={"dayStart": 5})
    assert response.status_code == 400
    assert response.json()["error"]["path"] == "query.dayStart"
    response = await client.get("/api/overview", params={"dayStart": "soon"})
    assert response.status_code == 400
