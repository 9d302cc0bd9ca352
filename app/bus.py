"""Event buses: how a process learns that order events were committed, anywhere.

A bus only says "look again": the hub then reads ``order_events``, the source of
truth. So a lost wake-up (a Redis restart, a dropped LISTEN connection) costs
latency, never an event: every backend yields a wake-up after (re)connecting, and
the hub also polls slowly on its own.

- ``memory://``: one process (the embedded default).
- ``postgresql://…``: LISTEN on the channel that every event transaction NOTIFYs
  inside itself, so a wake-up exists exactly when a change committed.
- ``redis://…``: Redis pub/sub, published right after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

from app import metrics
from resolvers.mutations.unit_of_work import EVENTS_CHANNEL

if TYPE_CHECKING:
    import redis.asyncio as redis

# redis (~9 MiB resident once imported) and asyncpg are imported by the backend that
# uses them, not here: an API process on memory:// loads neither (bench/memory.py).

log = logging.getLogger("ordercenter.bus")

QUEUE_SIZE = 1024
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
IDLE_CHECK_SECONDS = 5.0


class Bus(Protocol):
    # Whether wake-ups can arrive now: /readyz reports a process that would only poll.
    connected: bool

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, event_ids: Sequence[int]) -> None: ...
    def listen(self) -> AsyncIterator[object]: ...


class InProcessBus:
    """Wake-ups within one process: the embedded default."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[int, ...]]] = set()
        self.connected = True

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
                # A listener this far behind re-reads the table when it catches up.
                log.warning("bus listener is %d wake-ups behind; dropping one", queue.qsize())

    async def listen(self) -> AsyncIterator[tuple[int, ...]]:
        queue: asyncio.Queue[tuple[int, ...]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)


def _delay(attempt: int) -> float:
    return RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]


def _enqueue_payload(queue: asyncio.Queue[str]) -> Any:
    def heard(*args: Any) -> None:
        # Full means wake-ups are pending anyway; one more adds nothing.
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(str(args[-1]))

    return heard


class PostgresBus:
    """LISTEN/NOTIFY. Publishing is the transaction's own NOTIFY, so publish() is empty."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.connected = False

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, event_ids: Sequence[int]) -> None:
        return None

    async def listen(self) -> AsyncIterator[object]:
        import asyncpg

        attempt = 0
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(self._dsn)
                queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
                await connection.add_listener(EVENTS_CHANNEL, _enqueue_payload(queue))
                self.connected = True
                if attempt:
                    log.info("LISTEN connection restored")
                attempt = 0
                yield "connected"  # catch up on whatever committed while we were away
                while True:
                    try:
                        yield await asyncio.wait_for(queue.get(), IDLE_CHECK_SECONDS)
                    except TimeoutError:
                        # Quiet: make sure the connection is still there.
                        await connection.execute("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                self.connected = False
                log.warning("LISTEN connection lost (%s); reconnecting", error)
                metrics.count_bus_reconnect("postgresql")
                await asyncio.sleep(_delay(attempt))
                attempt += 1
            finally:
                self.connected = False
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)


class RedisBus:
    """Redis pub/sub, published after commit."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: redis.Redis | None = None
        self.connected = False

    def _redis(self) -> redis.Redis:
        if self._client is None:
            import redis.asyncio as redis

            self._client = redis.from_url(
                self._url, socket_connect_timeout=2, health_check_interval=IDLE_CHECK_SECONDS
            )
        return self._client

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, event_ids: Sequence[int]) -> None:
        from redis.exceptions import RedisError

        if not event_ids:
            return
        try:
            await self._redis().publish(EVENTS_CHANNEL, str(max(event_ids)))
        except (RedisError, OSError) as error:
            # Committed already; other instances find the events on their next poll.
            log.warning("could not publish a wake-up to Redis (%s)", error)

    async def listen(self) -> AsyncIterator[object]:
        from redis.exceptions import RedisError

        attempt = 0
        while True:
            pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(EVENTS_CHANNEL)
                self.connected = True
                if attempt:
                    log.info("Redis subscription restored")
                attempt = 0
                yield "connected"
                while True:
                    message = await pubsub.get_message(timeout=IDLE_CHECK_SECONDS)
                    if message is not None:
                        yield message.get("data")
            except (RedisError, OSError) as error:
                self.connected = False
                log.warning("Redis subscription lost (%s); reconnecting", error)
                metrics.count_bus_reconnect("redis")
                await asyncio.sleep(_delay(attempt))
                attempt += 1
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]


def make_bus(url: str) -> InProcessBus | PostgresBus | RedisBus:
    """The bus named by ``ORDERCENTER_BUS_URL``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return InProcessBus()
    if scheme.startswith("postgres"):
        return PostgresBus(url)
    if scheme in ("redis", "rediss"):
        return RedisBus(url)
    raise ValueError(f"unsupported ORDERCENTER_BUS_URL scheme {scheme!r}")
