"""The in-process event bus: the embedded default for announcing committed order events.

It only says "look again" (event ids); the order_events table stays the source of
truth. Cross-instance backends (PostgreSQL LISTEN/NOTIFY, Redis) plug in behind the
same two methods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

log = logging.getLogger("ordercenter.bus")

QUEUE_SIZE = 1024


class InProcessBus:
    """Wake-ups within one process: the embedded default."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[int, ...]]] = set()

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, event_ids: Sequence[int]) -> None:
        ids = tuple(event_ids)
        for queue in list(self._queues):
            try:
                queue.put_nowait(ids)
            except asyncio.QueueFull:
                # A wake-up is only a hint: a listener that fell this far behind
                # re-reads the table when it catches up.
                log.warning("bus listener is %d wake-ups behind; dropping one", queue.qsize())

    async def listen(self) -> AsyncIterator[tuple[int, ...]]:
        queue: asyncio.Queue[tuple[int, ...]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)


def make_bus(url: str) -> InProcessBus:
    """The bus named by ``ORDERCENTER_BUS_URL``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return InProcessBus()
    raise ValueError(f"unsupported ORDERCENTER_BUS_URL scheme {scheme!r}")
