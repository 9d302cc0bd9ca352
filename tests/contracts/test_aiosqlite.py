"""internals/ on SQLite (SQLAlchemy's aiosqlite adapter, aiosqlite's connection).

``one_trip_statements``: each statement is one trip to the connection's thread, and
SQLAlchemy still reads from the cursor what it reads from aiosqlite's: rows and their
description, the rows a statement changed, the id an INSERT made, the rows of an
executemany INSERT ... RETURNING, and the database's errors as SQLAlchemy's.

``rollback_only_begun``: SQLAlchemy calls its dialect's ``do_rollback`` on the pool's
connection proxy (which names the aiosqlite connection as ``driver_connection``) when
a connection closes; aiosqlite says whether it is in a transaction. A read that began
none costs no trip to the connection's thread; one that did is still rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, read_options
from tests.contracts.pins import upgraded

SQLALCHEMY = upgraded("sqlalchemy")
notes = Table(
    "notes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("body", String(20), nullable=False, unique=True),
)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(notes.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function aiosqlite runs in a connection's thread."""
    made: list[str] = []
    plain = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await plain(self, fn, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_a_select_is_one_trip_with_its_rows_and_columns(
    sqlite_engine: AsyncEngine, trips: list[str]
) -> None:
    async with sqlite_engine.begin() as conn:
        await conn.execute(insert(notes), [{"body": "a"}, {"body": "b"}])
        trips.clear()
        result = await conn.execute(select(notes.c.id, notes.c.body).order_by(notes.c.id))
        assert trips == ["_run_in_thread"], SQLALCHEMY
        assert list(result.keys()) == ["id", "body"], SQLALCHEMY
        assert [tuple(row) for row in result] == [(1, "a"), (2, "b")], SQLALCHEMY


async def test_what_an_insert_and_an_update_report(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as conn:
        made = await conn.execute(insert(notes).values(body="x"))
        assert made.inserted_primary_key == (1,), SQLALCHEMY  # the cursor's lastrowid
        many = await conn.execute(
            insert(notes).returning(notes.c.id), [{"body": "y"}, {"body": "z"}]
        )
        assert sorted(many.scalars()) == [2, 3], SQLALCHEMY
        changed = await conn.execute(
            update(notes).where(notes.c.id > 1).values(body=notes.c.body + "!")
        )
        assert changed.rowcount == 2, SQLALCHEMY
        none = await conn.execute(update(notes).where(notes.c.id > 9).values(body="never"))
        assert none.rowcount == 0, SQLALCHEMY


async def test_the_databases_errors_are_sqlalchemys(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as conn:
        await conn.execute(insert(notes).values(body="same"))
        with pytest.raises(IntegrityError):
            await conn.execute(insert(notes).values(body="same"))
        await conn.rollback()
        # The connection is still usable after the error.
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 0


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
