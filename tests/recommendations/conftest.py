"""The API here runs with a recommendation refresher whose debounce is a blink."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from resolvers.recommendations.refresher import RecommendationRefresher


@pytest.fixture
async def refresher(sessions: SessionFactory) -> AsyncIterator[RecommendationRefresher]:
    refresher = RecommendationRefresher(sessions, debounce_seconds=0.05)
    try:
        yield refresher
    finally:
        await refresher.close()


@pytest.fixture
async def client(
    settings: Settings, engine: AsyncEngine, refresher: RecommendationRefresher
) -> AsyncIterator[httpx.AsyncClient]:
    """The shared ``client`` (and so ``gql``), with the refresher the lifespan would make."""
    app = create_app(settings, engine=engine)
    app.state.refresher = refresher
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
