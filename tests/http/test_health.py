"""/healthz is liveness (the process answers); /readyz names each part that is not ready."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.health import migration_state
from app.main import create_app
from app.settings import Settings
from db.engine import create_engine
from db.migrate import upgrade_async
from db.revisions import head_revision
from tests.conftest import PG_URL_VAR, TEST_SECRET
from tests.server.serving import fresh_postgres_database

REDIS_URL_VAR = "ORDERCENTER_TEST_REDIS_URL"
# Nothing listens on port 1 of the loopback: connections are refused at once.
NOWHERE = "postgresql://postgres@127.0.0.1:1/nowhere"


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "jwt_secret": TEST_SECRET,
        "database_url": "sqlite:///unused.db",
        "sweep_interval_seconds": 0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A database no migration has touched."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"PostgreSQL variant: {PG_URL_VAR} is not set")
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture
async def empty_engine(empty_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_database)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _get(app: Starlette, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_healthz_answers_without_the_database_and_readyz_names_it() -> None:
    engine = create_engine(NOWHERE)
    try:
        app = create_app(_settings(), engine=engine)
        live = await _get(app, "/healthz")
        ready = await _get(app, "/readyz")
    finally:
        await engine.dispose()
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("unreachable"), body
    assert (body["migrations"], body["bus"]) == ("unknown", "ok")


async def test_readyz_is_ok_on_a_database_at_head(empty_engine: AsyncEngine) -> None:
    await upgrade_async(empty_engine)
    response = await _get(create_app(_settings(), engine=empty_engine), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "ok", "bus": "ok"}


async def test_readyz_names_a_database_behind_the_code(empty_engine: AsyncEngine) -> None:
    await upgrade_async(empty_engine, "0002")
    response = await _get(create_app(_settings(), engine=empty_engine), "/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "migrations": f"behind: at 0002, head {head_revision()}",
        "bus": "ok",
    }


async def test_readyz_names_a_database_never_migrated(empty_engine: AsyncEngine) -> None:
    response = await _get(create_app(_settings(), engine=empty_engine), "/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == f"not migrated: head {head_revision()}"


async def _readiness_while_serving(engine: AsyncEngine, bus_url: str, *, ready: bool) -> Any:
    """/readyz of a started app (its hub listening on the bus), polled until it says
    ``ready`` or 10 s pass; the last answer."""
    app = create_app(_settings(bus_url=bus_url), engine=engine)
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + 10
        while True:
            response = await _get(app, "/readyz")
            if (response.status_code == 200) == ready or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.1)


async def test_readyz_names_a_bus_that_is_not_connected(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'oc.db'}")
    try:
        await upgrade_async(engine)
        response = await _readiness_while_serving(engine, NOWHERE, ready=False)
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "migrations": "ok",
        "bus": "not connected",
    }


@pytest.mark.parametrize("backend", ["postgresql", "redis"])
async def test_readyz_is_ok_once_a_real_bus_is_connected(tmp_path: Any, backend: str) -> None:
    variable = PG_URL_VAR if backend == "postgresql" else REDIS_URL_VAR
    bus_url = os.environ.get(variable)
    if not bus_url:
        pytest.skip(f"needs {backend}: set {variable}")
    engine = create_engine(f"sqlite:///{tmp_path / 'oc.db'}")
    try:
        await upgrade_async(engine)
        response = await _readiness_while_serving(engine, bus_url, ready=True)
    finally:
        await engine.dispose()
    assert response.status_code == 200, response.json()
    assert response.json()["bus"] == "ok"


def test_a_revision_this_code_does_not_know_is_not_called_behind() -> None:
    # A newer release migrated the database, and this older one is still deployed.
    assert migration_state("9999", "0003").startswith("unknown revision: at 9999, head 0003")
    assert migration_state("0003", "0003") == "ok"
