"""The Alembic history builds exactly the tables the models describe, on both engines,
and carries existing rows along."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import create_engine, create_session_factory, normalize_url
from db.migrate import alembic_config, upgrade
from db.models import metadata
from domain.order_status import OrderStatus
from resolvers.mutations import idempotency
from tests.conftest import PG_URL_VAR
from tests.factories import make_order, make_product, make_shop, make_user


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


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database's URL, dropped afterwards (skips without one)."""
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"PostgreSQL variant: {PG_URL_VAR} is not set")
    name = f"ordercenter_migrate_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalize_url(admin_url)).set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    assert asyncio.run(_diff(url)) == []
    # Running again is a no-op, as it is on every `ordercenter serve`.
    upgrade(url)
    assert asyncio.run(_diff(url)) == []


def test_postgres_migrations_match_models() -> None:
    with _postgres_database() as url:
        upgrade(url)
        assert asyncio.run(_diff(url)) == []


# Keys as clients sent them before 0003, the longest allowed one included.
OLD_KEYS = ["checkout-1", "4111.1111.1111.1111", "\u00e9t\u00e9-\U0001f600", "k" * 128]


async def _run_sql(url: str, statement: str, rows: list[dict[str, Any]]) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), rows or None)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def _keys_survive_hashed(url: str) -> None:
    upgrade(url, "0002")
    user = {"id": 1, "handle": "ada", "name": "Ada"}
    asyncio.run(
        _run_sql(
            url,
            "INSERT INTO users (id, handle, display_name, role, created_at) "
            "VALUES (:id, :handle, :name, 'buyer', CURRENT_TIMESTAMP)",
            [user],
        )
    )
    asyncio.run(
        _run_sql(
            url,
            "INSERT INTO idempotency_keys (user_id, operation, key, request_hash, created_at) "
            "VALUES (1, 'placeOrder', :key, :hash, CURRENT_TIMESTAMP)",
            [{"key": key, "hash": "a" * 64} for key in OLD_KEYS],
        )
    )
    upgrade(url)
    assert asyncio.run(_diff(url)) == []
    stored = asyncio.run(_run_sql(url, "SELECT key FROM idempotency_keys ORDER BY id", []))
    assert [key for (key,) in stored] == [hashlib.sha256(k.encode()).hexdigest() for k in OLD_KEYS]
    # A retry's key, as the API digests it now, finds the row kept from before.
    assert [key for (key,) in stored] == [idempotency.key_digest(k) for k in OLD_KEYS]


def test_sqlite_upgrade_keeps_only_hashes_of_existing_idempotency_keys(tmp_path: Path) -> None:
    _keys_survive_hashed(f"sqlite:///{tmp_path / 'migrated.db'}")


def test_postgres_upgrade_keeps_only_hashes_of_existing_idempotency_keys() -> None:
    with _postgres_database() as url:
        _keys_survive_hashed(url)


def _scans_recorded_when_they_happened(url: str) -> None:
    """0010 gives scans stored before it a recorded_at: when they happened."""
    upgrade(url)

    async def ship_an_order() -> None:
        engine = create_engine(url)
        sessions = create_session_factory(engine)
        try:
            buyer = await make_user(sessions)
            shop = await make_shop(sessions)
            product = await make_product(sessions, shop=shop)
            await make_order(
                sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.IN_TRANSIT
            )
        finally:
            await engine.dispose()

    asyncio.run(ship_an_order())
    command.downgrade(alembic_config(url), "0009")
    upgrade(url)
    assert asyncio.run(_diff(url)) == []
    rows = asyncio.run(
        _run_sql(url, "SELECT happened_at, recorded_at FROM shipment_events ORDER BY id", [])
    )
    assert len(rows) == 2
    for happened, recorded in rows:
        assert recorded == happened


def test_sqlite_upgrade_records_existing_scans_when_they_happened(tmp_path: Path) -> None:
    _scans_recorded_when_they_happened(f"sqlite:///{tmp_path / 'migrated.db'}")


def test_postgres_upgrade_records_existing_scans_when_they_happened() -> None:
    with _postgres_database() as url:
        _scans_recorded_when_they_happened(url)
