"""Apps built with the settings a test needs, over the shared test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_SECRET


def make_settings(**overrides: Any) -> Settings:
    """The test settings with ``overrides`` (any Settings field)."""
    values: dict[str, Any] = {
        "env": "test",
        "jwt_secret": TEST_SECRET,
        "database_url": "sqlite:///unused.db",
        **overrides,
    }
    return Settings(**values)


class Apps:
    """Builds apps on the test's engine and clients of them; closes what it opened."""

    def __init__(self, engine: AsyncEngine, stack: AsyncExitStack) -> None:
        self.engine = engine
        self.stack = stack
        self.built: list[Starlette] = []

    def app(self, settings: Settings) -> Starlette:
        app = create_app(settings, engine=self.engine)
        self.built.append(app)
        return app

    async def client(
        self, target: Settings | Starlette, *, address: str = "127.0.0.1"
    ) -> httpx.AsyncClient:
        """A client of ``target`` (an app, or a new one with these settings).

        ``address`` is the caller's IP as the app sees it (anonymous budgets use it).
        """
        app = self.app(target) if isinstance(target, Settings) else target
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        return await self.stack.enter_async_context(client)

    async def close(self) -> None:
        for app in self.built:
            close = getattr(app.state.budget, "close", None)
            if close is not None:
                await close()


@pytest.fixture
async def apps(engine: AsyncEngine) -> AsyncIterator[Apps]:
    async with AsyncExitStack() as stack:
        apps = Apps(engine, stack)
        try:
            yield apps
        finally:
            await apps.close()
