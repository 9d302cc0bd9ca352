"""Loaders batch: every concurrent load lands in one call, in key order, once per wave."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory
from resolvers.batching import BatchScheduler, DeferredQueryLoader, ScheduledLoader
from resolvers.context import Context
from resolvers.ids import to_global_id
from schema.definition import schema
from tests.conftest import StatementCounter
from tests.factories import make_product, make_shop


class CountingLoader(ScheduledLoader):
    """Doubles each key; records every batch it was asked for."""

    def __init__(self, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler)
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        await asyncio.sleep(0)
        return [k * 2 for k in keys]


async def test_concurrent_loads_run_one_batch_with_every_key() -> None:
    loader = CountingLoader(BatchScheduler())
    ids = list(range(1, 51))
    results = await asyncio.gather(*(loader.load(i) for i in ids))
    assert results == [i * 2 for i in ids]
    assert len(loader.batches) == 1
    assert sorted(loader.batches[0]) == ids


async def test_loads_from_separate_tasks_share_a_batch() -> None:
    loader = CountingLoader(BatchScheduler())

    async def later(key: int, turns: int) -> int:
        # Resolvers reach their loads after a few loop turns of their own.
        for _ in range(turns):
            await asyncio.sleep(0)
        result: int = await loader.load(key)
        return result

    results = await asyncio.gather(*(later(k, k % 4) for k in range(1, 9)))
    assert results == [k * 2 for k in range(1, 9)]
    assert len(loader.batches) == 1


async def test_repeated_keys_are_fetched_once() -> None:
    loader = CountingLoader(BatchScheduler())
    results = await asyncio.gather(*(loader.load(k) for k in [3, 1, 3, 3, 1]))
    assert results == [6, 2, 6, 6, 2]
    assert len(loader.batches) == 1
    assert sorted(loader.batches[0]) == [1, 3]


async def test_two_waves_make_exactly_two_batch_calls() -> None:
    loader = CountingLoader(BatchScheduler())
    first = await asyncio.gather(*(loader.load(k) for k in (1, 2, 3)))
    # Issued only after the first batch resolved: a second wave.
    second = await asyncio.gather(*(loader.load(k) for k in (4, 5)))
    assert (first, second) == ([2, 4, 6], [8, 10])
    assert [sorted(b) for b in loader.batches] == [[1, 2, 3], [4, 5]]


async def test_loaders_sharing_a_scheduler_dispatch_in_the_same_wave() -> None:
    scheduler = BatchScheduler()
    a, b = CountingLoader(scheduler), CountingLoader(scheduler)
    dispatched: list[str] = []

    async def chain() -> None:
        await a.load(1)
        dispatched.append("a")
        await b.load(10)  # depends on a's result: the next wave
        dispatched.append("b")

    async def flat() -> None:
        await b.load(20)
        dispatched.append("b-flat")

    await asyncio.gather(chain(), flat())
    # b's first batch (key 20) ran alongside a's, not after it.
    assert a.batches == [[1]]
    assert b.batches == [[20], [10]]
    assert dispatched.index("b-flat") < dispatched.index("b")


async def test_product_loader_returns_key_order_with_none_for_missing(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop, title=f"P{i}") for i in range(5)]
    ids = [p.id for p in products]
    assert None not in ids
    ctx = Context.for_request(viewer_id=None, sessions=sessions)
    wanted: list[Any] = [ids[3], 999_999, ids[0], ids[4], 888_888, ids[1]]
    count_statements.reset()
    rows = await asyncio.gather(*(ctx.loaders.product_by_id.load(k) for k in wanted))
    assert [None if r is None else r.title for r in rows] == ["P3", None, "P0", "P4", None, "P1"]
    selects = [s for s in count_statements.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, count_statements.statements


async def test_product_loader_batches_many_loads_into_one_query(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(30)]
    ctx = Context.for_request(viewer_id=None, sessions=sessions)
    count_statements.reset()
    rows = await asyncio.gather(*(ctx.loaders.product_by_id.load(p.id) for p in products))
    assert [r.id for r in rows] == [p.id for p in products]
    selects = [s for s in count_statements.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, count_statements.statements


class Boom(Exception):
    pass


async def test_deferred_query_failure_fails_only_its_caller() -> None:
    loader = DeferredQueryLoader(BatchScheduler())
    ran: list[str] = []

    async def ok() -> str:
        ran.append("ok")
        return "fine"

    async def broken() -> str:
        ran.append("broken")
        raise Boom("this query failed")

    async def also_ok() -> int:
        ran.append("also_ok")
        return 7

    results = await asyncio.gather(
        loader.run(ok), loader.run(broken), loader.run(also_ok), return_exceptions=True
    )
    assert results[0] == "fine"
    assert isinstance(results[1], Boom)
    assert str(results[1]) == "this query failed"
    assert results[2] == 7
    assert sorted(ran) == ["also_ok", "broken", "ok"]


async def test_deferred_query_failure_reaches_the_awaiting_caller() -> None:
    loader = DeferredQueryLoader(BatchScheduler())

    async def broken() -> None:
        raise Boom("nope")

    with pytest.raises(Boom, match="nope"):
        await loader.run(broken)


async def test_deferred_queries_are_not_cached() -> None:
    loader = DeferredQueryLoader(BatchScheduler())
    calls = 0

    async def query() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await loader.run(query) == 1
    assert await loader.run(query) == 2


async def test_a_request_reads_on_one_connection_and_gives_it_back(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(3)]
    checkouts: list[object] = []
    event.listen(engine.sync_engine, "checkout", lambda *args: checkouts.append(args[0]))
    ctx = Context.for_request(viewer_id=None, sessions=sessions)
    query = "query($id: ID!) { product(id: $id) { title shop { name } } }"
    result = await schema.execute(
        query, variable_values={"id": to_global_id("Product", products[0].id)}, context_value=ctx
    )
    assert result.errors is None
    assert result.data == {"product": {"title": products[0].title, "shop": {"name": shop.name}}}
    # Two waves (product, then its shop), one checkout; back in the pool on return.
    assert len(checkouts) == 1
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_loads_outside_an_operation_give_the_connection_back_at_once(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    shop = await make_shop(sessions)
    ctx = Context.for_request(viewer_id=None, sessions=sessions)
    assert (await ctx.loaders.shop_by_id.load(shop.id)) is not None
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_an_idle_operation_gives_its_connection_back(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    # A subscription's operation lasts as long as it: between events, nothing is held.
    shop = await make_shop(sessions)
    ctx = Context.for_request(viewer_id=None, sessions=sessions)
    ctx.loaders.scheduler.keep_reads(True)
    assert (await ctx.loaders.shop_by_id.load(shop.id)) is not None
    pool = engine.sync_engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    # Released after IDLE_TURNS quiet loop turns; closing it is then a round-trip to the
    # driver's thread (aiosqlite), which a busy machine can stretch past any number of
    # turns: wait in time, bounded.
    for _ in range(500):
        if pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_reads_see_what_commits_between_waves(sessions: SessionFactory) -> None:
    shop = await make_shop(sessions)
    reads = Context.for_request(viewer_id=None, sessions=sessions).loaders.reads
    reads.keep(True)
    query = text("SELECT title FROM products WHERE shop_id = :shop")
    assert await reads.rows(query, {"shop": shop.id}) == []
    assert reads.open
    # Committed by another session while the request keeps its reads connection: no
    # snapshot from the first statement hides it (SQLite would keep one in a transaction).
    await make_product(sessions, shop=shop, title="Fresh")
    rows = await reads.rows(query, {"shop": shop.id})
    await reads.close()
    assert [r.title for r in rows] == ["Fresh"]


async def test_a_failed_read_fails_only_its_batch(sessions: SessionFactory) -> None:
    shop = await make_shop(sessions)
    reads = Context.for_request(viewer_id=None, sessions=sessions).loaders.reads
    with pytest.raises(DBAPIError):
        await reads.rows(text("SELECT no_such_column FROM shops"))
    assert not reads.open
    rows = await reads.rows(text("SELECT name FROM shops WHERE id = :id"), {"id": shop.id})
    await reads.close()
    assert [r.name for r in rows] == [shop.name]
