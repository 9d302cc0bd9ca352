"""The differential tests' world, and the per-run tally of which path answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.differential.paths import TALLY, WATCHED_LOGGERS
from tests.differential.world import World, open_world


@pytest.fixture
async def world(engine: AsyncEngine) -> AsyncIterator[World]:
    async with AsyncExitStack() as clients:
        found = await open_world(engine, engine.dialect.name, clients)
        watched = [logging.getLogger(name) for name in WATCHED_LOGGERS]
        for logger in watched:
            logger.addHandler(found.complaints)
        try:
            yield found
        finally:
            await _stragglers_finish()
            for logger in watched:
                logger.removeHandler(found.complaints)
            for app in found.apps.values():
                close = getattr(app.state.budget, "close", None)
                if close is not None:
                    await close()


async def _stragglers_finish() -> None:
    """Let the tasks an answer left running end before the test's event loop does.

    graphql-core answers as soon as a non-null field's error nulls its parent, without
    waiting for that parent's other fields: their resolvers run on, and a load of theirs
    takes a pooled connection and gives it back a moment later. A server's loop lives on
    and sees that through; a test's loop closes with the test, and the connection such a
    task held was then found by the garbage collector in a later test's setup (an error
    there, under filterwarnings=error). Waiting here keeps each test's connections its own,
    and a task that never ends (`nodes` left its lookups waiting on loads the ended
    request had dropped) fails the test that left it.
    """
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if others:
        _, stuck = await asyncio.wait(others, timeout=10)
        # A task still waiting would wait for ever: its request ended long ago.
        assert not stuck, [task.get_coro() for task in stuck]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Coverage made visible: how many answers each execution path gave in this run."""
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("differential: answers by execution path")
        for line in lines:
            terminalreporter.write_line(line)
