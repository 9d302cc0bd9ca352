"""orderStatusChanged end to end: real `ordercenter serve` processes, a real WebSocket client.

Each module-scoped server is shared by several tests; every test makes its own users
(``make_world``), so tests never see each other's events. Every wait is bounded and
nothing asserts on timing: completeness is checked against the ``order_events`` table
(the source of truth), and "nothing more" with a sentinel event that must come next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
import websockets

from app.auth import issue_token
from resolvers.errors import SIGN_IN
from resolvers.ids import to_global_id
from resolvers.mutations.unit_of_work import EVENTS_CHANNEL
from resolvers.subscriptions.cursors import event_cursor
from tests.server.serving import (
    ORDERCENTER,
    ServerProcess,
    free_port,
    fresh_postgres_database,
    running_server,
)
from tests.subscriptions.wsclient import (
    LEGACY_WS,
    TRANSPORT_WS,
    WAIT,
    Api,
    Buyer,
    OperationCompleted,
    OperationFailed,
    WsClient,
    cursors,
    event_id,
    event_ids,
    last_event_id,
    make_world,
    token_for,
)

pytestmark = pytest.mark.server

PG_URL_VAR = "ORDERCENTER_TEST_DATABASE_URL"
REDIS_URL_VAR = "ORDERCENTER_TEST_REDIS_URL"
SHUTDOWN_TIMEOUT = 15.0


def db_url(server: ServerProcess) -> str:
    return server.env["ORDERCENTER_DATABASE_URL"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@contextlib.asynccontextmanager
async def opened(
    url: str, token: str, *, protocol: str = TRANSPORT_WS, key: str = "Authorization"
) -> AsyncIterator[WsClient]:
    client = await WsClient.open(url, token, protocol=protocol, key=key)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def read_until(client: WsClient, op_id: str, last: int) -> list[dict[str, Any]]:
    """Events of ``op_id`` up to and including cursor ``last`` (which must come)."""
    events: list[dict[str, Any]] = []
    while not events or event_id(events[-1]["cursor"]) < last:
        events.append(await client.next_event(op_id))
    return events


async def expect_next(
    client: WsClient, op_id: str, api: Api, buyer: Buyer, database_url: str
) -> dict[str, Any]:
    """Place a sentinel order; the very next event must be its event: nothing else was
    pending (no duplicate, no stray event of someone else)."""
    await api.place(buyer)
    sentinel = await last_event_id(database_url, buyer.user_id)
    event = await client.next_event(op_id)
    assert event_id(event["cursor"]) == sentinel, event
    return event


async def until_live(
    client: WsClient, op_id: str, api: Api, buyer: Buyer, database_url: str
) -> int:
    """For a subscription without ``after``: place probe orders until one is delivered,
    then read up to the buyer's newest event. Returns that cursor: from here on,
    every event of the buyer is delivered."""
    for _ in range(5):
        await api.place(buyer)
        try:
            first = await client.next_event(op_id, wait=3)
        except TimeoutError:
            continue  # subscribed after the probe committed: not delivered, as it should be
        newest = await last_event_id(database_url, buyer.user_id)
        if event_id(first["cursor"]) < newest:
            await read_until(client, op_id, newest)
        return newest
    raise AssertionError("the subscription never went live")


# --------------------------------------------------------------------------- one server


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(users=4, orders_per_user=3) as process:
        yield process


async def test_live_event_with_current_order_and_only_the_viewers_orders(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    world = await make_world(database, buyers=2)
    me, other = world.buyers
    api = Api(http, server.url)
    order_id = await api.place(me)
    async with opened(server.url, me.token) as client:
        await client.subscribe("1")  # no `after`: live only
        await until_live(client, "1", api, me, database)

        await api.place(other)  # someone else's order: never delivered to me
        await api.cancel(other.token, await api.place(other))
        await api.cancel(me.token, order_id)
        event = await client.next_event("1")
        # The next event is mine (the other buyer's came first and were not delivered),
        # and its cursor is the id of the event's row.
        assert event_id(event["cursor"]) == await last_event_id(database, me.user_id)
        assert event["fromStatus"] == "UNPAID"
        assert event["toStatus"] == "CANCELLED"
        assert event["orderVersion"] == 2
        assert event["order"] == {"id": order_id, "status": "CANCELLED"}

        paid_order = await api.place(me)
        placed = await client.next_event("1")
        assert placed["fromStatus"] is None
        assert placed["toStatus"] == "UNPAID"
        assert placed["orderVersion"] == 1
        assert placed["order"]["id"] == paid_order
        await api.pay(me, paid_order)
        paid = await client.next_event("1")
        assert (paid["fromStatus"], paid["toStatus"], paid["orderVersion"]) == (
            "UNPAID",
            "AWAITING_SHIPMENT",
            2,
        )
        assert paid["order"] == {"id": paid_order, "status": "AWAITING_SHIPMENT"}
        assert event_id(placed["cursor"]) < event_id(paid["cursor"])
        await expect_next(client, "1", api, me, database)


async def test_replay_after_a_cursor_then_live_with_no_gap_and_no_duplicate(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api = Api(http, server.url)
    first = await api.place(buyer)
    await api.place(buyer)
    await api.cancel(buyer.token, first)
    history = await event_ids(database, buyer.user_id)
    assert len(history) == 3
    after = history[0]  # replay: the second order placed, the first cancelled

    async def keep_writing() -> None:
        for _ in range(6):
            await api.cancel(buyer.token, await api.place(buyer))

    async with opened(server.url, buyer.token) as client:
        writer = asyncio.create_task(keep_writing())  # racing the subscription's seam
        try:
            await client.subscribe("1", after=after)
            replayed = await client.events("1", 2)
        finally:
            await asyncio.wait_for(writer, WAIT * 2)
        expected = await event_ids(database, buyer.user_id, after)
        assert len(expected) == 2 + 12
        received = replayed + await read_until(client, "1", expected[-1])
        assert cursors(received) == expected  # in id order, each once, none skipped
        # Replayed events show the order as it is now, not as it was then.
        assert received[0]["toStatus"] == "UNPAID"
        assert received[1]["order"] == {"id": first, "status": "CANCELLED"}
        await expect_next(client, "1", api, buyer, database)


async def test_killed_client_resumes_from_its_last_cursor_missing_nothing(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api = Api(http, server.url)
    await api.place(buyer)
    start = await last_event_id(database, buyer.user_id)
    resumed = asyncio.Event()

    async def keep_writing() -> None:
        for i in range(16):
            await api.cancel(buyer.token, await api.place(buyer))
            if i == 3:  # more changes while the client is gone
                await asyncio.wait_for(resumed.wait(), WAIT)

    writer = asyncio.create_task(keep_writing())
    try:
        client = await WsClient.open(server.url, buyer.token)
        await client.subscribe("1", after=start)
        before = await client.events("1", 3)
        client.abort()  # no close frame: the process died
        for _ in range(3):  # and the changes go on meanwhile
            await api.place(buyer)
        async with opened(server.url, buyer.token) as again:
            await again.subscribe("1", after=before[-1]["cursor"])
            resumed.set()
            await asyncio.wait_for(writer, WAIT * 2)
            expected = await event_ids(database, buyer.user_id, start)
            after = await read_until(again, "1", expected[-1])
            assert cursors(before + after) == expected
            await expect_next(again, "1", api, buyer, database)
    finally:
        resumed.set()
        await asyncio.wait_for(writer, WAIT * 2)


BAD_TOKENS = {
    "none": None,
    "garbage": "not-a-jwt",
    "expired": token_for(1, ttl_seconds=-3600),
    "wrong-secret": issue_token(
        1, secret="another-secret-that-is-long-enough-too", ttl_seconds=3600
    ),
}
# What each refusal says (close reason, connection_error message): why, not just "no".
REASONS = {
    "none": "missing",
    "garbage": "malformed",
    "expired": "expired",
    "wrong-secret": "invalid",
}


@pytest.mark.parametrize("name", BAD_TOKENS)
async def test_transport_ws_refuses_a_missing_or_invalid_token_with_4403_and_says_why(
    server: ServerProcess, name: str
) -> None:
    token = BAD_TOKENS[name]
    client = await WsClient.connect(server.url, TRANSPORT_WS)
    await client.init({} if token is None else {"Authorization": f"Bearer {token}"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert closed.value.rcvd.reason == SIGN_IN[REASONS[name]]


async def test_transport_ws_refuses_an_expired_token_of_a_real_user(
    server: ServerProcess,
) -> None:
    (buyer,) = (await make_world(db_url(server), buyers=1)).buyers
    client = await WsClient.connect(server.url, TRANSPORT_WS)
    await client.init({"Authorization": f"Bearer {token_for(buyer.user_id, ttl_seconds=-120)}"})
    assert await client.closed_code() == 4403


@pytest.mark.parametrize("name", BAD_TOKENS)
async def test_legacy_graphql_ws_answers_connection_error_then_closes(
    server: ServerProcess, name: str
) -> None:
    token = BAD_TOKENS[name]
    client = await WsClient.connect(server.url, LEGACY_WS)
    await client.init(None if token is None else {"authorization": f"Bearer {token}"})
    message = await client.recv()
    assert message["type"] == "connection_error", message
    assert message["payload"]["message"] == SIGN_IN[REASONS[name]]
    assert message["payload"]["extensions"] == {"code": "UNAUTHENTICATED", "reason": REASONS[name]}
    assert await client.closed_code() is not None  # 1011, strawberry's choice


@pytest.mark.parametrize("key", ["authorization", "AUTHORIZATION", "Authorization"])
@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_token_key_in_any_case(server: ServerProcess, key: str, protocol: str) -> None:
    (buyer,) = (await make_world(db_url(server), buyers=1)).buyers
    async with opened(server.url, buyer.token, protocol=protocol, key=key) as client:
        assert client.protocol == protocol  # connected and acknowledged


async def test_token_under_payload_headers(server: ServerProcess) -> None:
    (buyer,) = (await make_world(db_url(server), buyers=1)).buyers
    client = await WsClient.connect(server.url, TRANSPORT_WS)
    try:
        await client.init({"headers": {"authorization": f"Bearer {buyer.token}"}})
        assert (await client.recv())["type"] == "connection_ack"
    finally:
        await client.close()


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_foreign_and_unknown_orders_get_the_same_error_and_the_connection_lives_on(
    server: ServerProcess, http: httpx.AsyncClient, protocol: str
) -> None:
    database = db_url(server)
    me, other = (await make_world(database, buyers=2)).buyers
    api = Api(http, server.url)
    mine = await api.place(me)
    theirs = await api.place(other)
    unknown = to_global_id("Order", 2**31 - 1)
    async with opened(server.url, me.token, protocol=protocol) as client:
        errors = []
        for op_id, order_id in (("foreign", theirs), ("unknown", unknown)):
            await client.subscribe(op_id, order_id=order_id)
            with pytest.raises(OperationFailed) as failed:
                await client.next_event(op_id)
            errors.append(failed.value.errors)
            with pytest.raises(OperationCompleted):  # and the operation is over
                await client.next_event(op_id)
        assert errors[0] == errors[1]
        assert [e["message"] for e in errors[0]] == ["No such order."]
        # Nothing about the other buyer's order leaks; the same connection still works.
        await client.subscribe("mine", order_id=mine, after=0)
        placed = await client.next_event("mine")
        assert placed["order"] == {"id": mine, "status": "UNPAID"}
        await api.cancel(me.token, mine)
        cancelled = await client.next_event("mine")
        assert (cancelled["toStatus"], cancelled["order"]["status"]) == ("CANCELLED", "CANCELLED")


async def test_seller_follows_an_order_of_their_shop(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    async with opened(server.url, world.seller_token) as seller:
        await seller.subscribe("1", order_id=order_id, after=0)
        placed = await seller.next_event("1")
        assert (placed["fromStatus"], placed["toStatus"]) == (None, "UNPAID")
        await api.pay(buyer, order_id)
        paid = await seller.next_event("1")
        assert paid["order"] == {"id": order_id, "status": "AWAITING_SHIPMENT"}
        await api.cancel(world.seller_token, order_id)  # the seller's own change, too
        cancelled = await seller.next_event("1")
        assert (cancelled["fromStatus"], cancelled["toStatus"]) == (
            "AWAITING_SHIPMENT",
            "CANCELLED",
        )
        assert cancelled["orderVersion"] == 3
        events = await event_ids(database, buyer.user_id)
        assert cursors([placed, paid, cancelled]) == events


WHO_LOOKS = """
subscription($orderId: ID, $after: String) {
  orderStatusChanged(orderId: $orderId, after: $after) {
    cursor toStatus order { id status availableActions }
  }
}
"""


async def test_many_subscriptions_of_one_event_each_get_it_under_their_own_id(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    # One event, rendered once per viewer and document on the server (the direct lane):
    # every operation still gets it under its own id, each viewer as that viewer sees it.
    database = db_url(server)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    since = await last_event_id(database, buyer.user_id)
    async with contextlib.AsyncExitStack() as stack:
        buyers = [
            await stack.enter_async_context(opened(server.url, buyer.token)) for _ in range(3)
        ]
        legacy = await stack.enter_async_context(
            opened(server.url, buyer.token, protocol=LEGACY_WS)
        )
        seller = await stack.enter_async_context(opened(server.url, world.seller_token))
        for client in buyers:  # two operations on each connection
            for op in ("a", "b"):
                await client.subscribe(op, order_id=order_id, after=since, query=WHO_LOOKS)
        await legacy.subscribe("l", order_id=order_id, after=since, query=WHO_LOOKS)
        await seller.subscribe("s", order_id=order_id, after=since, query=WHO_LOOKS)
        await api.pay(buyer, order_id)
        paid = await event_ids(database, buyer.user_id, after=since)
        seen = []
        for client in buyers:
            messages = sorted([await client.recv(), await client.recv()], key=lambda m: m["id"])
            assert [(m["id"], m["type"]) for m in messages] == [("a", "next"), ("b", "next")]
            seen += [m["payload"]["data"]["orderStatusChanged"] for m in messages]
        by_legacy = await legacy.next_event("l")
        by_seller = await seller.next_event("s")

    expected = {
        "cursor": event_cursor(paid[-1]),
        "toStatus": "AWAITING_SHIPMENT",
        "order": {"id": order_id, "status": "AWAITING_SHIPMENT", "availableActions": ["CANCEL"]},
    }
    assert seen == [expected] * 6
    assert by_legacy == expected
    assert by_seller["cursor"] == expected["cursor"]
    assert by_seller["order"]["availableActions"] != expected["order"]["availableActions"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_both_protocols_deliver_replayed_and_live_events(
    server: ServerProcess, http: httpx.AsyncClient, protocol: str
) -> None:
    database = db_url(server)
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    async with opened(server.url, buyer.token, protocol=protocol) as client:
        await client.subscribe("1", after=0)
        raw = await client.recv()
        assert raw["type"] == ("next" if protocol == TRANSPORT_WS else "data"), raw
        assert raw["payload"]["data"]["orderStatusChanged"]["order"]["id"] == order_id
        await api.cancel(buyer.token, order_id)
        live = await client.next_event("1")
        assert live["toStatus"] == "CANCELLED"
        await client.stop("1")
        if protocol == TRANSPORT_WS:
            # Stopped: the next subscription on this connection is the only one to deliver.
            await client.subscribe("2", after=live["cursor"])
            await expect_next(client, "2", api, buyer, database)


async def test_sigterm_closes_sockets_with_1001_and_the_process_exits() -> None:
    with running_server(users=3, orders_per_user=1) as own:
        database = db_url(own)
        (buyer,) = (await make_world(database, buyers=1)).buyers
        clients = [
            await WsClient.open(own.url, buyer.token, protocol=TRANSPORT_WS),
            await WsClient.open(own.url, buyer.token, protocol=LEGACY_WS),
        ]
        for client in clients:
            await client.subscribe("1")
        async with httpx.AsyncClient() as http:  # both subscriptions are live
            api = Api(http, own.url)
            for client in clients:
                await until_live(client, "1", api, buyer, database)
        own.process.send_signal(signal.SIGTERM)
        codes = [await client.closed_code() for client in clients]
        returncode = await asyncio.to_thread(own.process.wait, SHUTDOWN_TIMEOUT)
        assert codes == [1001, 1001]  # Going Away: reconnect, elsewhere or later
        assert returncode in (0, -signal.SIGTERM)


# ------------------------------------------------------------- limits and slow consumers

LIMITS = {
    "ORDERCENTER_SUBSCRIBER_QUEUE_SIZE": "2",
    "ORDERCENTER_WS_MAX_OPERATIONS": "2",
    "ORDERCENTER_WS_MAX_CONNECTIONS_PER_USER": "2",
    "ORDERCENTER_WS_INIT_TIMEOUT_SECONDS": "1",
}


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A server with tight limits, and a peer on the same SQLite file that writes
    while the first is paused."""
    with (
        running_server(users=3, orders_per_user=1, extra_env=LIMITS) as first,
        running_server(database_url=db_url(first), seed=False, extra_env=LIMITS) as peer,
    ):
        yield first, peer


async def test_slow_consumer_is_cut_off_and_resumes_with_after(
    limited: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    """Queue size 2. A client that merely stops reading does not fill the hub queue
    when events come one by one: the server keeps moving them into the socket buffers
    (loopback TCP takes hundreds of KB). It overflows when the hub reads several events
    in one batch, which concurrent writers cause only by chance; so, to be sure, the
    server is paused (SIGSTOP) while its peer commits 12 events: on SIGCONT its hub
    reads them in one batch and offers all 12 at once to a queue of 2."""
    server, peer = limited
    database = db_url(server)
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api, peer_api = Api(http, server.url), Api(http, peer.url)
    await api.place(buyer)
    start = await last_event_id(database, buyer.user_id)
    async with opened(server.url, buyer.token) as client:
        await client.subscribe("1", after=start)
        await api.place(buyer)
        live = await client.next_event("1")  # registered and live
        server.process.send_signal(signal.SIGSTOP)
        try:
            for _ in range(6):
                await peer_api.cancel(buyer.token, await peer_api.place(buyer))
        finally:
            server.process.send_signal(signal.SIGCONT)
        expected = await event_ids(database, buyer.user_id, event_id(live["cursor"]))
        assert len(expected) == 12
        delivered: list[dict[str, Any]] = []
        failure: OperationFailed | None = None
        while failure is None:
            try:
                delivered.append(await client.next_event("1"))
            except OperationFailed as failed:
                failure = failed
        (message,) = failure.messages
        assert "Too slow" in message
        assert "Resume with after" in message
        assert len(delivered) == 2  # what the queue held
        resume = delivered[-1]["cursor"]
        assert f'Resume with after: "{resume}"' in message
        assert failure.errors[0]["extensions"]["code"] == "SLOW_CONSUMER"
        with pytest.raises(OperationCompleted):
            await client.next_event("1")

        await client.subscribe("2", after=resume)
        rest = await read_until(client, "2", expected[-1])
        assert cursors(delivered + rest) == expected
        await expect_next(client, "2", api, buyer, database)


async def test_operations_beyond_the_limit_get_an_error(
    limited: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    server, _ = limited
    database = db_url(server)
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    async with opened(server.url, buyer.token) as client:
        await client.subscribe("1", after=0)
        await client.subscribe("2", order_id=order_id, after=0)
        first = {(await client.recv())["id"], (await client.recv())["id"]}
        assert first == {"1", "2"}
        await client.subscribe("3")
        refused = await client.recv()
        assert refused["id"] == "3"
        assert refused["type"] == "error"
        assert [e["message"] for e in refused["payload"]] == ["Subscription limit reached"]
        # The two running operations go on; one stopped makes room for another.
        await client.stop("2")
        await client.subscribe("4", after=0)
        replayed = await client.next_event("4")
        assert replayed["order"]["id"] == order_id


async def test_connections_beyond_the_per_user_limit_are_refused(
    limited: tuple[ServerProcess, ServerProcess],
) -> None:
    server, _ = limited
    me, other = (await make_world(db_url(server), buyers=2)).buyers
    async with opened(server.url, me.token), opened(server.url, me.token):
        extra = await WsClient.connect(server.url, TRANSPORT_WS)
        await extra.init({"Authorization": f"Bearer {me.token}"})
        assert await extra.closed_code() == 4403
        async with opened(server.url, other.token):  # a per-user limit
            pass
    # Closed ones stop counting (once the server has seen them go).
    for _ in range(50):
        retry = await WsClient.connect(server.url, TRANSPORT_WS)
        await retry.init({"Authorization": f"Bearer {me.token}"})
        answer = await retry.recv_or_close()
        if answer == "connection_ack":
            await retry.close()
            break
        assert answer == 4403
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("closed connections still count against the limit")


async def test_no_connection_init_in_time_closes_with_4408(
    limited: tuple[ServerProcess, ServerProcess],
) -> None:
    server, _ = limited
    client = await WsClient.connect(server.url, TRANSPORT_WS)
    assert await client.closed_code() == 4408


# -------------------------------------------------------- several processes, PostgreSQL


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this module's servers, dropped after."""
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"needs PostgreSQL: set {PG_URL_VAR} to run the multi-process tests")
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def pg_seeded(pg_database: str) -> str:
    """The database migrated and seeded once; the servers then run with seed=False."""
    env = {**os.environ, "ORDERCENTER_DATABASE_URL": pg_database, "ORDERCENTER_ENV": "test"}
    command = [ORDERCENTER, "seed", "--users=4", "--orders-per-user=2", "--no-progress"]
    subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)
    return pg_database


@pytest.fixture(scope="module")
def pg_pair(pg_seeded: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes on one database, woken by PostgreSQL LISTEN/NOTIFY."""
    env = {"ORDERCENTER_BUS_URL": pg_seeded}
    with (
        running_server(database_url=pg_seeded, seed=False, extra_env=env) as a,
        running_server(database_url=pg_seeded, seed=False, extra_env=env) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def redis_pair(pg_seeded: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes on one database, woken by Redis pub/sub."""
    redis_url = os.environ.get(REDIS_URL_VAR)
    if not redis_url:
        pytest.skip(f"needs Redis: set {REDIS_URL_VAR} to run the Redis bus tests")
    env = {"ORDERCENTER_BUS_URL": redis_url}
    with (
        running_server(database_url=pg_seeded, seed=False, extra_env=env) as a,
        running_server(database_url=pg_seeded, seed=False, extra_env=env) as b,
    ):
        yield a, b


@pytest.fixture(params=["postgresql-bus", "redis-bus"])
def pair(request: pytest.FixtureRequest) -> tuple[ServerProcess, ServerProcess]:
    fixture = "pg_pair" if request.param == "postgresql-bus" else "redis_pair"
    servers: tuple[ServerProcess, ServerProcess] = request.getfixturevalue(fixture)
    return servers


async def hear_on_bus(
    bus_url: str, change: Callable[[], Awaitable[Any]], database_url: str, user_id: int
) -> int:
    """Listen on the bus as a server does, run ``change``; the wake-up that announces
    the user's newest event must come (a timeout fails). Returns that event id."""
    heard: asyncio.Queue[int] = asyncio.Queue()

    async def wait_for_newest() -> int:
        await change()
        newest = await last_event_id(database_url, user_id)
        while await asyncio.wait_for(heard.get(), WAIT) != newest:
            pass  # another process's wake-up (e.g. a timeout sweep)
        return newest

    if bus_url.startswith("redis"):
        client = redis.from_url(bus_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)

        async def pump() -> None:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    heard.put_nowait(int(message["data"]))

        try:
            await pubsub.subscribe(EVENTS_CHANNEL)
            pumping = asyncio.create_task(pump())
            try:
                return await wait_for_newest()
            finally:
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    connection = await asyncpg.connect(bus_url)
    try:
        await connection.add_listener(EVENTS_CHANNEL, lambda *args: heard.put_nowait(int(args[-1])))
        return await wait_for_newest()
    finally:
        await connection.close(timeout=WAIT)


async def test_subscriber_on_one_process_gets_changes_made_on_another(
    pair: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    a, b = pair
    database = db_url(a)
    me, other = (await make_world(database, buyers=2)).buyers
    api_a, api_b = Api(http, a.url), Api(http, b.url)
    order_id = await api_a.place(me)
    start = await last_event_id(database, me.user_id)
    async with opened(a.url, me.token) as on_a, opened(b.url, me.token) as on_b:
        await on_a.subscribe("1", after=start)
        await on_b.subscribe("1", order_id=order_id, after=start)
        await api_b.place(other)
        # The bus carries the wake-up (the hub's slow poll is only a safety net).
        paid_id = await hear_on_bus(
            a.env["ORDERCENTER_BUS_URL"], lambda: api_b.pay(me, order_id), database, me.user_id
        )
        paid = await on_a.next_event("1")
        assert event_id(paid["cursor"]) == paid_id
        assert paid["order"] == {"id": order_id, "status": "AWAITING_SHIPMENT"}
        assert (paid["fromStatus"], paid["toStatus"], paid["orderVersion"]) == (
            "UNPAID",
            "AWAITING_SHIPMENT",
            2,
        )
        await api_a.cancel(me.token, order_id)  # and the other way round
        cancelled_on_b = await on_b.events("1", 2)
        assert cursors(cancelled_on_b) == await event_ids(database, me.user_id, start)
        assert cancelled_on_b[1]["order"]["status"] == "CANCELLED"
        cancelled_on_a = await on_a.next_event("1")
        assert cancelled_on_a == cancelled_on_b[1]
        await expect_next(on_a, "1", api_b, me, database)


async def test_no_event_lost_while_the_serving_process_restarts(
    pg_pair: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    _, b = pg_pair
    database = db_url(b)
    env = {"ORDERCENTER_BUS_URL": database}
    (buyer,) = (await make_world(database, buyers=1)).buyers
    api_b = Api(http, b.url)
    start = await last_event_id(database, buyer.user_id)
    port = free_port()
    with running_server(database_url=database, seed=False, extra_env=env, port=port) as a:
        client = await WsClient.open(a.url, buyer.token)
        await client.subscribe("1", after=start)
        order_id = await api_b.place(buyer)
        seen = [await client.next_event("1")]
        a.process.send_signal(signal.SIGTERM)
        assert await client.closed_code() is not None
        await asyncio.to_thread(a.process.wait, SHUTDOWN_TIMEOUT)
    # While it is down, the other process goes on changing things.
    await api_b.pay(buyer, order_id)
    await api_b.cancel(buyer.token, await api_b.place(buyer))
    with running_server(database_url=database, seed=False, extra_env=env, port=port) as a:
        async with opened(a.url, buyer.token) as client:
            await client.subscribe("1", after=seen[-1]["cursor"])
            seen += await client.events("1", 3)
            assert seen[1]["order"]["status"] == "AWAITING_SHIPMENT"
            await api_b.cancel(buyer.token, order_id)  # live again, across processes
            seen.append(await client.next_event("1"))
            assert cursors(seen) == await event_ids(database, buyer.user_id, start)
            await expect_next(client, "1", api_b, buyer, database)


async def test_concurrent_writers_on_postgresql_skip_nothing(
    pg_pair: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    """Event ids are drawn from a sequence: with concurrent writers they could commit
    out of order, and a reader already past a larger id would skip the smaller one.
    The advisory lock in commit_with_events prevents it; here 36 changes race on
    two processes while three subscribers (on both processes) watch."""
    a, b = pg_pair
    database = db_url(a)
    buyers = (await make_world(database, buyers=3)).buyers
    apis = [Api(http, a.url), Api(http, b.url)]
    orders = await asyncio.gather(*(apis[i % 2].place(buyers[i % 3]) for i in range(30)))
    clients = [
        await WsClient.open((a, b)[i % 2].url, buyer.token) for i, buyer in enumerate(buyers)
    ]
    try:
        for client, buyer in zip(clients, buyers, strict=True):
            await client.subscribe("1", after=await last_event_id(database, buyer.user_id))
        # Live before the race starts (so it is the live path, not the replay, on trial).
        starts = [
            event_id((await expect_next(client, "1", apis[i % 2], buyer, database))["cursor"])
            for i, (client, buyer) in enumerate(zip(clients, buyers, strict=True))
        ]

        async def change(i: int) -> Any:
            api, buyer = apis[(i // 3) % 2], buyers[i % 3]
            if i >= 30:
                return await api.place(buyer)
            if i % 2:
                return await api.pay(buyer, orders[i])
            return await api.cancel(buyer.token, orders[i])

        await asyncio.gather(*(change(i) for i in range(36)))
        expected = [
            await event_ids(database, buyer.user_id, start)
            for buyer, start in zip(buyers, starts, strict=True)
        ]
        assert sum(map(len, expected)) == 36
        received = await asyncio.gather(
            *(
                read_until(client, "1", ids[-1])
                for client, ids in zip(clients, expected, strict=True)
            )
        )
        for got, ids in zip(received, expected, strict=True):
            assert cursors(got) == ids  # every committed event, once, in cursor order
        for i, (client, buyer) in enumerate(zip(clients, buyers, strict=True)):
            await expect_next(client, "1", apis[(i + 1) % 2], buyer, database)
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
