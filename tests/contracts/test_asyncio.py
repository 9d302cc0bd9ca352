"""asyncio's private part that internals/ relies on: the ``_asyncio_future_blocking``
flag by which a Task recognises the future a coroutine it steps is waiting for, used
when a coroutine is stepped by hand (``await_by_hand``, ``resume``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from internals import await_by_hand, resume
from tests.contracts.pins import upgraded

ASYNCIO = upgraded("python")


async def _waits_for(future: asyncio.Future[str]) -> str:
    return "got " + await future


async def test_a_coroutine_stepped_by_hand_yields_its_future_flagged() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    coroutine = _waits_for(future)
    yielded: Any = coroutine.send(None)
    assert yielded is future, ASYNCIO
    assert yielded._asyncio_future_blocking is True, ASYNCIO
    await_by_hand(yielded)
    assert future._asyncio_future_blocking is False, ASYNCIO
    future.set_result("it")
    with pytest.raises(StopIteration) as stopped:
        coroutine.send(None)
    assert stopped.value.value == "got it"


async def test_a_task_finishes_a_coroutine_stepped_by_hand() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    results: list[str] = []

    async def records() -> None:
        results.append(await _waits_for(future))

    coroutine = records()
    held = coroutine.send(None)
    task = asyncio.ensure_future(resume(coroutine, held))
    await asyncio.sleep(0)
    assert not task.done(), ASYNCIO  # the Task waits on the held future
    future.set_result("late")
    await asyncio.wait_for(task, 1)
    assert results == ["got late"], ASYNCIO


async def test_cancelling_the_task_reaches_the_coroutine_stepped_by_hand() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    coroutine = _waits_for(future)
    task = asyncio.ensure_future(resume(coroutine, coroutine.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert future.cancelled(), ASYNCIO
