"""The Alembic history builds exactly the tables the models describe, on both engines."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import create_engine, normalize_url
from db.migrate import upgrade
from db.models import metadata
from tests.conftest import PG_URL_VAR


async def _diff(url: str) -> list[Any]:
    engine = create_engine(url)

    def compare(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    assert asyncio.run(_diff(url)) == []
    # Running again is a no-op, as it is on every `ordercenter serve`.
    upgrade(url)
    assert asyncio.run(_diff(url)) == []


def test_postgres_migrations_match_models() -> None:
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"PostgreSQL variant: {PG_URL_VAR} is not set")
    name = f"ordercenter_migrate_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(admin_url)).set(database=name).render_as_string(False)
    try:
        upgrade(url)
        assert asyncio.run(_diff(url)) == []
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
