"""Subscribe-time reads, shared by every subscription starting at the same time.

A subscribe reads a row or two before its subscriber registers: its viewer, and for
one order that order and its shop (``resolvers.policy`` decides on them). Thousands
of subscribes come at once when clients reconnect (a deploy, a network blip, a
server restarting), and each of them reading on its own held one of the pool's
connections for several turns of a busy event loop: with 10,000 subscribes in flight
a turn took ~15 ms, a read held SQLite's connection (one of 4) ~50 ms, and
subscribes queued past the pool's 30 s timeout. Here the reads of every subscribe in
flight that differ only in their keys (a by-id loader's ``IN (:keys)``) are one
statement: the first one runs at once, and the ones that come while it runs are the
next one. A statement holds a pooled connection for itself only, never between
statements, so subscribes cannot starve each other or the requests beside them.

The rows are read when asked for, as a request's loaders read them (nothing is
cached between statements); each caller gets the rows of its own keys, in the
statement's order.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable, visitors

from internals import OneOfKeys
from resolvers.batching import BatchScheduler, Reads, tracked
from resolvers.context import Context
from resolvers.loaders import Loaders

# Keys in one statement at most; more wait for the next (bind-parameter limits are
# far above, and a statement this size is still a few milliseconds).
MAX_KEYS = 1000


@dataclass(slots=True)
class _Wanted:
    keys: Sequence[Any]
    answer: asyncio.Future[list[Any]]


@functools.lru_cache(maxsize=256)
def keyed_column(statement: Executable) -> str | None:
    """The column whose ``OneOfKeys`` is the statement's whole condition, if its rows
    for a set of keys are the rows for each key put together (a plain select of rows
    that carry that column: no grouping, limit or distinct); None otherwise."""
    if not isinstance(statement, Select) or statement.whereclause is None:
        return None
    found = [e for e in visitors.iterate(statement.whereclause) if isinstance(e, OneOfKeys)]
    if len(found) != 1 or found[0].name != "keys":
        return None
    column = found[0].column
    name = getattr(column, "name", None)
    selected = statement.selected_columns
    if name is None or name not in selected or selected[name].compare(column) is False:
        return None
    text = " ".join(str(statement).split()).upper()
    if any(word in text for word in (" GROUP BY ", " LIMIT ", " OFFSET ", " DISTINCT ")):
        return None
    return str(name)


class SharedReads(Reads):
    """``Reads`` for every subscribe in flight at once (see the module's docstring):
    statements that differ only in their ``keys`` run as one; any other runs alone.
    Each statement takes a pooled connection and gives it back as it ends."""

    def __init__(self, sessions: Callable[[], AsyncSession]) -> None:
        super().__init__(sessions)
        self._waiting: dict[Hashable, list[_Wanted]] = {}
        self._running: dict[Hashable, asyncio.Task[None]] = {}
        self.statements = 0  # statements run so far (how many subscribes shared them: tests)

    @property
    def open(self) -> bool:
        return False  # no connection is kept between statements

    def keep(self, keep: bool) -> None:
        """Never kept: a statement's connection goes back as the statement ends."""

    async def close(self) -> None:
        """Nothing is held between statements."""

    async def rows(self, statement: Executable, params: dict[str, Any] | None = None) -> list[Any]:
        if params is None or params.keys() != {"keys"} or keyed_column(statement) is None:
            self.statements += 1
            return await Reads(self.factory).rows(statement, params)
        answer: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(statement, []).append(_Wanted(params["keys"], answer))
        if statement not in self._running:
            # In an empty context: it serves every subscribe in flight, not this one (a
            # connection opened in it would keep its context for as long as it lives).
            task = asyncio.create_task(self._run(statement), context=contextvars.Context())
            self._running[statement] = task
        return await answer

    async def _run(self, statement: Executable) -> None:
        column = keyed_column(statement)
        try:
            while waiting := self._waiting.pop(statement, None):
                batch: list[_Wanted] = []
                keys: set[Any] = set()
                for position, wanted in enumerate(waiting):
                    if batch and len(keys) + len(wanted.keys) > MAX_KEYS:
                        # The rest first in the next statement, in the order they came.
                        later = self._waiting.pop(statement, [])
                        self._waiting[statement] = waiting[position:] + later
                        break
                    if not wanted.answer.done():  # its subscribe was not cancelled
                        batch.append(wanted)
                        keys.update(wanted.keys)
                if batch:
                    await self._answer(statement, str(column), batch, sorted(keys))
        except BaseException:
            # Stopped (the server shuts down): those still waiting are not left hanging.
            for wanted in self._waiting.pop(statement, []):
                wanted.answer.cancel()
            raise
        finally:
            del self._running[statement]

    async def _answer(
        self, statement: Executable, column: str, batch: list[_Wanted], keys: list[Any]
    ) -> None:
        self.statements += 1
        try:
            rows = await Reads(self.factory).rows(statement, {"keys": keys})
        except Exception as error:
            for wanted in batch:
                if not wanted.answer.done():
                    wanted.answer.set_exception(error)
            return
        except BaseException:
            for wanted in batch:
                wanted.answer.cancel()
            raise
        by_key: dict[Any, list[int]] = {}
        for index, row in enumerate(rows):
            by_key.setdefault(getattr(row, column), []).append(index)
        for wanted in batch:
            if wanted.answer.done():
                continue
            if len(wanted.keys) == 1:
                found = [rows[i] for i in by_key.get(wanted.keys[0], ())]
            else:
                indexes = sorted(i for key in set(wanted.keys) for i in by_key.get(key, ()))
                found = [rows[i] for i in indexes]
            wanted.answer.set_result(found)


def checking(context: Context, reads: SharedReads) -> Context:
    """``context`` for a subscribe's checks: loaders of its own (nothing cached from
    elsewhere), whose statements are shared with every other subscribe's."""
    scheduler = BatchScheduler()
    sessions = tracked(reads.factory, scheduler)
    loaders = Loaders(sessions, context.viewer_id, scheduler, reads=reads)
    return replace(context, sessions=sessions, loaders=loaders)
