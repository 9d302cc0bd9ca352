"""Level-by-level batching: every waiting loader dispatches together, once per wave.

aiodataloader on its own dispatches a loader one loop tick after its first
``load``. Which keys land in which batch then depends on how many ticks each
resolver chain happens to take, so the number of queries behind the same request
varies from run to run. Here a request's loaders wait until the request has no
query in flight and a few loop turns pass without new loads; then all of them
dispatch at once. The statements behind a request become a function of its shape
alone: one per relation per level, whatever the number of rows.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import namedtuple
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TextClause

import internals
from db import statement_watch
from db.engine import read_options

log = logging.getLogger("ordercenter.batching")
T = TypeVar("T")

# Loop turns without a new load before a wave dispatches. graphql-core needs a few
# turns to carry one resolved batch through its gathers into the next loads.
QUIET_TURNS = 8
# A session held open while awaiting a loader would otherwise wait forever; a wave
# waits this long for open queries before it dispatches anyway (and says so).
STALL_SECONDS = 0.5
# Loop turns without a load after which the request's reads connection is released:
# longer than a wave's quiet count, so only a request done with the database lets go.
IDLE_TURNS = 2 * QUIET_TURNS


@functools.lru_cache(maxsize=256)
def _record_class(columns: tuple[str, ...]) -> type[tuple[Any, ...]]:
    return namedtuple("Record", columns, rename=True)


def _records(result: Result[Any]) -> list[Any]:
    """The result's rows as named tuples: same names, same positions.

    Resolvers read rows by attribute (``row.shop_id``) thousands of times a request; a
    Core row answers that through ``__getattr__`` at ~300 ns a read, a named tuple in
    ~40. Copying a row into one costs about a single read.
    """
    record = _record_class(tuple(result.keys()))
    new = tuple.__new__
    return [new(record, row) for row in result.all()]


class Reads:
    """The request's one database connection for reads, opened when first needed.

    A connection per batch cost a pool checkout, a pre-ping, BEGIN and a rollback on
    return for every statement, most of a request's database time. Here the loaders'
    statements take turns on one connection, each in its own implicit transaction
    (see ``db.engine.read_options``), so each sees what is committed when it runs,
    as it did in a session of its own.

    The connection stays open between statements only while an operation runs (see
    ``keep``), which ends by giving it back; outside one (a loader used directly, a
    WebSocket handshake) it goes back as soon as no statement waits for it, since
    nothing would say when the caller is done.

    Statements are SQLAlchemy's (``rows``) on a Connection of the engine, no Session:
    nothing here needs one. A plain SQL text (``text_rows``, an SQL plan's one
    statement) goes to asyncpg's connection itself when it can (internals.
    reads_by_driver), on a raw connection of the same pool, shown to the engine's
    statement watchers (db.statement_watch: tracing's spans) as SQLAlchemy's are.
    """

    def __init__(self, sessions: Callable[[], AsyncSession]) -> None:
        self._sessions = sessions
        self._engine = _engine_of(sessions)
        self._lock = asyncio.Lock()
        self._connection: AsyncConnection | None = None
        self._raw: PoolProxiedConnection | None = None
        self._keepers = 0
        self._users = 0

    @property
    def open(self) -> bool:
        return self._connection is not None or self._raw is not None

    @property
    def factory(self) -> Callable[[], AsyncSession]:
        """Where these reads connect (the session factory, untracked)."""
        return self._sessions

    def keep(self, keep: bool) -> None:
        """An operation starts (True) or ends (False): hold the connection across waves."""
        self._keepers += 1 if keep else -1

    async def rows(self, statement: Executable, params: dict[str, Any] | None = None) -> list[Any]:
        """Rows as named tuples: for ``select(Model)`` they answer the model's attribute names."""
        return await self._turn(self._statement_rows, statement, params)

    async def text_rows(
        self, statement: TextClause, params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """Rows of a plain SQL text, by position (no names, no result types applied)."""
        if not internals.reads_by_driver(self._engine):
            return await self.rows(statement, params)
        return await self._turn(self._driver_rows, statement, params)

    async def _turn(
        self,
        execute: Callable[[Any, dict[str, Any] | None], Awaitable[T]],
        statement: Any,
        params: dict[str, Any] | None,
    ) -> T:
        self._users += 1
        try:
            async with self._lock:
                try:
                    rows = await execute(statement, params)
                except BaseException:
                    # As a session of its own per batch would have been: closed with the
                    # failure, so one broken statement (or connection) fails only its batch.
                    await self._release()
                    raise
                if not self._keepers and self._users == 1:
                    await self._release()
                return rows
        finally:
            self._users -= 1

    async def _statement_rows(
        self, statement: Executable, params: dict[str, Any] | None
    ) -> list[Any]:
        if self._raw is not None:
            await self._release()  # one connection per request: not a raw one beside it
        fresh = self._connection is None
        try:
            return await self._execute(statement, params)
        except DBAPIError as error:
            # Pooled connections are not pinged on checkout (it was a third of a page
            # request's CPU): one the server dropped (a restart, a failover) fails its
            # first statement, the pool is invalidated, and the read, which changes
            # nothing, runs again on a new one.
            if not (fresh and error.connection_invalidated):
                raise
            await self._release()
            return await self._execute(statement, params)

    async def _execute(self, statement: Executable, params: dict[str, Any] | None) -> list[Any]:
        if self._connection is None:
            connection = await self._engine.connect()
            try:
                options = read_options(self._engine.dialect.name)
                self._connection = await connection.execution_options(**options)
            except BaseException:
                await _close(connection)
                raise
        return _records(await self._connection.execute(statement, params))

    async def _driver_rows(
        self, statement: TextClause, params: dict[str, Any] | None
    ) -> Sequence[Sequence[Any]]:
        if self._connection is not None:
            # A Connection is held already (loaders read first): the text runs on it.
            return await self._statement_rows(statement, params)
        text = internals.driver_text(statement, self._engine)
        fresh = self._raw is None
        if self._raw is None:
            self._raw = await internals.checkout_raw(self._engine)
        try:
            with statement_watch.watched(self._engine, text.sql):
                return await internals.driver_rows(self._raw, text, params or {})
        except Exception as error:
            if not (fresh and internals.connection_lost(self._raw)):
                raise
            # Dropped by the server, as above: it goes back invalidated, and the read
            # runs again through SQLAlchemy, which invalidates the rest of the pool if
            # the next connection was dropped too, and retries once more.
            await self._release(lost=error)
            return await self._statement_rows(statement, params)

    async def close(self) -> None:
        """Give the connection back now; the next statement takes another."""
        async with self._lock:
            await self._release()

    async def _release(self, lost: BaseException | None = None) -> None:
        connection, self._connection = self._connection, None
        raw, self._raw = self._raw, None
        if connection is not None:
            await _close(connection)
        if raw is not None and (
            lost is not None or not internals.release_raw_now(self._engine, raw)
        ):
            await asyncio.shield(asyncio.ensure_future(internals.release_raw(raw, lost)))


async def _close(connection: AsyncConnection) -> None:
    # Shielded, as AsyncSession's own `async with` closes: an operation cancelled meanwhile
    # (its client went away) must not interrupt the connection's reset on its way back
    # to the pool half way.
    await asyncio.shield(asyncio.ensure_future(connection.close()))


def _engine_of(sessions: Callable[[], AsyncSession]) -> AsyncEngine:
    """The engine a session factory binds its sessions to."""
    bind = sessions.kw.get("bind") if isinstance(sessions, async_sessionmaker) else None
    if not isinstance(bind, AsyncEngine):
        bind = sessions().bind  # a factory of another kind: one of its sessions says
    if not isinstance(bind, AsyncEngine):
        raise TypeError(f"reads need sessions bound to an AsyncEngine, not {bind!r}")
    return bind


class BatchScheduler:
    def __init__(self) -> None:
        self.busy = 0
        self._reads: Reads | None = None
        self._idle = 0
        self._pending: list[DataLoader[Any, Any]] = []
        # Cache hits released with the next wave, not at once: a row found in the
        # cache must not run its children's loads one wave ahead of its siblings'.
        self._held: list[tuple[asyncio.Future[Any], asyncio.Future[Any]]] = []
        self._settling: list[tuple[asyncio.Future[Any], asyncio.Future[Any]]] = []
        self._running: set[asyncio.Future[None]] = set()
        self._quiet = 0
        self._ticking = False
        self._stall: asyncio.TimerHandle | None = None

    def bind(self, sessions: Callable[[], AsyncSession]) -> None:
        """Where the request's reads connect (the session factory, untracked)."""
        self._reads = Reads(sessions)

    @property
    def reads(self) -> Reads:
        if self._reads is None:
            raise RuntimeError("no session factory bound to this scheduler")
        return self._reads

    async def aclose(self) -> None:
        """Give the reads connection back to the pool now; a later load reopens it.
        Batches already running finish first, so none takes a connection afterwards."""
        if self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
        if self._reads is not None:
            await self._reads.close()

    def abandon(self) -> None:
        """The operation stopped half way (its answer comes from elsewhere): loads not yet
        dispatched never will be, so no batch reads after it ends."""
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._pending.clear()
        self._held.clear()
        self._settling.clear()

    def keep_reads(self, keep: bool) -> None:
        if self._reads is not None:
            self._reads.keep(keep)

    def enqueue(self, loader: DataLoader[Any, Any]) -> None:
        self._pending.append(loader)
        self._quiet = 0
        self._start()

    def hold(self, cached: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """A future that settles like ``cached``, but together with the next wave."""
        held = asyncio.get_running_loop().create_future()
        self._held.append((cached, held))
        self._quiet = 0
        self._start()
        return held

    def released(self) -> None:
        """A query finished; if it was the last one, the next wave may be due."""
        if self.busy == 0:
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None
            settling, self._settling = self._settling, []
            _settle(settling)
            if self._pending or self._held:
                self._quiet = 0
                self._start()
            elif self._reads is not None and self._reads.open:
                # Nothing waits: unless more loads come, the request is done reading.
                self._idle = 0
                self._start()

    def _start(self) -> None:
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._ticking = False
        if not self._pending and not self._held:
            self._idle_tick()
            return
        self._idle = 0
        if self.busy:
            # released() restarts the count; the timer guards against a caller that
            # awaits a loader while holding a session open.
            if self._stall is None:
                self._stall = asyncio.get_running_loop().call_later(STALL_SECONDS, self._stalled)
            return
        self._quiet += 1
        if self._quiet < QUIET_TURNS:
            self._start()
            return
        self._dispatch()

    def _idle_tick(self) -> None:
        if self.busy or self._reads is None or not self._reads.open:
            return
        self._idle += 1
        if self._idle < IDLE_TURNS:
            self._start()
            return
        # An operation gives the connection back as it ends (schema.limits.ReleaseReads),
        # but a subscription's lasts as long as it does: between events, a connection
        # left unused this long goes back to the pool.
        task = asyncio.ensure_future(self._reads.close())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _stalled(self) -> None:
        self._stall = None
        if self._pending or self._held:
            log.warning("dispatching loaders while %d queries are still open", self.busy)
            self._dispatch()

    def _dispatch(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        pending, self._pending = self._pending, []
        held, self._held = self._held, []
        self._quiet = 0
        if pending:
            # Settle with this wave's fresh rows, when its batches are done.
            self._settling.extend(held)
        else:
            _settle(held)
        for loader in pending:
            queue = internals.take_queue(loader)
            # Counted as busy until its futures are settled, so the quiet count for
            # the next wave starts only once the results are on their way.
            self.busy += 1
            task = asyncio.ensure_future(self._run(loader, queue))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, loader: DataLoader[Any, Any], queue: list[Any]) -> None:
        try:
            await internals.dispatch_batch(loader, queue)
        finally:
            self.busy -= 1
            self.released()


def _copy(cached: asyncio.Future[Any], future: asyncio.Future[Any]) -> None:
    if future.done():
        return
    if cached.cancelled():
        future.cancel()
    elif (error := cached.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(cached.result())


def _follow(future: asyncio.Future[Any], cached: asyncio.Future[Any]) -> None:
    _copy(cached, future)


def _settle(held: list[tuple[asyncio.Future[Any], asyncio.Future[Any]]]) -> None:
    for cached, future in held:
        if cached.done():
            _copy(cached, future)
        else:  # only after a stalled wave: follow the batch still running
            cached.add_done_callback(functools.partial(_follow, future))


class ScheduledLoader(DataLoader[Any, Any]):
    """A DataLoader that hands its dispatch to the request's BatchScheduler."""

    def __init__(self, scheduler: BatchScheduler, *, cache: bool = True) -> None:
        super().__init__(cache=cache)
        self._scheduler = scheduler

    def load(self, key: Any) -> asyncio.Future[Any]:
        if self.cache:
            found = internals.cached(self, key)
            if found is not None:
                # Also when still loading: a key asked for again one level deeper
                # must not settle a wave earlier than the rest of that level.
                return self._scheduler.hold(found)
        future: asyncio.Future[Any] = super().load(key)
        return future

    def do_resolve_reject(self, key: Any, future: asyncio.Future[Any]) -> None:
        if internals.queue_load(self, key, future):
            self._scheduler.enqueue(self)


class DeferredQueryLoader(ScheduledLoader):
    """Runs one-off queries (a page, a count) in the request's waves, not between them.

    Its keys are zero-argument coroutine functions; each runs once, concurrently with
    the rest of its wave, and a failure fails only its own caller.
    """

    def __init__(self, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler, cache=False)

    async def batch_load_fn(self, keys: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
        return list(await asyncio.gather(*(key() for key in keys), return_exceptions=True))

    async def run(self, query: Callable[[], Awaitable[T]]) -> T:
        result: T = await self.load(query)
        return result


class TrackedSession:
    """A session whose lifetime counts as a query in flight for the scheduler."""

    def __init__(self, session: AsyncSession, scheduler: BatchScheduler) -> None:
        self._session = session
        self._scheduler = scheduler

    async def __aenter__(self) -> AsyncSession:
        self._scheduler.busy += 1
        try:
            # A request taking a session of its own (a writer, which may queue for its
            # turn: db/writing.py) gives its reads connection back first, so no request
            # holds two pooled connections, or one while it waits.
            await self._scheduler.aclose()
            return await self._session.__aenter__()
        except BaseException:
            self._scheduler.busy -= 1
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._session.__aexit__(exc_type, exc, tb)
        finally:
            self._scheduler.busy -= 1
            self._scheduler.released()


def tracked(
    sessions: Callable[[], AsyncSession], scheduler: BatchScheduler
) -> Callable[[], TrackedSession]:
    scheduler.bind(sessions)
    return lambda: TrackedSession(sessions(), scheduler)
