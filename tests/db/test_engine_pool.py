"""The SQLite engine's pool: a bounded number of connections, each a thread with its own
page cache and malloc arena, however many tasks want one at once (bench/memory.py
measures what that is worth in a serving process)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from db.engine import (
    SQLITE_PAGE_CACHE_KIB,
    SQLITE_POOL_SIZE,
    SQLITE_TEMP_STORE,
    create_engine,
)


async def test_sqlite_engine_never_opens_more_than_its_pool_size(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    opened: list[Any] = []
    event.listen(engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
    holding = 0
    most = 0
    threads_before = threading.active_count()
    most_threads = threads_before

    async def reader(index: int) -> int:
        nonlocal holding, most, most_threads
        async with engine.connect() as conn:
            holding += 1
            most = max(most, holding)
            most_threads = max(most_threads, threading.active_count())
            value = (await conn.execute(text("SELECT :n"), {"n": index})).scalar_one()
            await asyncio.sleep(0.02)  # hold it while the others ask for theirs
            holding -= 1
            return int(value)

    try:
        # Three times as many tasks as connections, all at once: they take turns.
        answers = await asyncio.gather(*(reader(i) for i in range(3 * SQLITE_POOL_SIZE)))
    finally:
        await engine.dispose()
    assert answers == list(range(3 * SQLITE_POOL_SIZE))
    assert most == SQLITE_POOL_SIZE
    assert len(opened) == SQLITE_POOL_SIZE
    # aiosqlite runs each connection in a thread of its own.
    assert most_threads - threads_before <= SQLITE_POOL_SIZE


async def test_each_sqlite_connection_bounds_its_page_cache_and_keeps_temporaries_in_memory(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}")

    async def settings() -> tuple[int, int]:
        async with engine.connect() as conn:
            size = (await conn.execute(text("PRAGMA cache_size"))).scalar_one()
            store = (await conn.execute(text("PRAGMA temp_store"))).scalar_one()
            await asyncio.sleep(0.02)  # hold it: every task gets a connection of its own
            return int(size), int(store)

    try:
        found = await asyncio.gather(*(settings() for _ in range(SQLITE_POOL_SIZE)))
    finally:
        await engine.dispose()
    # A negative size is in KiB, SQLite's way of saying it.
    assert found == [(-SQLITE_PAGE_CACHE_KIB, SQLITE_TEMP_STORE)] * SQLITE_POOL_SIZE
