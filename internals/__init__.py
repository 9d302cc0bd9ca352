"""Every use of a dependency's private parts, in one module.

Where a library offers no public hook for what we need, the private attribute, method
or behaviour we rely on is touched here and nowhere else, behind a name of ours; each
has a contract test (tests/contracts/) that fails when an upgrade of that library
changes it, naming the versions it was checked against. tests/contracts/
test_private_parts.py fails when a module elsewhere touches a library's private part.

This module imports libraries only, never a module of the project: every layer (app,
schema, resolvers, db) may import it without breaking the rule that dependencies point
down. Only what has no public equivalent is here; where one exists, the code uses it
(``sqlalchemy.ColumnExpressionArgument``, graphql-core's ``Executor.build`` and
``execute_subscription_event``, the ASGI send our own WebSocket app passes Starlette).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
import types
import weakref
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue_batch
from graphql import GraphQLSchema
from sqlalchemy import Boolean, ColumnElement, ColumnExpressionArgument, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, TextClause
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.util import EMPTY_DICT, await_, greenlet_spawn
from sqlalchemy.util import queue as sqla_queue
from strawberry import Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.types import ExecutionContext, ExecutionResult
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

if TYPE_CHECKING:
    from prometheus_client.metrics import MetricWrapperBase
    from strawberry.extensions.runner import SchemaExtensionsRunner
    from strawberry.schema.schema import StreamResult

# ---------------------------------------------------------------- strawberry-graphql


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes against (``Schema._schema``:
    Strawberry has no public name for it)."""
    found: GraphQLSchema = schema._schema
    return found


class ResultHookSchema(Schema):
    """A Strawberry schema that lets its subclass see every result before a transport
    does (``finish_result``).

    ``Schema._handle_execution_result`` is where Strawberry turns each result of
    ``execute`` and ``stream``/``subscribe`` (executed, refused before execution, failed
    in an extension's hook) into what transports send; no public hook sees all of them.
    """

    async def _handle_execution_result(
        self,
        context: ExecutionContext,
        result: Any,
        extensions_runner: SchemaExtensionsRunner,
        *,
        skip_process_errors: bool = False,
    ) -> ExecutionResult:
        answer: ExecutionResult = await super()._handle_execution_result(
            context, result, extensions_runner, skip_process_errors=skip_process_errors
        )
        self.finish_result(context, answer)
        return answer

    def finish_result(self, context: ExecutionContext, answer: ExecutionResult) -> None:
        """Called with every result on its way to a transport (it may change it)."""


class HandOverTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """Strawberry's graphql-transport-ws handler with the hook it lacks: an operation
    whose result stream ended may be taken over by the handler instead of completed.

    ``_send_result_stream`` sends one operation's results; ``run_operation`` sends
    ``complete`` once it returns unless it raises ``_OperationStreamClosed``, the
    handler's own signal for "no complete from here". Both names are Strawberry's
    internals.
    """

    async def _send_result_stream(
        self, operation: Operation[Any, None], result_source: StreamResult
    ) -> None:
        try:
            await super()._send_result_stream(operation, result_source)
        except BaseException:
            self.result_stream_failed(operation)
            raise
        if self.result_stream_ended(operation):
            raise _OperationStreamClosed

    def result_stream_failed(self, operation: Operation[Any, None]) -> None:
        """The stream of ``operation`` was stopped or failed."""

    def result_stream_ended(self, operation: Operation[Any, None]) -> bool:
        """The stream of ``operation`` ended: True if the handler serves it from now on
        (no ``complete`` is sent for it here), False to complete it as usual."""
        return False


# Strawberry's graphql-transport-ws handler closes a socket whose connection_init
# on_ws_connect refused (ConnectionRejectionError) with this code and the bare reason
# "Forbidden", dropping the rejection's payload.
REFUSED_INIT_CLOSE = 4403


def is_refused_init_close(message: Any) -> bool:
    """Whether an ASGI message is Strawberry's close of a refused connection_init (its
    reason is then ours to give)."""
    return bool(message.get("type") == "websocket.close" and message.get("code") == 4403)


# ---------------------------------------------------------------------------- asyncio


def await_by_hand(future: Any) -> None:
    """What a Task does with the future a coroutine it steps yielded (the coroutine
    awaits it): clears ``_asyncio_future_blocking``, asyncio's private flag that marks a
    future yielded by ``Future.__await__``."""
    future._asyncio_future_blocking = False


@types.coroutine
def resume(started: Coroutine[Any, Any, Any], held: Any) -> Generator[Any, Any, None]:
    """Runs to its end a coroutine that was stepped by hand (``send(None)``) and
    suspended on ``held``, as if it had been awaited from the start: ``held`` (a future
    still marked ``_asyncio_future_blocking``) goes to the running Task as is, which
    waits for it as it would for one its own coroutine yielded."""
    while True:
        try:
            sent = yield held
        except BaseException as error:
            try:
                held = started.throw(error)
            except StopIteration:
                return
            continue
        try:
            held = started.send(sent)
        except StopIteration:
            return


# ----------------------------------------------------------------------------- uvicorn
# uvicorn's ASGI send for a WebSocket (its sans-I/O implementation, the default with the
# websockets library) has websockets encode each message into a frame, then writes it
# to the connection's transport. A live event goes to thousands of sockets as the same
# frame: encoded once (``text_frame``), it can be written to each transport as uvicorn
# would write it. The protocol's attributes read here (its transport, its websockets
# connection, flow control and closing state) are not a public API of uvicorn.


def text_frame(text: str) -> bytes:
    """A server's WebSocket text frame carrying ``text`` (unmasked, uncompressed), byte
    for byte what websockets writes for it on a connection without extensions."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def frame_writer(send: Any) -> Callable[[bytes], bool] | None:
    """For the ASGI send of a uvicorn WebSocket (sans-I/O implementation): a function
    that writes a ``text_frame`` straight to its transport and says True; or writes
    nothing and says False whenever uvicorn's send would not write at once (flow
    control holds writes back, the handshake is not done, a close was sent or
    received, the connection is gone, an extension such as compression transforms
    frames), so that the caller sends the ASGI way instead. None for another send."""
    protocol = getattr(send, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    writable = protocol.writable
    connection = protocol.conn

    def write(frame: bytes) -> bool:
        transport = protocol.transport
        if (
            not writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or not protocol.handshake_complete
            or protocol.initial_response is not None
            or connection.state is not State.OPEN
            or connection.extensions
            or connection.expect_continuation_frame
            or transport.is_closing()
        ):
            return False
        transport.write(frame)
        return True

    return write


# ----------------------------------------------------------------------- aiodataloader


def cached(loader: DataLoader[Any, Any], key: Any) -> asyncio.Future[Any] | None:
    """The loader's cached future for ``key`` (done or still loading), if any
    (``DataLoader._cache``)."""
    found: asyncio.Future[Any] | None = loader._cache.get(loader.get_cache_key(key))
    return found


def queue_load(loader: DataLoader[Any, Any], key: Any, future: asyncio.Future[Any]) -> bool:
    """Queues ``key`` for the loader's next batch, as ``DataLoader.do_resolve_reject``
    does (``DataLoader._queue``, of ``Loader`` records); True if it is the first."""
    loader._queue.append(Loader(key=key, future=future))
    return len(loader._queue) == 1


def take_queue(loader: DataLoader[Any, Any]) -> list[Any]:
    """The loader's queued keys, leaving its queue empty (as ``dispatch_queue`` does)."""
    queue: list[Any] = loader._queue
    loader._queue = []
    return queue


async def dispatch_batch(loader: DataLoader[Any, Any], queue: list[Any]) -> None:
    """One batch of ``take_queue``'s keys: ``batch_load_fn`` once, each future settled
    (``dispatch_queue_batch``, the undocumented function ``dispatch_queue`` runs)."""
    await dispatch_queue_batch(loader, queue)


# ------------------------------------------------------------------------- SQLAlchemy
# A SQL construct of our own: SQLAlchemy documents @compiles, but a construct that
# takes part in its statement cache needs ``_traverse_internals`` (what its cache key
# is made of), and one that is a comparison already needs ``_is_implicitly_boolean``;
# an ORM attribute becomes its column through ``coercions.expect``, as SQLAlchemy's
# own constructs do. All three are SQLAlchemy internals.


class OneOfKeys(ColumnElement[bool]):
    """``column IN (:keys)``, the keys bound as one list; on PostgreSQL ``column = ANY(:keys)``.

    asyncpg prepares every statement text it has not yet seen on a connection (a round
    trip, and a parse and plan on the server), and keeps 100 of them. An IN list has a
    placeholder per key, so every batch size was a text of its own, and one request
    after another re-prepared most of its loaders' statements. One array parameter
    makes one text per loader. SQLite has no arrays: there it stays an expanding IN.
    """

    inherit_cache = True
    type = Boolean()
    # A comparison already: SQLite (no native booleans) must not get "... = 1" after it.
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnExpressionArgument[Any], name: str = "keys") -> None:
        # An ORM attribute (Order.id) becomes its column: the cache key is made of these.
        self.column: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)
        self.name = name


@compiles(OneOfKeys)
def _one_of_keys(element: OneOfKeys, compiler: SQLCompiler, **kw: Any) -> str:
    keys: BindParameter[Any] = bindparam(element.name, expanding=True)
    return compiler.process(element.column.in_(keys), **kw)


@compiles(OneOfKeys, "postgresql")
def _one_of_keys_array(element: OneOfKeys, compiler: SQLCompiler, **kw: Any) -> str:
    keys: BindParameter[Any] = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(keys), **kw)


# ------------------------------------------------- SQLAlchemy's pool, asyncpg's connection
# A read that is one plain SQL text (an SQL plan's statement, schema/sql_plans.py) needs
# none of what SQLAlchemy's execution adds over asyncpg's: no compiled construct, no
# result types to process, no transaction (reads run in autocommit, db.engine.read_options).
# Measured on a trivial statement, SQLAlchemy's execute on a held connection costs
# ~170 us of CPU against ~30 us for asyncpg's own prepared statement, and a checkout of a
# Connection with its options ~80 us against ~30 us for the pool's raw connection. So
# such a read checks out the pool's connection raw (the one pool, its events and reset
# on return as usual) and runs the text on asyncpg's connection, which keeps the
# statement prepared (asyncpg's statement cache, per connection). The text is compiled
# by SQLAlchemy once: PostgreSQL's $n placeholders and the names they stand for.
# ``AsyncEngine.raw_connection`` and ``driver_connection`` are public; releasing a raw
# connection from async code (``greenlet_spawn``, so that the pool's reset and an
# invalidated connection's close may await), the compiled ``positiontup`` and the
# engine's ``dispatch`` (who listens for statements) are not.


@dataclass(frozen=True, slots=True)
class DriverText:
    """An SQL text as asyncpg runs it: $n placeholders, and the parameter name of each."""

    sql: str
    names: tuple[str, ...]


_driver_texts: weakref.WeakKeyDictionary[TextClause, DriverText] = weakref.WeakKeyDictionary()


def driver_text(statement: TextClause, engine: AsyncEngine) -> DriverText:
    """``statement`` as its engine's driver takes it (compiled once per statement)."""
    found = _driver_texts.get(statement)
    if found is None:
        compiled = statement.compile(dialect=engine.dialect)
        found = DriverText(compiled.string, tuple(compiled.positiontup or ()))
        _driver_texts[statement] = found
    return found


_SEES_DRIVER_READS = "_ordercenter_sees_driver_reads"

F = TypeVar("F", bound=Callable[..., Any])


def sees_driver_reads(listener: F) -> F:
    """Marks a cursor listener whose owner also watches the direct road
    (db.statement_watch): it does not keep reads off it."""
    setattr(listener, _SEES_DRIVER_READS, True)
    return listener


def reads_by_driver(engine: AsyncEngine) -> bool:
    """Whether plain reads may go to ``engine``'s asyncpg connections directly: its
    driver is asyncpg and every cursor listener also sees that road (a statement
    counter does not: the driver's own calls would pass it by unseen). The listeners
    are read from the engine's ``dispatch``, and must be the functions themselves
    (``before_cursor_execute`` registered with ``retval=True``, or SQLAlchemy wraps it)."""
    if engine.dialect.driver != "asyncpg":
        return False
    dispatch = engine.sync_engine.dispatch
    listeners = [*dispatch.before_cursor_execute, *dispatch.after_cursor_execute]
    return all(getattr(listener, _SEES_DRIVER_READS, False) for listener in listeners)


async def checkout_raw(engine: AsyncEngine) -> PoolProxiedConnection:
    """One of the pool's connections, without a SQLAlchemy Connection around it.

    When the connection next in the pool's queue is open and due for no recycling, it
    is taken without a greenlet: that checkout does no I/O (``AsyncEngine.
    raw_connection`` runs it in one, ~10 us, a thirtieth of a small request's CPU).
    Otherwise (none idle, or one to open anew) the usual way, in a greenlet."""
    pool = engine.sync_engine.pool
    queue = getattr(pool, "_pool", None)
    if isinstance(queue, FifoQueue) and _checks_out_without_io(pool, queue.next_idle()):
        return pool.connect()
    return await engine.raw_connection()


def _checks_out_without_io(pool: Any, record: Any) -> bool:
    """Whether the pool's checkout of ``record`` would do no I/O: what
    ``_ConnectionRecord.get_connection`` checks before it opens a connection (none yet,
    or one due for recycling), and no ping on checkout."""
    if record is None or record.dbapi_connection is None or pool._pre_ping:
        return False
    started = record.starttime
    if pool._recycle > -1 and time.time() - started > pool._recycle:
        return False
    return bool(pool._invalidate_time <= started and record._soft_invalidate_time <= started)


async def driver_rows(
    connection: PoolProxiedConnection, text: DriverText, params: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of ``text`` run by asyncpg on ``connection`` (outside any transaction:
    each statement its own, as the read options say), as asyncpg's records."""
    driver = connection.driver_connection
    if driver is None:  # invalidated and not yet reconnected: as asyncpg says it
        raise ConnectionError("the connection is closed")
    rows: Sequence[Sequence[Any]] = await driver.fetch(
        text.sql, *[params[name] for name in text.names]
    )
    return rows


def connection_lost(connection: PoolProxiedConnection) -> bool:
    """Whether the driver's connection is closed (PostgreSQL or the network dropped it)."""
    driver = connection.driver_connection
    return driver is None or bool(driver.is_closed())


def release_raw_now(engine: AsyncEngine, connection: PoolProxiedConnection) -> bool:
    """Gives a raw connection back to ``engine``'s pool at once, without a greenlet, when
    that needs no I/O: its driver connection is open and in no transaction (the reset
    on return then rolls nothing back), and the pool it came from is still the engine's
    (one disposed meanwhile closes it, which is I/O). False: nothing was done, and
    ``release_raw`` must give it back."""
    driver = connection.driver_connection
    if driver is None or driver.is_closed() or driver.is_in_transaction():
        return False
    if getattr(connection, "_pool", None) is not engine.sync_engine.pool:
        return False
    connection.close()
    return True


async def release_raw(connection: PoolProxiedConnection, lost: BaseException | None) -> None:
    """Gives a raw connection back to the pool (``lost``: invalidated first, so the pool
    opens a new one in its place)."""

    def release() -> None:
        try:
            if lost is not None:
                connection.invalidate(lost)
        finally:
            connection.close()

    await greenlet_spawn(release)


# ------------------------------------------------------- SQLAlchemy's asyncio pool queue
# The asyncio pool's queue (sqlalchemy.util.queue.AsyncAdaptedQueue) puts a connection
# given back into an asyncio.Queue and wakes the first waiter; until that waiter runs,
# any request that asks for a connection takes it first (get tries get_nowait), and the
# waiter, finding the queue empty again, waits anew at the back of the line. Under a
# load above the pool a few requests lost that race again and again: with 2 connections
# and 16 clients, p90 81 ms but p99 131 ms (bench/http_suite.py's page), the slow ones
# spread evenly over the run. Here a connection given back goes straight to the longest
# waiter. The pool class's ``_queue_class`` and the queue's ``_queue`` are private.


class FifoQueue(sqla_queue.AsyncAdaptedQueue[Any]):
    """The pool's queue, serving its waiters in the order they came."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        # A connection lies in the queue only while nobody waits (put_nowait hands it
        # over otherwise): taking it jumps no one.
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if not block:
                raise sqla_queue.Empty() from None
        return await_(self._wait(timeout))

    def next_idle(self) -> Any:
        """The item the next ``get`` takes without waiting (None: it would wait). The
        asyncio.Queue keeps its items in a deque, ``_queue``, and takes from the left."""
        items = self._queue._queue  # type: ignore[attr-defined]
        return items[0] if items else None

    async def _wait(self, seconds: float | None) -> Any:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        # A timer that fails the waiter, rather than asyncio.timeout: a third of the
        # cost, and a wait ended by it is told from a cancellation by its exception.
        timer = None if seconds is None else loop.call_later(seconds, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed over as this wait ended (cancelled): to the next one.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def waiting(self) -> int:
        """Callers waiting for a connection now."""
        return sum(1 for waiter in self._waiters if not waiter.done())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(sqla_queue.Empty())


class FifoQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with a queue that serves its waiters in turn."""

    _queue_class = FifoQueue


def pool_waiting(pool: Any) -> int | None:
    """Callers waiting for one of the pool's connections (None: a pool that keeps no
    queue of ours, so nobody can say)."""
    queue = getattr(pool, "_pool", None)
    return queue.waiting() if isinstance(queue, FifoQueue) else None


# ------------------------------------------------- SQLAlchemy's dialect, aiosqlite's connection
# On aiosqlite every call is a trip to the connection's own thread and back. SQLAlchemy
# rolls back each connection it closes, though a read (db.engine.read_options) never
# began a transaction on SQLite: a trip for nothing, on every read. The dialect's
# ``do_rollback`` is public, replacing it on one engine's dialect instance is not.


def rollback_only_begun(engine: AsyncEngine) -> None:
    """On a SQLite (aiosqlite) engine, roll back only a connection whose driver is in
    a transaction; one that is not has nothing to roll back (sqlite3 itself skips it)."""
    dialect = engine.sync_engine.dialect
    if dialect.driver != "aiosqlite":
        return
    rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        try:
            idle = driver is not None and not driver.in_transaction
        except ValueError:  # aiosqlite: closed; let SQLAlchemy say so as it would
            idle = False
        if not idle:
            rollback(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


# One trip per statement. SQLAlchemy's aiosqlite cursor makes four: open a cursor,
# execute, fetch, close, each queued to the connection's thread and answered through
# the event loop. Each trip is ~11 us of CPU and, while the loop is busy (a fan-out to
# a thousand subscribers), a wait for its next turn: a status change's dozen
# statements waited behind the fan-out of the event before it. This cursor does all
# four in the thread at once and keeps what SQLAlchemy reads afterwards. It relies on
# SQLAlchemy's adapter classes and their attributes (``_connection``, ``_cursor``,
# ``_rows``, ``_soft_closed_memoized``, ``_execute_mutex``, ``_cursor_cls``) and on
# aiosqlite's ``Connection._execute`` and ``_conn``.


class _Ran:
    """What SQLAlchemy reads of a cursor once its statement has run."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(
        self, description: Any = None, rowcount: int = -1, lastrowid: int | None = None
    ) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1


def _run_in_thread(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[_Ran, list[Any] | None]:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        # After the fetch: an INSERT ... RETURNING counts its rows as they are read.
        return _Ran(description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, making one trip to the thread per statement."""

    __slots__ = ()

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Ran()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            driver = self._connection
            ran, rows = await driver._execute(
                _run_in_thread, driver._conn, operation, parameters, many
            )
            self._cursor = ran
            if rows is not None:
                self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return  # nothing is open: the thread closed its cursor already

    def close(self) -> None:
        self._rows.clear()


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


def one_trip_statements(dbapi_connection: Any) -> None:
    """From a SQLite engine's ``connect`` event: this connection's statements make one
    trip to its thread each (``OneTripCursor``). Server-side cursors are unchanged."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _OneTripConnection


# -------------------------------------------------------------------- prometheus-client


def name_and_help(metric: MetricWrapperBase) -> tuple[str, str]:
    """A metric's full name and help text, as its own samples carry them (``_name``,
    ``_documentation``: prometheus-client has no public accessor)."""
    return metric._name, metric._documentation
