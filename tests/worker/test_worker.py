"""The worker's own work, in this process: it applies timeouts and serves refresh requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from app.settings import Settings
from app.worker import MIN_REFRESH_WAIT_SECONDS, refresh_wait, run_worker
from db.engine import SessionFactory
from db.models import Order, RecommendationRequest
from db.types import utcnow
from resolvers.recommendations.requests import RefreshRequests, forget_request
from tests.conftest import TEST_SECRET
from tests.factories import make_order, make_product, make_shop, make_tag, make_user
from tests.recommendations.helpers import eventually, live, make_world, pk, rows_of


def _settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "jwt_secret": TEST_SECRET,
        "database_url": database_url,
        "sweep_interval_seconds": 0.1,
        "worker_poll_seconds": 0.1,
        "recommendation_debounce_seconds": 0.05,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _status(sessions: SessionFactory, order: Order) -> str:
    async with sessions() as session:
        row = await session.get(Order, order.id, populate_existing=True)
        assert row is not None
        return row.status


async def _requests(sessions: SessionFactory) -> list[int]:
    async with sessions() as session:
        statement = select(col(RecommendationRequest.user_id))
        return list((await session.execute(statement)).scalars().all())


async def test_the_worker_cancels_unpaid_orders_past_the_timeout(
    database_url: str, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    overdue = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    fresh = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], placed_at=utcnow()
    )

    async def cancelled() -> bool:
        return await _status(sessions, overdue) == "CANCELLED"

    async with running_worker(_settings(database_url)):
        await eventually(cancelled)
    assert await _status(sessions, fresh) == "UNPAID"


async def test_the_worker_refreshes_the_buyers_who_asked(
    database_url: str, sessions: SessionFactory
) -> None:
    world = await make_world(sessions)
    await make_tag(sessions, user=world.newcomer, product=world.books[0])
    # What an API process in worker mode does after the newcomer's tag commits.
    await RefreshRequests(sessions).record(pk(world.newcomer))
    assert await _requests(sessions) == [pk(world.newcomer)]

    async def personal() -> bool:
        rows = live(await rows_of(sessions, world.newcomer))
        return any(r.reason == "SIMILAR_TO_TAGGED" for r in rows)

    async def served() -> bool:
        return await _requests(sessions) == []

    async with running_worker(_settings(database_url)):
        await eventually(personal, 30)
        await eventually(served)
    # Nobody else asked, so nobody else was computed.
    assert await rows_of(sessions, world.buyer) == []


async def test_a_request_made_while_one_is_served_is_kept(sessions: SessionFactory) -> None:
    user = await make_user(sessions)
    requests = RefreshRequests(sessions, clock=lambda: moment)
    moment = utcnow()
    await requests.record(pk(user))
    moment += timedelta(seconds=1)
    await requests.record(pk(user))  # acted again while the worker was computing
    await forget_request(sessions, pk(user), moment - timedelta(seconds=1))
    assert await _requests(sessions) == [pk(user)]
    await forget_request(sessions, pk(user), moment)
    assert await _requests(sessions) == []


def test_the_refresh_loop_wakes_when_the_next_request_comes_due() -> None:
    now = utcnow()
    debounce = timedelta(seconds=1)
    # Nobody waits: look again a poll later.
    assert refresh_wait(None, now, debounce, 1.0) == 1.0
    # Made 0.3 s ago: due in 0.7 s, not a whole poll later.
    assert refresh_wait(now - timedelta(seconds=0.3), now, debounce, 1.0) == 0.7
    # Already due (a backlog beyond one batch): a short nap, then the next batch.
    assert refresh_wait(now - timedelta(seconds=5), now, debounce, 1.0) == MIN_REFRESH_WAIT_SECONDS
    # Due later than a poll: new requests are still looked for every poll.
    assert refresh_wait(now, now, timedelta(seconds=3), 1.0) == 1.0
