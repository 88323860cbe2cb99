from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from callhook.store import Store
from tests.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest_asyncio.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with Store(db_url) as opened:
        yield opened
