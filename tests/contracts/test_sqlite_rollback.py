"""``internals.rollback_only_begun``: SQLAlchemy calls its dialect's ``do_rollback`` on
the pool's connection proxy (which names the aiosqlite connection as
``driver_connection``) when a connection closes; aiosqlite says whether it is in a
transaction. A read that began none costs no trip to the connection's thread; one that
did is still rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, read_options
from tests.contracts.pins import upgraded

SQLALCHEMY = upgraded("sqlalchemy")


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'rollback.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def driver_rollbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    plain = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        calls.append(1)
        await plain(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    return calls


async def test_a_read_that_began_nothing_is_closed_without_a_rollback(
    sqlite_engine: AsyncEngine, driver_rollbacks: list[int]
) -> None:
    async with sqlite_engine.connect() as conn:
        conn = await conn.execution_options(**read_options("sqlite"))
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
    assert driver_rollbacks == [], SQLALCHEMY


async def test_a_transaction_left_open_is_still_rolled_back(
    sqlite_engine: AsyncEngine, driver_rollbacks: list[int]
) -> None:
    async with sqlite_engine.connect() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('never committed')"))
        # closed without commit
    assert driver_rollbacks == [1], SQLALCHEMY
    async with sqlite_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
