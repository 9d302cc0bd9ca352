"""The reads a subscribe makes before it registers (resolvers/subscriptions/checks.py):
shared by every subscribe in flight, a pooled connection held for a statement only,
and SERVER_BUSY, with nothing registered, when no connection comes free in time.

First ``SharedReads`` by hand, then subscribes over real WebSockets to a real uvicorn
serving the app on a pool of one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.event import listen, remove
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import col

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory, create_session_factory, normalize_url
from db.models import OrderEvent, User
from domain.order_status import OrderStatus
from resolvers.batching import Reads
from resolvers.ids import to_global_id
from resolvers.loaders import _RATINGS, _statement
from resolvers.subscriptions.checks import SharedReads, keyed_column
from resolvers.subscriptions.cursors import event_cursor
from resolvers.subscriptions.hub import SubscriptionHub
from tests.conftest import StatementCounter, token_for
from tests.contracts.test_uvicorn import serving
from tests.factories import make_user
from tests.subscriptions.asgi_ws import AsgiSocket, add_events, running_app, until, until_subscribed
from tests.subscriptions.test_direct_lane import SMALL, buyer_with_order, event
from tests.subscriptions.wsclient import OperationFailed, WsClient

BY_ID = _statement(User, "id", ())


async def users(sessions: SessionFactory, count: int) -> list[int]:
    made = [await make_user(sessions) for _ in range(count)]
    return [user.id for user in made if user.id is not None]


def ids(rows: list[Any]) -> list[int]:
    return [row.id for row in rows]


async def test_the_reads_of_subscribes_in_flight_at_once_are_one_statement(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    a, b, c, d = await users(sessions, 4)
    shared = SharedReads(sessions)
    count_statements.reset()
    answers = await asyncio.gather(
        shared.rows(BY_ID, {"keys": [a]}),
        shared.rows(BY_ID, {"keys": [d, b]}),
        shared.rows(BY_ID, {"keys": [c, 999_999]}),  # one key names nobody
        shared.rows(BY_ID, {"keys": [a]}),  # the same key twice
    )
    assert [ids(rows) for rows in answers] == [[a], [b, d], [c], [a]]
    assert count_statements.count == 1
    assert shared.statements == 1
    assert not shared.open  # nothing kept once the statement is done


async def test_those_asking_while_a_statement_runs_are_the_next_one(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    first, *rest = await users(sessions, 5)
    shared = SharedReads(sessions)
    count_statements.reset()
    running = asyncio.create_task(shared.rows(BY_ID, {"keys": [first]}))
    await until(lambda: shared.statements == 1, "the first statement to start")
    later = await asyncio.gather(*(shared.rows(BY_ID, {"keys": [key]}) for key in rest))
    assert ids(await running) == [first]
    assert [ids(rows) for rows in later] == [[key] for key in rest]
    # Four subscribes alone would have been four more.
    assert count_statements.count == shared.statements <= 2


async def test_a_statement_with_more_than_keys_runs_on_its_own(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    (a,) = await users(sessions, 1)
    shared = SharedReads(sessions)
    by_handle = select(User).where(col(User.id) == a)
    count_statements.reset()
    answers = await asyncio.gather(shared.rows(by_handle, {}), shared.rows(by_handle, {}))
    assert [ids(rows) for rows in answers] == [[a], [a]]
    assert count_statements.count == 2


def test_only_rows_of_their_keys_are_put_together() -> None:
    assert keyed_column(BY_ID) == "id"
    assert keyed_column(_statement(OrderEvent, "order_id", ("id",))) == "order_id"
    # Grouped (one sum per key is not the rows of each key put together), limited, or
    # keyed on a column its rows do not carry: never shared.
    assert keyed_column(_RATINGS) is None
    assert keyed_column(BY_ID.limit(1)) is None
    assert keyed_column(select(func.count()).select_from(User).where(BY_ID.whereclause)) is None


async def test_a_failed_statement_fails_its_callers_only(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await users(sessions, 2)
    shared = SharedReads(sessions)
    real = Reads.rows

    async def failing(self: Reads, statement: Any, params: Any = None) -> list[Any]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Reads, "rows", failing)
    answers = await asyncio.gather(
        shared.rows(BY_ID, {"keys": [a]}),
        shared.rows(BY_ID, {"keys": [b]}),
        return_exceptions=True,
    )
    assert [str(answer) for answer in answers] == ["the database went away"] * 2
    monkeypatch.setattr(Reads, "rows", real)
    assert ids(await shared.rows(BY_ID, {"keys": [b]})) == [b]


async def test_a_cancelled_subscribe_leaves_the_others_answered(sessions: SessionFactory) -> None:
    a, b = await users(sessions, 2)
    shared = SharedReads(sessions)
    gone = asyncio.create_task(shared.rows(BY_ID, {"keys": [a]}))
    stays = asyncio.create_task(shared.rows(BY_ID, {"keys": [b]}))
    await asyncio.sleep(0)  # both are waiting for the statement
    gone.cancel()
    assert ids(await stays) == [b]
    with pytest.raises(asyncio.CancelledError):
        await gone


# ----------------------------------------------------------------- over a real server


def one_connection(database_url: str, *, timeout: float = 30.0) -> AsyncEngine:
    """A pool of exactly one connection (SQLite keeps 4, PostgreSQL 10 by default)."""
    return create_async_engine(
        normalize_url(database_url), pool_size=1, max_overflow=0, pool_timeout=timeout
    )


@contextlib.asynccontextmanager
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[Any, str]]:
    """The app on a real uvicorn on loopback (its lifespan: the hub, the bus); its http URL."""
    app = create_app(settings, engine=engine)
    async with serving(app) as url:
        yield app, url.replace("ws://", "http://").rstrip("/")


async def test_a_subscribe_with_no_connection_free_in_time_is_server_busy_and_not_registered(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory, database_url: str
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert buyer.id is not None
    small = one_connection(database_url, timeout=0.5)
    try:
        async with served(settings, small) as (app, url):
            client = await WsClient.open(url, token_for(buyer.id))
            try:
                async with small.connect() as held:
                    await held.exec_driver_sql("SELECT 1")  # the pool's one connection, taken
                    await client.subscribe("1")
                    with pytest.raises(OperationFailed) as failed:
                        await client.next_event("1")
                    (error,) = failed.value.errors
                    assert error["extensions"]["code"] == "SERVER_BUSY", error
                    assert "subscribe again" in error["message"]
                    assert await client.recv() == {"id": "1", "type": "complete"}
                    assert app.state.hub.subscriber_count == 0  # nothing half-registered
                # The connection is free again: the same subscribe now works.
                await client.subscribe("2", order_id=to_global_id("Order", order.id or 0))
                await until_subscribed(app.state.hub, 1)
                await add_events(
                    app, create_session_factory(small), event(order, OrderStatus.IN_TRANSIT, 3)
                )
                assert (await client.next_event("2"))["toStatus"] == "IN_TRANSIT"
            finally:
                await client.close()
            await until(lambda: app.state.hub.subscriber_count == 0, "the subscriber to go")
    finally:
        await small.dispose()


async def test_many_subscribes_at_once_on_one_connection_all_subscribe_sharing_reads(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory, database_url: str
) -> None:
    buyers = await users(sessions, 8)
    per_buyer = 5
    small = one_connection(database_url)
    counter = StatementCounter()
    try:
        async with served(settings, small) as (app, url):
            clients = await asyncio.gather(
                *(WsClient.open(url, token_for(b)) for b in buyers for _ in range(per_buyer))
            )
            try:
                listen(small.sync_engine, "before_cursor_execute", counter)
                await asyncio.gather(*(client.subscribe("1") for client in clients))
                await until_subscribed(app.state.hub, len(clients))
                remove(small.sync_engine, "before_cursor_execute", counter)
                reads_of_users = [s for s in counter.statements if "FROM users" in s]
                # One each would be 40; they share statements instead.
                assert 1 <= len(reads_of_users) <= len(clients) // 4, reads_of_users
            finally:
                await asyncio.gather(*(client.close() for client in clients))
    finally:
        await small.dispose()


async def test_a_replay_with_no_connection_free_in_time_ends_server_busy_saying_where_to_resume(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert buyer.id is not None

    async def no_connection(*_: Any) -> list[Any]:
        raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached")

    monkeypatch.setattr(SubscriptionHub, "_replay_page", no_connection)
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            await socket.subscribe(
                "1", SMALL, {"id": to_global_id("Order", order.id or 0), "after": "0"}
            )
            ended = json.loads(await socket.recv())
            (error,) = ended["payload"]["errors"]
            assert error["extensions"]["code"] == "SERVER_BUSY", error
            # Nothing was replayed yet: resume from where it asked to.
            assert f'Resume with after: "{event_cursor(0)}"' in error["message"]
            assert json.loads(await socket.recv()) == {"id": "1", "type": "complete"}
            await until_subscribed(app.state.hub, 0)
        finally:
            await socket.close()
