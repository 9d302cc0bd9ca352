"""The differential tests' world, and the per-run tally of which path answered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.differential.paths import TALLY, WATCHED_LOGGERS
from tests.differential.world import World, open_world
from tests.stragglers import stragglers_finish


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
            await stragglers_finish()
            for logger in watched:
                logger.removeHandler(found.complaints)
            for app in found.apps.values():
                close = getattr(app.state.budget, "close", None)
                if close is not None:
                    await close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Coverage made visible: how many answers each execution path gave in this run."""
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("differential: answers by execution path")
        for line in lines:
            terminalreporter.write_line(line)
