"""Throwaway databases for the benchmarks: a temporary SQLite file, a PostgreSQL database.

Every benchmark module gets its databases here, so there is one copy of "create a
database named ordercenter_bench_<random>, hand out its URL, drop it afterwards".
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import normalize_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/"


def configured_postgres() -> str | None:
    """ORDERCENTER_BENCH_DATABASE_URL (or ORDERCENTER_TEST_DATABASE_URL), if set."""
    return os.environ.get("ORDERCENTER_BENCH_DATABASE_URL") or os.environ.get(
        "ORDERCENTER_TEST_DATABASE_URL"
    )


def postgres_base(default: str | None = DEFAULT_POSTGRES) -> str | None:
    """The server to make throwaway databases on: the configured one, else ``default``."""
    return configured_postgres() or default


async def admin(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def postgres_reachable(base: str) -> str | None:
    """None when ``base`` answers; otherwise why not (for the report)."""
    try:
        await admin(base, "SELECT 1")
    except Exception as error:
        return f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return None


@asynccontextmanager
async def throwaway_postgres(base: str) -> AsyncIterator[str]:
    """A fresh, empty database on ``base``'s server (dropped on exit); yields its URL."""
    name = f"ordercenter_bench_{uuid.uuid4().hex[:8]}"
    await admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(normalize_url(base)).set(database=name).render_as_string(False)
    finally:
        await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def throwaway_sqlite() -> AsyncIterator[str]:
    """A SQLite file in a temporary directory (removed on exit); yields its URL."""
    with tempfile.TemporaryDirectory(prefix="oc-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


async def kept_state(url: str) -> str:
    """Where a database to keep between runs stands: ``missing`` (no such database),
    ``empty`` (no users yet: unmigrated or unseeded) or ``seeded``."""
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT to_regclass('users') IS NOT NULL"))
            if not found.scalar_one():
                return "empty"
            users = await conn.execute(text("SELECT EXISTS (SELECT 1 FROM users)"))
            return "seeded" if users.scalar_one() else "empty"
    except Exception as error:  # the driver's "database ... does not exist"
        if "does not exist" in str(error):
            return "missing"
        raise
    finally:
        await engine.dispose()


async def create_database(url: str) -> None:
    """CREATE DATABASE of ``url``'s name, on its server."""
    parsed = make_url(normalize_url(url))
    base = parsed.set(database="postgres").render_as_string(False)
    await admin(base, f'CREATE DATABASE "{parsed.database}"')


def plain_url(url: str) -> str:
    """``postgresql://…`` / ``sqlite:///…`` without the async driver, for other clients."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    return parsed.set(drivername=backend).render_as_string(hide_password=False)
