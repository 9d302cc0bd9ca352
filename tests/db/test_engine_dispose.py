"""A connection still checked out when the engine is disposed (a request or subscription
running, or being cancelled, while the app shuts down) is closed when it comes back.

Before, it went back into the disposed pool, which nothing closes: the garbage collector
found the aiosqlite connection open ("ResourceWarning: Connection deleted before being
closed", turned into a failure of whichever test happened to collect it) and its thread
running until then.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine


def _collect() -> list[str]:
    """Collect garbage; the ResourceWarnings it raised (in finalizers, so recorded here)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("ending", ["cancelled", "finished"])
async def test_connection_in_use_across_dispose_is_closed_when_returned(
    database_url: str, ending: str
) -> None:
    engine: AsyncEngine = create_engine(database_url)
    await (await engine.connect()).close()  # the pool's first connection, now idle
    threads_before = threading.active_count()
    in_query = asyncio.Event()
    go_on = asyncio.Event()

    async def subscription_reading() -> int:
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT 1"))).scalar_one()
            in_query.set()
            await go_on.wait()  # between statements, as a subscription waits for events
            return int(value)

    task = asyncio.create_task(subscription_reading())
    await asyncio.wait_for(in_query.wait(), 10)
    await engine.dispose()  # the app's lifespan ends while the task holds a connection
    if ending == "cancelled":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        go_on.set()
        assert await task == 1
    del task

    assert _collect() == []
    assert engine.sync_engine.pool.checkedout() == 0
    if engine.dialect.name == "sqlite":
        # aiosqlite's connection thread stops when the connection is closed.
        for _ in range(100):
            if threading.active_count() <= threads_before - 1:
                break
            await asyncio.sleep(0.01)
        assert threading.active_count() <= threads_before - 1
    # The engine still works after dispose, with a fresh pool.
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT 2"))).scalar_one() == 2
    await engine.dispose()
