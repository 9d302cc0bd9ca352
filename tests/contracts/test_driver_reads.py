"""What internals/ relies on to run a plain read on asyncpg's connection itself, on a
raw connection of SQLAlchemy's pool: a compiled text's ``positiontup``, the engine's
``dispatch`` (who listens for statements), ``greenlet_spawn`` (a raw connection given
back from async code) and asyncpg's ``Connection.fetch`` / ``is_closed``."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.pool.base import _ConnectionFairy, _ConnectionRecord
from sqlalchemy.util import greenlet_spawn

import internals
from db import statement_watch
from db.engine import create_engine, normalize_url
from tests.contracts.pins import upgraded

SQLALCHEMY = upgraded("sqlalchemy")
ASYNCPG = upgraded("asyncpg")


def test_a_text_compiles_to_numbered_placeholders_and_their_names() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    statement = text(
        "SELECT CAST(:viewer AS int), :p1, 'a::b', x::text FROM y "
        "WHERE z = ANY(:p2) AND w = :viewer"
    )
    found = internals.driver_text(statement, engine)
    assert found.sql == (
        "SELECT CAST($1 AS int), $2, 'a::b', x::text FROM y WHERE z = ANY($3) AND w = $1"
    ), SQLALCHEMY
    assert found.names == ("viewer", "p1", "p2"), SQLALCHEMY
    assert internals.driver_text(statement, engine) is found  # compiled once


@pytest.fixture
def nobody_listening() -> AsyncEngine:
    return create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize("name", ["before_cursor_execute", "after_cursor_execute"])
def test_a_listener_for_statements_keeps_reads_on_sqlalchemy(
    nobody_listening: AsyncEngine, name: str
) -> None:
    engine = nobody_listening
    assert internals.reads_by_driver(engine), SQLALCHEMY

    def listener(*_: Any) -> None:
        return None

    event.listen(engine.sync_engine, name, listener)
    assert not internals.reads_by_driver(engine), SQLALCHEMY
    event.remove(engine.sync_engine, name, listener)
    assert internals.reads_by_driver(engine), SQLALCHEMY
    # On every engine (bench/counting.py listens so).
    event.listen(Engine, name, listener)
    try:
        assert not internals.reads_by_driver(engine), SQLALCHEMY
    finally:
        event.remove(Engine, name, listener)


def test_a_watcher_of_both_roads_leaves_reads_on_the_driver(
    nobody_listening: AsyncEngine,
) -> None:
    """db.statement_watch marks its cursor listeners; the mark must reach what the
    engine's ``dispatch`` lists (SQLAlchemy wraps a ``before_cursor_execute``
    listener registered without ``retval=True``, and the mark would be lost)."""
    engine = nobody_listening
    statement_watch.watch(engine, lambda statement: None)
    assert internals.reads_by_driver(engine), SQLALCHEMY
    assert [*engine.sync_engine.dispatch.before_cursor_execute], SQLALCHEMY

    def counter(*_: Any) -> None:
        return None

    event.listen(engine.sync_engine, "after_cursor_execute", counter)
    assert not internals.reads_by_driver(engine), SQLALCHEMY


def test_only_asyncpg_reads_by_driver() -> None:
    assert not internals.reads_by_driver(create_async_engine("sqlite+aiosqlite://"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_raw_connection_is_the_pools_and_goes_back_to_it(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    statement = text("SELECT pg_backend_pid(), CAST(:n AS int) + 1, :word")
    compiled = internals.driver_text(statement, engine)
    try:
        raw = await internals.checkout_raw(engine)
        assert engine.pool.checkedout() == 1, SQLALCHEMY  # type: ignore[attr-defined]
        rows = await internals.driver_rows(raw, compiled, {"n": 41, "word": "ok"})
        (pid, n, word) = rows[0]
        assert (n, word) == (42, "ok"), ASYNCPG
        await internals.release_raw(raw, None)
        assert engine.pool.checkedout() == 0, SQLALCHEMY  # type: ignore[attr-defined]
        # The same session again: given back, not closed.
        async with engine.connect() as connection:
            again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again == pid, SQLALCHEMY
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_dropped_connection_says_so_and_goes_back_invalidated(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    compiled = internals.driver_text(text("SELECT pg_backend_pid()"), engine)
    admin = create_async_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        raw = await internals.checkout_raw(engine)
        ((pid,),) = await internals.driver_rows(raw, compiled, {})
        assert not internals.connection_lost(raw), ASYNCPG
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.05)
        with pytest.raises(Exception):  # noqa: B017, PT011 - asyncpg's or the socket's
            await internals.driver_rows(raw, compiled, {})
        assert internals.connection_lost(raw), ASYNCPG
        await internals.release_raw(raw, ConnectionError("dropped"))
        raw = await internals.checkout_raw(engine)
        ((new_pid,),) = await internals.driver_rows(raw, compiled, {})
        await internals.release_raw(raw, None)
        assert new_pid != pid, SQLALCHEMY  # the pool opened a new one in its place
    finally:
        await admin.dispose()
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_idle_connection_comes_and_goes_back_without_a_greenlet(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``checkout_raw`` and ``release_raw_now`` rely on: the pool's ``connect()``
    called straight from a coroutine hands over an idle connection, the fairy's
    ``_pool`` names the pool it came from, and ``close()`` of one in no transaction
    gives it back with no I/O (no error logged, the same session next time)."""
    engine = create_engine(database_url, pool_size=1)
    compiled = internals.driver_text(text("SELECT pg_backend_pid()"), engine)
    pool: Any = engine.sync_engine.pool
    try:
        raw = await engine.raw_connection()  # opens the session, in a greenlet
        ((pid,),) = await internals.driver_rows(raw, compiled, {})
        await internals.release_raw(raw, None)
        assert internals._checks_out_without_io(pool, pool._pool.next_idle()), SQLALCHEMY
        raw = pool.connect()  # no greenlet here
        assert getattr(raw, "_pool", None) is pool, SQLALCHEMY
        ((again,),) = await internals.driver_rows(raw, compiled, {})
        assert again == pid, SQLALCHEMY
        assert internals.release_raw_now(engine, raw), ASYNCPG
        assert pool.checkedout() == 0, SQLALCHEMY
        assert pool._pool.next_idle() is not None
        raw = await internals.checkout_raw(engine)
        ((again,),) = await internals.driver_rows(raw, compiled, {})
        assert again == pid, SQLALCHEMY
        # One in a transaction needs a rollback on return (I/O): not now.
        driver: Any = raw.driver_connection
        transaction = driver.transaction()
        await transaction.start()
        assert not internals.release_raw_now(engine, raw), ASYNCPG
        await transaction.rollback()
        assert internals.release_raw_now(engine, raw), ASYNCPG
        assert not [r for r in caplog.records if r.levelname == "ERROR"], SQLALCHEMY
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_from_a_disposed_pool_is_not_given_back_at_once(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        raw = await internals.checkout_raw(engine)
        await engine.dispose()  # a new pool; closing the old one's connection is I/O
        assert not internals.release_raw_now(engine, raw), SQLALCHEMY
        await internals.release_raw(raw, None)
    finally:
        await engine.dispose()


def test_a_checkout_opens_or_recycles_only_where_internals_looks() -> None:
    """``internals._checks_out_without_io`` restates when ``get_connection`` does I/O:
    no connection yet, or one due for recycling by age, pool invalidation or soft
    invalidation; and ``_ConnectionFairy._checkout`` pings only with ``pre_ping``."""
    source = inspect.getsource(_ConnectionRecord.get_connection)
    conditions = [
        "if self.dbapi_connection is None:",
        "self.__pool._recycle > -1",
        "time.time() - self.starttime > self.__pool._recycle",
        "elif self.__pool._invalidate_time > self.starttime:",
        "elif self._soft_invalidate_time > self.starttime:",
    ]
    for condition in conditions:
        assert condition in source, (condition, SQLALCHEMY)
    assert source.count("self.__connect()") == 2, SQLALCHEMY
    assert source.count("elif ") == 3, SQLALCHEMY  # no other way to a recycle
    assert "pool._pre_ping" in inspect.getsource(_ConnectionFairy._checkout), SQLALCHEMY


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_only_a_connection_needing_no_io_is_taken_outside_a_greenlet(
    database_url: str,
) -> None:
    """A record whose connection was invalidated, soft-invalidated, invalidated with its
    pool, or is past its recycling age is left to the greenlet checkout, which opens a
    new session; a sound one is taken straight (the same session)."""
    engine = create_engine(database_url, pool_size=1)
    compiled = internals.driver_text(text("SELECT pg_backend_pid()"), engine)
    pool: Any = engine.sync_engine.pool

    async def session() -> int:
        raw = await internals.checkout_raw(engine)
        try:
            ((pid,),) = await internals.driver_rows(raw, compiled, {})
        finally:
            await internals.release_raw(raw, None)
        return int(pid)

    def sound() -> bool:
        return internals._checks_out_without_io(pool, pool._pool.next_idle())

    try:
        first = await session()
        assert sound(), SQLALCHEMY
        assert await session() == first
        raw = await internals.checkout_raw(engine)
        await internals.release_raw(raw, ConnectionError("dropped"))
        assert not sound(), SQLALCHEMY
        second = await session()
        assert second != first, SQLALCHEMY
        assert sound(), SQLALCHEMY
        raw = await internals.checkout_raw(engine)
        await greenlet_spawn(raw.invalidate, None, True)  # soft
        raw.close()
        await asyncio.sleep(0.02)
        assert not sound(), SQLALCHEMY
        third = await session()
        assert third != second, SQLALCHEMY
        assert sound(), SQLALCHEMY
        await asyncio.sleep(0.02)
        pool._invalidate_time = time.time()  # what pool._invalidate sets
        assert not sound(), SQLALCHEMY
        fourth = await session()
        assert fourth != third, SQLALCHEMY
        assert sound(), SQLALCHEMY
        pool._recycle = 0.01
        await asyncio.sleep(0.05)
        assert not sound(), SQLALCHEMY
        assert await session() != fourth
    finally:
        await engine.dispose()
