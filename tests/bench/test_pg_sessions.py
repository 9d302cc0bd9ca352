"""bench/pg_sessions.py: a server's PostgreSQL sessions are told apart from everyone
else's by their sockets, their CPU is counted, and a session opened in the window is
counted as new. The benchmark's "no connection churn" and "CPU per request" figures
are only as good as this."""

from __future__ import annotations

import os

import asyncpg
import pytest

from bench.databases import plain_url
from bench.pg_sessions import Result, watching

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

BUSY = "SELECT count(*) FROM generate_series(1, 2000000)"  # ~0.1-0.3 s of backend CPU


@pytest.fixture
def url(database_url: str) -> str:
    return plain_url(database_url)


async def _window(url: str, pids: list[int]) -> Result:
    """One session held from before the window, one opened and closed inside it, both
    busy; ``pids`` are the processes the watch attributes sessions to."""
    held = await asyncpg.connect(url)
    try:
        async with watching(url, lambda: pids) as watch:
            assert watch is not None
            await watch.start()
            await held.fetchval(BUSY)
            opened = await asyncpg.connect(url)
            await watch._sample()  # seen once alive (the sampler may not have come yet)
            await opened.fetchval(BUSY)
            await watch._sample()
            await opened.close()
            return await watch.stop()
    finally:
        await held.close()


async def test_this_process_sessions_and_the_one_it_opened(url: str) -> None:
    result = await _window(url, [os.getpid()])
    assert result.backends_at_start == 1
    assert result.new_backends == 1
    assert result.new_sessions_db is not None
    assert result.new_sessions_db >= 1
    assert result.cpu_seconds > 0.05


async def test_another_process_sessions_are_not_counted(url: str) -> None:
    result = await _window(url, [os.getppid()])
    assert result.backends_at_start == 0
    assert result.new_backends == 0
    assert result.cpu_seconds == 0
    # The database's own counter sees everyone's.
    assert result.new_sessions_db is not None
    assert result.new_sessions_db >= 1
