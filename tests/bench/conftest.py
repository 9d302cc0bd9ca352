"""The baselines (bench/floor.py, bench/naive.py) as ASGI clients on the test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import floor as floor_app
from bench import naive as naive_app
from bench.databases import plain_url
from tests.conftest import TEST_SECRET


async def _client(app: Starlette, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),  # the app's pool, as uvicorn would start it
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


@pytest.fixture
def baseline_env(database_url: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERCENTER_DATABASE_URL", plain_url(database_url))
    monkeypatch.setenv("ORDERCENTER_JWT_SECRET", TEST_SECRET)


@pytest.fixture
async def floor(baseline_env: None) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(floor_app.app_factory(), "http://floor"):
        yield client


@pytest.fixture
async def naive(baseline_env: None) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(naive_app.app_factory(), "http://naive"):
        yield client
