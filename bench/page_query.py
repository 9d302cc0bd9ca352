"""In-process cost of the Order Center page query: SQL statements and time per request.

Seeds a database (SQLite always; PostgreSQL when ORDERCENTER_BENCH_DATABASE_URL or
ORDERCENTER_TEST_DATABASE_URL is set), picks the buyer with the most orders, and runs
the page query for 20 and 50 orders through the real schema and loaders (no HTTP),
100 times each after a warm-up. Prints statements per request and median/p90 time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import event, func, select

from bench.databases import admin, configured_postgres, throwaway_postgres, throwaway_sqlite
from bench.queries import ORDER_CENTER_PAGE
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade
from db.models import Order
from db.seed import SeedSize, seed_database
from resolvers.context import Context
from schema.definition import schema

RUNS = 100
WARMUP = 10
SIZE = SeedSize(users=30, orders_per_user=80)


# Kept for modules that still import it from here (bench.subscriptions).
_admin = admin


async def measure(url: str) -> list[tuple[int, int, float, float]]:
    engine = create_engine(url)
    await seed_database(engine, size=SIZE, rng_seed=7)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        statement = (
            select(Order.user_id, func.count())
            .group_by(Order.user_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        user_id, order_count = (await session.execute(statement)).one()
    if order_count < 50:
        raise SystemExit(f"the busiest buyer has only {order_count} orders")
    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):
            statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    rows = []
    for shown in (20, 50):
        timings: list[float] = []
        per_request: set[int] = set()
        for run in range(WARMUP + RUNS):
            statements.clear()
            context = Context.for_request(viewer_id=user_id, sessions=sessions)
            started = time.perf_counter()
            result = await schema.execute(
                ORDER_CENTER_PAGE, variable_values={"first": shown}, context_value=context
            )
            elapsed = time.perf_counter() - started
            if result.errors:
                raise SystemExit(f"query failed: {result.errors}")
            if run >= WARMUP:
                timings.append(elapsed * 1000)
                per_request.add(len(statements))
        if len(per_request) != 1:
            raise SystemExit(f"statement count varied between runs: {sorted(per_request)}")
        timings.sort()
        rows.append(
            (shown, per_request.pop(), statistics.median(timings), timings[int(RUNS * 0.9)])
        )
    await engine.dispose()
    return rows


async def main() -> None:
    results: dict[str, list[tuple[int, int, float, float]]] = {}
    async with throwaway_sqlite() as url:
        await asyncio.to_thread(upgrade, url)
        results["SQLite"] = await measure(url)
    pg_url = configured_postgres()
    if pg_url:
        async with throwaway_postgres(pg_url) as url:
            await asyncio.to_thread(upgrade, url)
            results["PostgreSQL"] = await measure(url)
    print(f"Order Center page query, in-process, {RUNS} runs after {WARMUP} warm-up")
    print(f"{'database':<11} {'orders':>6} {'statements':>10} {'median ms':>10} {'p90 ms':>8}")
    for database, rows in results.items():
        for shown, statements, median, p90 in rows:
            print(f"{database:<11} {shown:>6} {statements:>10} {median:>10.1f} {p90:>8.1f}")
    if not pg_url:
        print("(PostgreSQL skipped: set ORDERCENTER_BENCH_DATABASE_URL to include it)")


if __name__ == "__main__":
    asyncio.run(main())
