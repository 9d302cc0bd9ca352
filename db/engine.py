"""The async engine and session factory, for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db import sqlite_functions
from internals import FifoQueuePool, one_trip_statements, rollback_only_begun

SessionFactory = async_sessionmaker[AsyncSession]


def normalize_url(url: str) -> str:
    """Pick the async driver for a plain ``sqlite://`` or ``postgresql://`` URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_PAGE_CACHE_KIB}")
    cursor.execute(f"PRAGMA temp_store={SQLITE_TEMP_STORE}")
    cursor.close()
    # We emit BEGIN ourselves (see _on_sqlite_begin), so writers can take the write
    # lock up front instead of failing to upgrade a read lock mid-transaction.
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds ASCII only, so ILIKE (lower(a) LIKE lower(b) here) would
    # not match 'Éclair' to 'éclair' as PostgreSQL does; fold all of Unicode instead.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    sqlite_functions.register(dbapi_connection)
    one_trip_statements(dbapi_connection)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


WRITE = {"ordercenter_write": True}
"""Execution options of a transaction that writes: ``await session.connection(WRITE)``.

On SQLite it begins IMMEDIATE (takes the write lock first, waiting up to the busy
timeout); PostgreSQL needs nothing, its writers lock rows with FOR UPDATE.
"""


_AUTOCOMMIT = "ordercenter_autocommit"


def read_options(dialect_name: str) -> dict[str, Any]:
    """Execution options of a connection that only reads: no BEGIN, no rollback.

    Each statement runs in its own implicit transaction and sees what is committed
    when it starts, so a connection kept for a whole request never reads an old
    snapshot (SQLite would keep one for as long as a transaction stays open).
    """
    if dialect_name == "sqlite":
        # SQLAlchemy's AUTOCOMMIT would reset the driver's isolation_level on the way
        # back to the pool, undoing _on_sqlite_connect; skipping our BEGIN is enough.
        return {_AUTOCOMMIT: True}
    return {"isolation_level": "AUTOCOMMIT"}


def _on_sqlite_begin(conn: Any) -> None:
    options = conn.get_execution_options()
    if options.get(_AUTOCOMMIT, False):
        return
    immediate = options.get("ordercenter_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Connections a SQLite engine keeps, and never more. Each is a thread of its own
# (aiosqlite) with its own page cache (up to 2 MiB) and, under glibc, its own malloc
# arena: SQLAlchemy's default of 5 + 10 overflow grew a serving process by ~15 MiB
# under 16 concurrent clients (bench/memory.py), for no throughput: SQLite has one
# writer, the event loop one thread, and a request waits for a connection about as
# long as it would have waited for the CPU.
SQLITE_POOL_SIZE = 4
# Each of those connections' own page cache, in KiB (SQLite's default is 2,000). The
# operating system caches the file already, once for all of them: a page SQLite does
# not keep is a read(2) from memory. At 2,000 KiB the pool held ~8 MiB of copies under
# load (bench/memory.py); at 1,024 the SQL plan statements of the page and the order
# detail took the same CPU (one connection, 200 buyers' pages, 2,950 orders' details)
# and the server answered as many order details a second.
SQLITE_PAGE_CACHE_KIB = 1024
# Where a statement keeps its temporary tables and sorts: 2 = in memory. An SQL plan's
# statement (schema/sql_plans.py) materializes dozens of small subqueries; in temporary
# files, each with a page cache of its own, that took ~2 MiB more while it ran (per
# connection at once: ~6 MiB of bench/memory.py's peak), in memory ~0.5 MiB, and no
# more CPU. The cost: a statement that sorts a whole large table holds it in memory
# rather than spilling it to a file; the server's statements read pages by index.
SQLITE_TEMP_STORE = 2


def close_connections_returned_after_dispose(engine: AsyncEngine) -> None:
    """Close a connection that comes back after ``engine.dispose()`` instead of parking it.

    ``dispose()`` closes the idle connections and starts a new pool; one checked out at
    that moment (a request or subscription still running while the app shuts down, or
    cancelled as it does) is returned later into the old pool, which nothing closes.
    The garbage collector then finds its driver connection open: aiosqlite warns
    ("Connection deleted before being closed") and its thread is only stopped then;
    asyncpg leaves the server's backend to notice the dropped socket.
    """
    generation = [0]

    def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info["ordercenter_generation"] = generation[0]

    def on_checkin(dbapi: Any, record: Any) -> None:
        if dbapi is not None and record.info.get("ordercenter_generation") != generation[0]:
            # Closes the driver connection now (gracefully when the event loop allows).
            record.invalidate()

    def on_disposed(_engine: Any) -> None:
        generation[0] += 1

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine, "checkin", on_checkin)
    event.listen(engine.sync_engine, "engine_disposed", on_disposed)


# Every statement is prepared once per connection (asyncpg's statement cache) and then
# run with its generic plan. PostgreSQL's own choice plans a statement again for each
# execution when its generic plan's estimate looks dearer than the custom plans': the
# page's SQL plan statement (schema.sql_plans, ~60 tables) then cost 1.7x the database
# CPU per request (planning each time), and which way it went turned on small changes
# to the statement. The statements' parameters are keys, page sizes and optional
# filters: one plan serves every value.
POSTGRES_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
# asyncpg keeps the statements it prepares per connection (its statement cache, used by
# the reads it runs itself: resolvers.batching.Reads.text_rows), but by default none
# longer than 15 KiB: an SQL plan's statement is longer, and was prepared (parsed and
# planned by PostgreSQL, a round trip more) on every request. 0: whatever the length.
ASYNCPG_CONNECT = {"max_cacheable_statement_size": 0}


# PostgreSQL connections per process, by default: about twice the cores of the database
# that does the work, so that its CPUs stay busy while each statement's answer travels,
# and no more. Requests beyond it wait their turn in the process (internals.
# FifoQueuePool), in order, rather than as more sessions sharing the same CPUs: on a
# 2-core PostgreSQL (bench/http_suite.py, the page at 16 clients) a pool of 4 answered
# as many requests a second as one of 10 (233 vs 234) with p99 90-94 ms against
# 115-118 ms; the activity document 35-39 against 92-97 ms. A bigger database wants a
# bigger pool: ORDERCENTER_DB_POOL_SIZE, shared out among the processes that use it.
POSTGRES_POOL_SIZE = 4


def create_engine(
    url: str, *, pool_size: int = POSTGRES_POOL_SIZE, echo: bool = False
) -> AsyncEngine:
    """``pool_size``: PostgreSQL's connections, kept (no overflow); SQLite keeps
    ``SQLITE_POOL_SIZE``."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            echo=echo,
            poolclass=FifoQueuePool,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=0,
        )
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        rollback_only_begun(engine)
    else:
        # No overflow: an overflow connection is closed as soon as it is returned, so a
        # load above the pool opened and closed PostgreSQL sessions all the time (50-130
        # per 20 s measured). A request now waits for one of the pool's connections.
        # No ping on checkout: it was BEGIN, a statement and ROLLBACK before every
        # request's first read, a third of the page's CPU. A connection PostgreSQL
        # dropped fails once, which invalidates the pool; reads then run again on a new
        # connection (resolvers.batching.Reads), a write fails and its retry succeeds.
        # Requests waiting for a connection are served in turn (internals.FifoQueuePool).
        engine = create_async_engine(
            url,
            echo=echo,
            poolclass=FifoQueuePool,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"server_settings": POSTGRES_SETTINGS, **ASYNCPG_CONNECT},
        )
    close_connections_returned_after_dispose(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
