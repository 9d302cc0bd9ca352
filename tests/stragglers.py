"""Waiting, at the end of a test, for the tasks an in-process answer left running."""

from __future__ import annotations

import asyncio


async def stragglers_finish() -> None:
    """Let the tasks an answer left running end before the test's event loop does.

    graphql-core answers as soon as a non-null field's error nulls its parent, without
    waiting for that parent's other fields: their resolvers run on, and a load of theirs
    takes a pooled connection and gives it back a moment later. A server's loop lives on
    and sees that through; a test's loop closes with the test, and the connection such a
    task held was then found by the garbage collector in a later test's setup (an error
    there, under filterwarnings=error), or aiosqlite's thread finished its statement for a
    loop already closed ("Event loop is closed" in that thread, reported at the next
    test's setup). Waiting here keeps each test's connections its own, and a task that
    never ends (`nodes` left its lookups waiting on loads the ended request had dropped)
    fails the test that left it.
    """
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if others:
        _, stuck = await asyncio.wait(others, timeout=10)
        # A task still waiting would wait for ever: its request ended long ago.
        assert not stuck, [task.get_coro() for task in stuck]
