"""How a plan runs a field's resolver coroutines side by side (schema.plans._together)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from schema.plans import _together


async def test_results_come_back_in_order_whatever_each_coroutine_awaits() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    started: list[int] = []

    async def resolver(index: int) -> int:
        started.append(index)
        first = await futures[index]
        await asyncio.sleep(0)  # a bare yield between two futures
        second: int = await futures[(index + 1) % 3]
        return first * 10 + second

    running = asyncio.ensure_future(_together([resolver(i) for i in range(3)]))
    await asyncio.sleep(0)
    # Every coroutine reached its first await before any result was there: the loads
    # behind them can go out in one batch.
    assert started == [0, 1, 2]
    for index in (2, 0, 1):
        futures[index].set_result(index + 1)
    assert await running == [12, 23, 31]


async def test_a_failure_fails_the_whole_field_and_closes_the_others() -> None:
    loop = asyncio.get_running_loop()
    never = loop.create_future()
    finished: list[str] = []

    async def waits() -> None:
        try:
            await never
        finally:
            finished.append("closed")

    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("no such row")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail
        with pytest.raises(LookupError):
            await asyncio.wait_for(_together([waits(), fails(), waits()]), timeout=5)
        gc.collect()
    assert finished == ["closed", "closed"]


async def test_cancelling_the_field_closes_its_coroutines() -> None:
    never = asyncio.get_running_loop().create_future()
    finished: list[str] = []

    async def waits() -> None:
        try:
            await never
        finally:
            finished.append("closed")

    running = asyncio.ensure_future(_together([waits(), waits()]))
    await asyncio.sleep(0)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert finished == ["closed", "closed"]


async def test_coroutines_that_never_suspend_cost_no_loop_turn() -> None:
    async def at_once(value: int) -> int:
        return value

    assert await _together([at_once(1), at_once(2)]) == [1, 2]
    assert await _together([]) == []
