"""Freshness of recommendations: seconds from a buyer's write to their updated list.

    python -m bench.recommendation_freshness [--users 1000] [--writes 40] [--interval 0.5]
        [--rebuild child|thread ...]

Seeds a temporary SQLite file (``--users`` buyers, 50 orders each: 50,000 orders at
the default), then runs what worker mode runs: the API side records each buyer's
action in ``recommendation_requests`` (``RefreshRequests``, as after a mutation's
commit), and the worker's loops, in this process, refresh due buyers incrementally
(``refresh_requested_forever``: debounce 1 s, poll 1 s, the defaults; it wakes when a
request it has seen comes due) and rebuild the
whole model on a schedule (``rebuild_model_forever``, every ``--rebuild-every``
seconds; the first starts with the writes, so it overlaps them). ``--writes`` real
use-case calls (a view, a tag or an order of a random buyer, every ``--interval``
seconds) are each timed from their commit until the buyer's rows in
``recommendations`` are rewritten (one watcher polls every waiting buyer at once, so
the measuring costs the worker's loop little). Prints p50, p95 and max and the load
average; the target is p95 under 5 s. Bounded: the writes take writes x interval
seconds, each wait at most 30 s.

``--rebuild`` says where the full rebuild runs: ``child`` (the worker's way: a process
of its own at a lower priority, ``resolvers/recommendations/rebuild.py``) or ``thread``
(the previous way: read on the worker's event loop, built in a thread of the worker).
Given several, the rounds run one after another on the same seeded database, each with
its own buyers, so the two are compared at the same moment's load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from app.worker import rebuild_model_forever, refresh_requested_forever
from db.engine import SessionFactory, create_engine, create_session_factory
from db.migrate import upgrade_async
from db.models import PaymentMethod, Product, Recommendation
from db.seed import SeedSize, seed_database
from resolvers.context import Context
from resolvers.mutations.placing import AddressInput, LineInput, place_order
from resolvers.mutations.shopper import record_product_view, tag_product
from resolvers.recommendations.refresher import RecommendationRefresher
from resolvers.recommendations.requests import RefreshRequests

TARGET_P95_SECONDS = 5.0
WAIT_LIMIT_SECONDS = 30.0
ADDRESS = AddressInput(
    name="Bench Buyer", line1="1 Main St", city="Springfield", postal_code="12345",
    country_code="US",
)  # fmt: skip


async def _latest_list(sessions: SessionFactory, user_id: int) -> datetime | None:
    async with sessions() as session:
        statement = select(func.max(col(Recommendation.created_at))).where(
            col(Recommendation.user_id) == user_id
        )
        value: datetime | None = (await session.execute(statement)).scalar()
        return value


async def _write(
    ctx: Context, sessions: SessionFactory, rng: random.Random, user_id: int, products: list[int]
) -> str:
    """One buyer action through its real use-case; which kind it was."""
    product = rng.choice(products)
    kind = rng.choice(("view", "tag", "order"))
    if kind == "view":
        await record_product_view(ctx, viewer_id=user_id, product_id=product)
    elif kind == "tag":
        await tag_product(ctx, viewer_id=user_id, product_id=product, source_video_id=None)
    else:
        async with sessions() as session:
            card = (
                await session.execute(
                    select(col(PaymentMethod.id)).where(
                        col(PaymentMethod.user_id) == user_id, col(PaymentMethod.is_default)
                    )
                )
            ).scalar()
        await place_order(
            ctx,
            viewer_id=user_id,
            lines=[LineInput(product_id=product, quantity=1)],
            address=ADDRESS,
            payment_method_id=card,
            idempotency_key=f"bench-{rng.getrandbits(64):016x}",
        )
    return kind


async def _watch(
    sessions: SessionFactory,
    waiting: dict[int, tuple[datetime | None, float]],
    seconds: dict[int, float | None],
    written: asyncio.Event,
) -> None:
    """Every waiting buyer polled in one query, until the writes are done and each
    buyer's list updated (or given up on)."""
    while not (written.is_set() and not waiting):
        now = time.monotonic()
        for user_id, (_, started) in list(waiting.items()):
            if now - started > WAIT_LIMIT_SECONDS:
                seconds[user_id] = None
                del waiting[user_id]
        if waiting:
            async with sessions() as session:
                statement = (
                    select(col(Recommendation.user_id), func.max(col(Recommendation.created_at)))
                    .where(col(Recommendation.user_id).in_(list(waiting)))
                    .group_by(col(Recommendation.user_id))
                )
                rows = (await session.execute(statement)).all()
            now = time.monotonic()
            for user_id, latest in rows:
                before, started = waiting.get(user_id, (None, 0.0))
                if (
                    user_id in waiting
                    and latest is not None
                    and (before is None or latest > before)
                ):
                    seconds[user_id] = now - started
                    del waiting[user_id]
        await asyncio.sleep(0.05)


async def _round(
    sessions: SessionFactory,
    database_url: str,
    args: argparse.Namespace,
    mode: str,
    buyers: list[int],
    products: list[int],
    rng: random.Random,
) -> None:
    refresher = RecommendationRefresher(
        sessions,
        model_max_age_seconds=args.rebuild_every,
        scheduled_rebuilds=True,
        rebuild_database_url=database_url if mode == "child" else None,
    )
    requests = RefreshRequests(sessions)
    tasks: list[asyncio.Task[None]] = []
    seconds: dict[int, float | None] = {}
    kinds: list[str] = []
    load_before = os.getloadavg()[0]
    try:
        started = time.perf_counter()
        await refresher.rebuild()
        print(f"  [{mode}] first full rebuild: {time.perf_counter() - started:.1f} s", flush=True)
        tasks = [
            asyncio.create_task(refresh_requested_forever(sessions, refresher, 1.0)),
            asyncio.create_task(rebuild_model_forever(refresher, args.rebuild_every)),
        ]
        waiting: dict[int, tuple[datetime | None, float]] = {}
        written = asyncio.Event()
        watcher = asyncio.create_task(_watch(sessions, waiting, seconds, written))
        try:
            for user_id in buyers:
                before = await _latest_list(sessions, user_id)
                ctx = Context.for_request(viewer_id=user_id, sessions=sessions, refresher=requests)
                kinds.append(await _write(ctx, sessions, rng, user_id, products))
                waiting[user_id] = (before, time.monotonic())
                await asyncio.sleep(args.interval)
            written.set()
            await watcher
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await requests.close()
        await refresher.close()
    done = sorted(s for s in seconds.values() if s is not None)
    missing = len(buyers) - len(done)
    p95 = done[max(0, round(0.95 * len(done)) - 1)] if done else float("inf")
    load = f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    print(
        f"  [{mode}] {len(buyers)} writes ({kinds.count('view')} views, {kinds.count('tag')} "
        f"tags, {kinds.count('order')} orders), {missing} not updated within "
        f"{WAIT_LIMIT_SECONDS:.0f} s; {load}"
    )
    if done:
        print(
            f"  [{mode}] write -> updated list: p50 {statistics.median(done):.2f} s, "
            f"p95 {p95:.2f} s, max {done[-1]:.2f} s "
            f"(target p95 <= {TARGET_P95_SECONDS:.0f} s: "
            f"{'met' if p95 <= TARGET_P95_SECONDS and not missing else 'NOT met'})",
            flush=True,
        )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recommendation_freshness")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--rebuild-every", type=float, default=60.0)
    parser.add_argument(
        "--rebuild", choices=("child", "thread"), nargs="+", default=["child"],
        help="where the full rebuild runs, one round each, in this order",
    )  # fmt: skip
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m bench.recommendation_freshness", *given])
    print(f"recommendation freshness | {command}", flush=True)
    with tempfile.TemporaryDirectory(prefix="oc-bench-recs-") as folder:
        database_url = f"sqlite:///{Path(folder) / 'recs.db'}"
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            await upgrade_async(engine)
            started = time.perf_counter()
            report = await seed_database(engine, size=SeedSize(users=args.users), rng_seed=7)
            print(
                f"  seeded {report.users} users, {report.orders} orders "
                f"in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            async with sessions() as session:
                products = list(
                    (
                        await session.execute(
                            select(col(Product.id)).where(
                                col(Product.stock) > 10, col(Product.on_sale)
                            )
                        )
                    ).scalars()
                )
            rng = random.Random(7)
            # Buyers 3.. (1 is the demo buyer, 2 the operator); each at most once over
            # all rounds, so one write's update is not another's.
            wanted = min(args.writes * len(args.rebuild), args.users - 2)
            everyone = rng.sample(range(3, args.users + 1), wanted)
            per_round = wanted // len(args.rebuild)
            for i, mode in enumerate(args.rebuild):
                buyers = everyone[i * per_round : (i + 1) * per_round]
                await _round(sessions, database_url, args, mode, buyers, products, rng)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
