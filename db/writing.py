"""Write transactions, and on SQLite one writer at a time per process.

SQLite has one write lock per database. A writer that waits for it inside BEGIN
IMMEDIATE holds a pooled connection while it waits; with as many waiting writers as
the pool has connections, the writer holding the lock cannot get the connection it
needs for a read (a loader, a viewer check) and every request stalls until the pool
times out. So this process's writers queue on an asyncio lock first, holding nothing,
and take a connection only when it is their turn. (Other processes on the same file
still meet at SQLite's own lock, with its busy timeout.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from db.engine import WRITE

_turns: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()


@asynccontextmanager
async def write_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Begin the session's write transaction; on exit it has ended (rolled back unless
    committed), so the next writer's turn starts with the lock free."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        await session.connection(execution_options=WRITE)
        yield session
        return
    turn = _turns.get(bind)
    if turn is None:
        turn = _turns[bind] = asyncio.Lock()
    async with turn:
        try:
            await session.connection(execution_options=WRITE)
            yield session
        finally:
            await session.close()


def upsert(session: AsyncSession, model: type[SQLModel]) -> Any:
    """An INSERT that can say ON CONFLICT, in the bound database's own dialect."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
