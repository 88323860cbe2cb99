"""SQLite disk full (``PRAGMA max_page_count`` set as each transaction of the store begins): ingest
answers 503 with Retry-After, nothing acknowledged is lost, and it recovers when space
returns."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from callhook.receiver import ReceiverConfig, create_app
from callhook.store import Store

JSON = {"content-type": "application/json"}


def _event(call_id: str, n: int) -> bytes:
    messages = [
        {"messageId": f"m-{i}", "role": "user", "text": random.Random(i).randbytes(8000).hex()}
        for i in range(n + 1)
    ]
    body = {
        "message": {
            "type": "conversation-update",
            "timestamp": 1000 + n,
            "call": {"id": call_id, "status": "ongoing"},
            "messages": messages,
        }
    }
    return json.dumps(body).encode()


@pytest.mark.asyncio
async def test_a_full_disk_is_503_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limit: dict[str, int | None] = {"pages": None}
    async with Store(f"sqlite:///{tmp_path / 'full.sqlite3'}") as store:

        def on_begin(connection: Any) -> None:  # Any: a SQLAlchemy Connection
            pages = limit["pages"] if limit["pages"] is not None else 1_073_741_823
            connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")

        event.listen(store.engine, "begin", on_begin)
        app = create_app(ReceiverConfig(database_url=store.url), store=store, clock=lambda: 1)
        transport = httpx.ASGITransport(app=app)
        acked: dict[str, set[str]] = {}
        refused: list[tuple[str, bytes]] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:

            async def post(call_id: str, body: bytes) -> int:
                answer = await client.post("/webhook", content=body, headers=JSON)
                if answer.status_code == 200:
                    acked.setdefault(call_id, set()).add(hashlib.sha256(body).hexdigest()[:16])
                return answer.status_code

            for n in range(3):
                assert await post("before", _event("before", n)) == 200
            with store.engine.connect() as connection:
                pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
            limit["pages"] = int(pages) + 40  # every transaction from now on has the limit
            for n in range(60):
                body = _event(f"full-{n % 3}", n)
                answer = await client.post("/webhook", content=body, headers=JSON)
                if answer.status_code == 200:
                    acked.setdefault(f"full-{n % 3}", set()).add(
                        hashlib.sha256(body).hexdigest()[:16]
                    )
                    continue
                assert answer.status_code == 503, answer.text
                assert int(answer.headers["retry-after"]) >= 1
                assert answer.json()["error"]["code"] == "storage_unavailable"
                refused.append((f"full-{n % 3}", body))
            assert len(refused) >= 10, "the disk never filled"
            assert (await client.get("/healthz")).status_code in (200, 503)
            limit["pages"] = None  # space returns
            for call_id, body in refused:  # the sender retries what was refused
                assert await post(call_id, body) == 200
            # The failures were logged without the rows' data (the statement's parameters).
            assert "database or disk is full" in caplog.text
            assert "[parameters:" not in caplog.text
            for call_id, digests in acked.items():
                page = await client.get(f"/api/calls/{call_id}/events", params={"limit": 500})
                assert {e["digest"] for e in page.json()["events"]} == digests, call_id
