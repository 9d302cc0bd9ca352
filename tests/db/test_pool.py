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
