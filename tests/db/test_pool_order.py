"""Requests waiting for a database connection are served in the order they came
(internals.FifoQueuePool, db.engine): a connection given back goes to the longest
waiter, never to a request that arrived after it. SQLAlchemy's own asyncio queue let a
newcomer take it first, and a few requests lost that race again and again: the page's
p99 under load (bench/http_suite.py) was 1.6x its p90 with a small pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from app.metrics import pool_reading
from db.engine import create_engine
from internals import FifoQueue, FifoQueuePool


def _engine(tmp_path: Path, size: int, timeout: float = 30) -> AsyncEngine:
    return create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}",
        poolclass=FifoQueuePool,
        pool_size=size,
        max_overflow=0,
        pool_timeout=timeout,
    )


async def _until(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the queue has no event for it)
            await asyncio.sleep(0.001)


async def test_a_connection_given_back_goes_to_the_longest_waiter() -> None:
    queue = FifoQueue(1)
    waiters = []
    for n in range(5):
        waiters.append(asyncio.create_task(greenlet_spawn(queue.get)))
        await _until(lambda n=n: queue.waiting() == n + 1)

    given_back = asyncio.Event()

    async def newcomer() -> str:
        # A connection comes back and, in the same turn of the event loop, a request
        # that just arrived asks for one: with SQLAlchemy's queue it took that one.
        queue.put_nowait("connection 1")
        given_back.set()
        got: str = await greenlet_spawn(queue.get)
        return got

    arrived = asyncio.create_task(newcomer())
    await given_back.wait()
    await _until(lambda: queue.waiting() == 5)
    for n in range(2, 7):
        queue.put_nowait(f"connection {n}")
        await asyncio.sleep(0)
    served = await asyncio.wait_for(asyncio.gather(*waiters, arrived), 5)
    assert served == [f"connection {n}" for n in range(1, 7)]


async def test_requests_take_turns_on_a_small_pool(tmp_path: Path) -> None:
    """Many more requests than connections, each holding one briefly: every one is
    served, none waits past the pool's timeout, and the pool ends whole."""
    engine = _engine(tmp_path, size=2, timeout=10)

    async def request(n: int) -> int:
        async with engine.connect() as connection:
            value: int = (await connection.execute(text(f"SELECT {n}"))).scalar_one()
            await asyncio.sleep(0.001)
            return value

    try:
        assert await asyncio.gather(*(request(n) for n in range(40))) == list(range(40))
        assert pool_reading(engine) == {"in_use": 0, "idle": 2, "overflow": 0, "waiting": 0}
    finally:
        await engine.dispose()


async def test_a_wait_that_times_out_leaves_the_line_and_the_pool_whole(tmp_path: Path) -> None:
    engine = _engine(tmp_path, size=1, timeout=0.05)
    try:
        async with engine.connect():
            with pytest.raises(exc.TimeoutError):
                async with engine.connect():
                    pass
            assert pool_reading(engine)["waiting"] == 0
        # The one connection is back and usable: nothing was lost with the timed-out wait.
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 7"))).scalar_one() == 7
        assert pool_reading(engine)["in_use"] == 0
    finally:
        await engine.dispose()


async def test_a_cancelled_waiter_passes_on_a_connection_handed_to_it() -> None:
    """Cancelled in the same turn its connection was handed over (a client that went
    away): the connection goes to the next waiter, not lost with the cancelled one."""
    queue = FifoQueue(1)
    first = asyncio.create_task(greenlet_spawn(queue.get))
    await _until(lambda: queue.waiting() == 1)
    second = asyncio.create_task(greenlet_spawn(queue.get))
    await _until(lambda: queue.waiting() == 2)
    queue.put_nowait("connection")  # handed to `first`, which has not run since
    first.cancel()
    assert await asyncio.wait_for(second, 5) == "connection"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert queue.waiting() == 0
    assert queue.empty()


async def test_a_connection_nobody_waits_for_goes_back_in_the_queue() -> None:
    queue = FifoQueue(2)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert await greenlet_spawn(queue.get) == "a"
    assert await greenlet_spawn(queue.get, False) == "b"
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, False)


async def test_the_servers_engines_serve_waiters_in_turn(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'served.db'}", "postgresql://nobody@127.0.0.1:1/x"):
        engine = create_engine(url)
        try:
            assert isinstance(engine.pool, FifoQueuePool), url
        finally:
            await engine.dispose()
