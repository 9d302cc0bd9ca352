"""Watching the statements an engine runs, on both of its roads.

Most statements go through SQLAlchemy, whose cursor events see them. An SQL plan's one
statement may go to asyncpg directly (resolvers.batching.Reads.text_rows), where no
event fires. A watcher registered here is called on both roads, so a watcher (tracing's
spans) does not turn the direct road off. Any other cursor listener still does
(internals.reads_by_driver): the direct road would pass it by unseen.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

import internals

# Called when a statement ends, with the error it ended with (None: it succeeded).
Finish = Callable[[BaseException | None], None]
# Called as a statement starts, with its text (placeholders, never values): how to
# finish watching it, or None when this one is not watched.
Watcher = Callable[[str], Finish | None]

_watchers: weakref.WeakKeyDictionary[Engine, list[Watcher]] = weakref.WeakKeyDictionary()
_FINISHES = "_ordercenter_statement_finishes"


def watch(engine: AsyncEngine, watcher: Watcher) -> None:
    """Call ``watcher`` for every statement ``engine`` runs, on either road."""
    sync_engine = engine.sync_engine
    _watchers.setdefault(sync_engine, []).append(watcher)

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        finish = watcher(statement)
        if finish is not None and context is not None:
            finishes = getattr(context, _FINISHES, None)
            if finishes is None:
                finishes = {}
                setattr(context, _FINISHES, finishes)
            finishes[id(watcher)] = finish
        return statement, params

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        _finish(context, None)

    def failed(exception_context: Any) -> None:
        _finish(exception_context.execution_context, exception_context.original_exception)

    def _finish(context: Any, error: BaseException | None) -> None:
        finish = (getattr(context, _FINISHES, None) or {}).pop(id(watcher), None)
        if finish is not None:
            finish(error)

    # retval=True: SQLAlchemy keeps the function itself (not a wrapper), so the mark
    # that says "this listener sees the direct road too" stays on what it dispatches.
    event.listen(
        sync_engine, "before_cursor_execute", internals.sees_driver_reads(before), retval=True
    )
    event.listen(sync_engine, "after_cursor_execute", internals.sees_driver_reads(after))
    event.listen(sync_engine, "handle_error", failed)


@contextmanager
def watched(engine: AsyncEngine, statement: str) -> Iterator[None]:
    """A statement run on the direct road, shown to ``engine``'s watchers."""
    watchers = _watchers.get(engine.sync_engine)
    if not watchers:
        yield
        return
    finishes = [f for f in (w(statement) for w in watchers) if f is not None]
    try:
        yield
    except BaseException as error:
        for finish in finishes:
            finish(error)
        raise
    for finish in finishes:
        finish(None)
