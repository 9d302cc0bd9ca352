"""SQLAlchemy's private parts internals.FifoQueuePool relies on: QueuePool builds its
queue from the class attribute ``_queue_class`` (as ``_queue_class(pool_size,
use_lifo=...)``) and keeps it as ``_pool``; AsyncAdaptedQueue keeps its items in an
asyncio.Queue, ``_queue``; the pool asks ``get(block, timeout)`` and gives back with
``put(record, False)``, which ends in ``put_nowait``."""

from __future__ import annotations

import inspect
import sqlite3

from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlalchemy.util.queue import AsyncAdaptedQueue

from internals import FifoQueue, FifoQueuePool
from tests.contracts.pins import upgraded

SQLALCHEMY = upgraded("sqlalchemy")


def test_the_pool_builds_its_queue_from_its_queue_class() -> None:
    assert AsyncAdaptedQueuePool._queue_class is AsyncAdaptedQueue, SQLALCHEMY
    pool = FifoQueuePool(lambda: sqlite3.connect(":memory:"), pool_size=3, max_overflow=0)
    assert isinstance(pool._pool, FifoQueue), SQLALCHEMY
    assert pool._pool.maxsize == 3, SQLALCHEMY


def test_the_queue_keeps_its_items_in_an_asyncio_queue() -> None:
    queue = AsyncAdaptedQueue[str](2)
    queue.put_nowait("a")
    assert queue._queue.get_nowait() == "a", SQLALCHEMY


def test_the_pool_waits_with_get_and_gives_back_with_put_nowait() -> None:
    assert list(inspect.signature(AsyncAdaptedQueue.get).parameters) == [
        "self",
        "block",
        "timeout",
    ], SQLALCHEMY
    assert "self._pool.get(wait, self._timeout)" in inspect.getsource(QueuePool._do_get), SQLALCHEMY
    assert "self._pool.put(record, False)" in inspect.getsource(QueuePool._do_return_conn), (
        SQLALCHEMY
    )
    assert "self.put_nowait(item)" in inspect.getsource(AsyncAdaptedQueue.put), SQLALCHEMY
