"""Under load above its size, the PostgreSQL pool keeps its sessions: none is opened and
closed per request (a request waits for a pooled connection instead)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from db.engine import create_engine

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def test_load_above_the_pool_opens_no_new_sessions(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=4)
    seen: set[int] = set()

    async def request() -> None:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await connection.execute(text("SELECT pg_sleep(0.005)"))
            seen.add(pid)

    try:
        for _ in range(5):  # waves of 32 concurrent requests, 8 times the pool
            await asyncio.gather(*(request() for _ in range(32)))
    finally:
        await engine.dispose()
    assert len(seen) <= 4, f"{len(seen)} PostgreSQL sessions for a pool of 4"


async def test_a_read_survives_the_server_dropping_pooled_connections(database_url: str) -> None:
    """Connections are not pinged on checkout: one that PostgreSQL dropped (a restart, a
    failover) fails its first statement, and the read runs again on a new connection."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.pool import NullPool

    from db.engine import normalize_url
    from resolvers.batching import Reads

    engine = create_engine(database_url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        first = await Reads(sessions).rows(text("SELECT pg_backend_pid()"))
        admin = create_async_engine(normalize_url(database_url), poolclass=NullPool)
        async with admin.connect() as connection:
            kill = text("SELECT pg_terminate_backend(:pid)")
            await connection.execute(kill, {"pid": first[0][0]})
        await admin.dispose()
        rows = await Reads(sessions).rows(text("SELECT pg_backend_pid()"))
        assert rows[0][0] != first[0][0]
    finally:
        await engine.dispose()


async def test_a_statement_is_planned_once_per_session(database_url: str) -> None:
    """Each statement runs with its generic plan (db.engine.POSTGRES_SETTINGS): an SQL
    plan's statement is planned when a session first prepares it, never again per run."""
    engine = create_engine(database_url, pool_size=1)
    statement = text("SELECT count(*) FROM pg_class WHERE oid > :n AND relname <> :name")
    try:
        async with engine.connect() as connection:
            for n in range(8):
                await connection.execute(statement, {"n": n, "name": f"t{n}"})
            plans = await connection.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%relname <> $2' AND NOT from_sql"
                )
            )
            found = [tuple(row) for row in plans]
    finally:
        await engine.dispose()
    assert found == [(8, 0)]


async def test_a_plain_text_read_survives_the_server_dropping_every_pooled_connection(
    database_url: str,
) -> None:
    """The same for a read asyncpg runs itself (an SQL plan's): its dropped connection
    goes back invalidated, and the read runs again through SQLAlchemy, which invalidates
    the pool when the next one was dropped too."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.pool import NullPool

    from db.engine import normalize_url
    from resolvers.batching import Reads

    engine = create_engine(database_url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    statement = text("SELECT pg_backend_pid(), pg_sleep(0.05)")
    try:
        # Two at once: the pool holds two sessions afterwards.
        first = await asyncio.gather(*(Reads(sessions).text_rows(statement, {}) for _ in range(2)))
        pids = {rows[0][0] for rows in first}
        assert len(pids) == 2
        admin = create_async_engine(normalize_url(database_url), poolclass=NullPool)
        async with admin.connect() as connection:
            for pid in pids:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await admin.dispose()
        rows = await Reads(sessions).text_rows(text("SELECT pg_backend_pid()"), {})
        assert rows[0][0] not in pids
    finally:
        await engine.dispose()


async def test_a_long_plain_text_is_prepared_once_per_session(database_url: str) -> None:
    """An SQL plan's statement (tens of KiB) runs by asyncpg's own prepared statement:
    prepared when a session first runs it, never again (asyncpg keeps none longer than
    15 KiB unless told: db.engine.ASYNCPG_CONNECT)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from resolvers.batching import Reads

    engine = create_engine(database_url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    padding = "x" * 40_000
    statement = text(f"SELECT CAST(:n AS int), length('{padding}')")
    try:
        reads = Reads(sessions)
        reads.keep(True)
        for n in range(5):
            rows = await reads.text_rows(statement, {"n": n})
            assert rows[0][0] == n
        prepared = await reads.text_rows(
            text(
                "SELECT count(*), sum(generic_plans) FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT CAST($1 AS int), length(''xxx%'"
            ),
            {},
        )
        reads.keep(False)
        await reads.close()
    finally:
        await engine.dispose()
    assert len(statement.text) > 15 * 1024
    assert tuple(prepared[0]) == (1, 5)
