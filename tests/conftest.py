"""Shared fixtures: a clean database per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL runs when ORDERCENTER_TEST_DATABASE_URL is set; the run then fails,
rather than skips, if that server is unreachable.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth import issue_token
from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory, create_engine, create_session_factory, normalize_url
from db.models import metadata

PG_URL_VAR = "ORDERCENTER_TEST_DATABASE_URL"
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256"


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(PG_URL_VAR):
        return f"PostgreSQL variant: ON ({PG_URL_VAR} is set)"
    return f"PostgreSQL variant: SKIPPED (set {PG_URL_VAR} to run it)"


async def _create_pg_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def _create_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL database with the tables, for this test session."""
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        yield None
        return
    name = f"ordercenter_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_pg_database(admin_url, name))
    url = make_url(normalize_url(admin_url)).set(database=name).render_as_string(False)
    try:
        asyncio.run(_create_tables(url))
        yield url
    finally:
        asyncio.run(_drop_pg_database(admin_url, name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any, postgres_url: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if postgres_url is None:
        pytest.skip(f"PostgreSQL variant: {PG_URL_VAR} is not set")
    return postgres_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.run_sync(metadata.create_all)
        else:
            # Each test starts from empty tables and fresh id sequences.
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@dataclass
class StatementCounter:
    statements: list[str] = field(default_factory=list)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Queries only: SQLite's explicit BEGIN is transaction control, which
        # PostgreSQL's driver does without a statement.
        if not statement.startswith("BEGIN"):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def count_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def settings() -> Settings:
    return Settings(env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db")


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def token_for(user_id: int | None) -> str:
    assert user_id is not None
    return issue_token(user_id, secret=TEST_SECRET, ttl_seconds=3600)


class GraphQLClient:
    """Posts operations; ``query`` fails the test on any unexpected ``errors``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.last_extensions: dict[str, Any] | None = None

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user_id: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if user_id is not None:
            all_headers["Authorization"] = f"Bearer {token_for(user_id)}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        # Every executed operation reports its cost; the tests here compare answers.
        self.last_extensions = body.pop("extensions", None)
        return body

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, user_id: int | None = None
    ) -> dict[str, Any]:
        body = await self.raw(query, variables, user_id=user_id)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """The single error the operation must produce."""
        body = await self.raw(query, variables, user_id=user_id)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)
