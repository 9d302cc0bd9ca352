"""orderUpdated end to end: real `ordercenter serve` processes, real WebSocket clients.

The activity stream follows every kind of event of the viewer's orders: an order is
placed, paid (its charge, then the status change), shipped (the status change, then
the seller's label scan), scanned by the carrier through the signed webhook (each scan,
then the status change it makes) and, for another order, cancelled and refunded. The
subscriber gets them all in cursor order with their subjects (the scan, the payment),
resumes from a cursor in the middle with exactly the rest, and `orderStatusChanged` on
the same traffic gets the status changes only. A delivered order's whole return
(request, approval, shipping back, receipt, refund) follows, each step with its return.
On SQLite and PostgreSQL, over both WebSocket protocols, and across two processes on one
PostgreSQL with either bus.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.carrier_scans import sign
from domain.order_events import RETURN_EVENTS, STATUS_CHANGES
from resolvers.ids import to_global_id
from tests.server.serving import (
    ORDERCENTER,
    ServerProcess,
    fresh_postgres_database,
    running_server,
)
from tests.subscriptions.test_order_status_changed import db_url, opened
from tests.subscriptions.test_order_status_changed import http as http  # the fixture
from tests.subscriptions.wsclient import (
    LEGACY_WS,
    TRANSPORT_WS,
    Api,
    Buyer,
    OperationCompleted,
    OperationFailed,
    World,
    cursors,
    event_id,
    event_ids,
    last_event_id,
    make_world,
)

pytestmark = pytest.mark.server

PG_URL_VAR = "ORDERCENTER_TEST_DATABASE_URL"
REDIS_URL_VAR = "ORDERCENTER_TEST_REDIS_URL"
SECRETS = {"UPS": "ups-secret-for-the-activity-stream-tests"}
WEBHOOK_ENV = {"ORDERCENTER_CARRIER_WEBHOOK_SECRETS": json.dumps(SECRETS)}

EVENT_FIELDS = """
    cursor kind fromStatus toStatus orderVersion actor
    order { id status }
    shipmentEvent { kind location }
    payment { status amount { amount currencyCode } order { id } }
    orderReturn { id status }
"""
UPDATED = f"""
subscription($orderId: ID, $after: String) {{
  orderUpdated(orderId: $orderId, after: $after) {{ {EVENT_FIELDS} }}
}}
"""
STATUS_CHANGED = f"""
subscription($orderId: ID, $after: String) {{
  orderStatusChanged(orderId: $orderId, after: $after) {{ {EVENT_FIELDS} }}
}}
"""
SHIP = """
mutation($input: ShipOrderInput!) {
  shipOrder(input: $input) { order { id status } userErrors { code message } }
}
"""


@contextlib.contextmanager
def serving(
    database: str, *, database_url: str | None = None, extra: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A server with the test carrier's webhook secret, on SQLite or a fresh PostgreSQL."""
    env = {**WEBHOOK_ENV, **(extra or {})}
    if database == "sqlite":
        with running_server(users=3, orders_per_user=1, extra_env=env) as server:
            yield server
        return
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"needs PostgreSQL: set {PG_URL_VAR}")
    with (
        fresh_postgres_database(admin_url) as url,
        running_server(users=3, orders_per_user=1, database_url=url, extra_env=env) as server,
    ):
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with serving(request.param) as process:
        yield process


async def ship(api: Api, world: World, order_id: str, tracking: str) -> None:
    data = await api.gql(
        world.seller_token,
        SHIP,
        {
            "input": {
                "orderId": order_id,
                "carrier": "UPS",
                "trackingNumber": tracking,
                "idempotencyKey": uuid.uuid4().hex,
            }
        },
    )
    assert data["shipOrder"]["userErrors"] == [], data
    assert data["shipOrder"]["order"]["status"] == "AWAITING_COLLECTION"


async def carrier_scans(
    http: httpx.AsyncClient, url: str, tracking: str, kinds: list[str]
) -> list[str]:
    """One signed delivery of the carrier's scans (in this order, a second apart), posted
    to the server's webhook as a carrier does; the order status after each."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    scans = [
        {
            "scanId": f"{tracking}-{kind}",
            "trackingNumber": tracking,
            "kind": kind,
            "happenedAt": (start + timedelta(seconds=index)).isoformat(),
            "location": "Memphis, TN",
        }
        for index, kind in enumerate(kinds)
    ]
    body = json.dumps({"scans": scans}).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Carrier": "UPS",
        "X-Carrier-Timestamp": stamp,
        "X-Carrier-Signature": sign(SECRETS["UPS"], stamp, body),
    }
    response = await http.post(url + "/webhooks/carrier", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answered = response.json()["scans"]
    assert [s["result"] for s in answered] == ["APPLIED"] * len(kinds), answered
    return [s["orderStatus"] for s in answered]


def steps(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["toStatus"], e["actor"]) for e in events]


# Everything that happens to one order from placement to delivery, as orderUpdated
# shows it: (kind, toStatus, actor).
JOURNEY = [
    ("STATUS_CHANGED", "UNPAID", "BUYER"),
    ("PAYMENT_CAPTURED", "UNPAID", "BUYER"),
    ("STATUS_CHANGED", "AWAITING_SHIPMENT", "BUYER"),
    ("STATUS_CHANGED", "AWAITING_COLLECTION", "SELLER"),
    ("CARRIER_SCAN", "AWAITING_COLLECTION", "SELLER"),  # the seller's label
    ("CARRIER_SCAN", "AWAITING_COLLECTION", "CARRIER"),  # picked up ...
    ("STATUS_CHANGED", "IN_TRANSIT", "CARRIER"),  # ... moves it on
    ("CARRIER_SCAN", "IN_TRANSIT", "CARRIER"),  # a scan on the way moves nothing
    ("CARRIER_SCAN", "IN_TRANSIT", "CARRIER"),  # delivered ...
    ("STATUS_CHANGED", "DELIVERED", "CARRIER"),  # ... moves it on
]


async def journey(
    http: httpx.AsyncClient, server: ServerProcess, world: World, buyer: Buyer
) -> str:
    """Place, pay, ship and deliver (by webhook) one order of ``buyer``; its id."""
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    await api.pay(buyer, order_id)
    tracking = f"1Z{uuid.uuid4().hex[:12].upper()}"
    await ship(api, world, order_id, tracking)
    moved = await carrier_scans(http, server.url, tracking, ["PICKED_UP", "IN_TRANSIT"])
    assert moved == ["IN_TRANSIT", "IN_TRANSIT"]
    assert await carrier_scans(http, server.url, tracking, ["DELIVERED"]) == ["DELIVERED"]
    return order_id


def without_order(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "order"}


def assert_subjects(events: list[dict[str, Any]], order_id: str) -> None:
    """Each event names its subject by its kind, and only then."""
    for event in events:
        assert event["order"]["id"] == order_id
        assert event["orderReturn"] is None or event["kind"] in RETURN_EVENTS, event
        if event["kind"] == "CARRIER_SCAN":
            assert event["shipmentEvent"] is not None, event
            assert event["payment"] is None
        elif event["kind"] in ("PAYMENT_CAPTURED", "PAYMENT_FAILED", "REFUNDED"):
            assert event["shipmentEvent"] is None
            assert event["payment"]["order"] == {"id": order_id}
        else:
            assert (event["shipmentEvent"], event["payment"]) == (None, None), event


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_the_whole_journey_in_order_then_resumed_from_the_middle(
    server: ServerProcess, http: httpx.AsyncClient, protocol: str
) -> None:
    database = db_url(server)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    start = await last_event_id(database, buyer.user_id, kinds=None)
    async with opened(server.url, buyer.token, protocol=protocol) as client:
        # Both subscriptions from the same cursor, on one connection's two operations.
        await client.subscribe("all", after=start, query=UPDATED)
        async with opened(server.url, buyer.token, protocol=protocol) as statuses:
            await statuses.subscribe("status", after=start, query=STATUS_CHANGED)
            order_id = await journey(http, server, world, buyer)
            expected = await event_ids(database, buyer.user_id, start, kinds=None)
            assert len(expected) == len(JOURNEY)
            seen = await client.events("all", len(JOURNEY))
            changes = await statuses.events("status", 5)
            # orderStatusChanged on the same traffic: the status changes only.
            status_ids = await event_ids(database, buyer.user_id, start)
            assert cursors(changes) == status_ids
            assert [e["kind"] for e in changes] == ["STATUS_CHANGED"] * 5
            assert [e["toStatus"] for e in changes] == [
                "UNPAID",
                "AWAITING_SHIPMENT",
                "AWAITING_COLLECTION",
                "IN_TRANSIT",
                "DELIVERED",
            ]
    # Every event, once, in cursor (id) order, each with its subject.
    assert cursors(seen) == expected
    assert steps(seen) == JOURNEY
    assert_subjects(seen, order_id)
    captured = seen[1]["payment"]
    assert captured["status"] == "CAPTURED"
    assert captured["amount"]["currencyCode"] == "USD"
    assert [e["shipmentEvent"]["kind"] for e in seen if e["kind"] == "CARRIER_SCAN"] == [
        "LABEL_CREATED",
        "PICKED_UP",
        "IN_TRANSIT",
        "DELIVERED",
    ]
    # Status and version stand still on the steps beside the status.
    assert [e["orderVersion"] for e in seen] == [1, 1, 2, 3, 3, 3, 4, 4, 4, 5]

    # Disconnected above; resumed from a cursor in the middle (the label scan): exactly
    # the rest, replayed, then live again (a sentinel order is the very next event).
    middle = seen[4]["cursor"]
    async with opened(server.url, buyer.token, protocol=protocol) as client:
        await client.subscribe("again", after=middle, query=UPDATED)
        rest = await client.events("again", len(JOURNEY) - 5)
        # The same events (each with the order as it is when it is read: delivered now).
        assert [without_order(e) for e in rest] == [without_order(e) for e in seen[5:]]
        assert {e["order"]["status"] for e in rest} == {"DELIVERED"}
        await Api(http, server.url).place(buyer)
        sentinel = await client.next_event("again")
        assert event_id(sentinel["cursor"]) == await last_event_id(
            database, buyer.user_id, kinds=None
        )
        assert steps([sentinel]) == [("STATUS_CHANGED", "UNPAID", "BUYER")]


RETURN_STEP = """
mutation($input: {input}!) {{
  {name}(input: $input) {{ orderReturn {{ id status }} userErrors {{ code message }} }}
}}
"""
ITEMS = "query($id: ID!) { node(id: $id) { ... on Order { items { id } } } }"


async def return_step(
    api: Api, token: str, name: str, input_type: str, values: dict[str, Any]
) -> dict[str, Any]:
    query = RETURN_STEP.format(name=name, input=input_type)
    data = await api.gql(token, query, {"input": values})
    assert data[name]["userErrors"] == [], data
    found: dict[str, Any] = data[name]["orderReturn"]
    return found


# A whole return, as orderUpdated shows it after the delivery: (kind, toStatus, actor).
RETURN_JOURNEY = [
    ("RETURN_REQUESTED", "DELIVERED", "BUYER"),
    ("RETURN_APPROVED", "DELIVERED", "SELLER"),
    ("RETURN_SHIPPED", "DELIVERED", "BUYER"),
    ("RETURN_RECEIVED", "DELIVERED", "SELLER"),
    ("RETURN_REFUNDED", "DELIVERED", "SELLER"),
    ("REFUNDED", "DELIVERED", "SELLER"),
]


async def test_a_whole_return_after_the_webhook_delivery_in_order_then_resumed(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """Delivered by the carrier's webhook, then returned: request, approval, shipping
    back, receipt and refund, each an event of the order's stream in order, with the
    return (or, for the refund, the payment) it is about; resumed from the approval, the
    rest again."""
    database = db_url(server)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    api = Api(http, server.url)
    start = await last_event_id(database, buyer.user_id, kinds=None)
    async with opened(server.url, buyer.token) as client:
        await client.subscribe("all", after=start, query=UPDATED)
        order_id = await journey(http, server, world, buyer)
        delivered = await client.events("all", len(JOURNEY))
        assert steps(delivered) == JOURNEY
        items = (await api.gql(buyer.token, ITEMS, {"id": order_id}))["node"]["items"]
        line = {"orderItemId": items[0]["id"], "quantity": 1}
        requested = await return_step(
            api,
            buyer.token,
            "requestReturn",
            "RequestReturnInput",
            {"orderId": order_id, "lines": [line], "reason": "DAMAGED"},
        )
        ret = {"returnId": requested["id"]}
        await return_step(api, world.seller_token, "approveReturn", "ReturnStepInput", ret)
        shipped_back = {**ret, "carrier": "UPS", "trackingNumber": "1ZRETURN0001"}
        await return_step(api, buyer.token, "shipReturn", "ShipReturnInput", shipped_back)
        received = await return_step(
            api, world.seller_token, "receiveReturn", "ReturnStepInput", ret
        )
        assert received["status"] == "REFUNDED"
        returned = await client.events("all", len(RETURN_JOURNEY))
    assert steps(returned) == RETURN_JOURNEY
    seen = [*delivered, *returned]
    assert cursors(seen) == await event_ids(database, buyer.user_id, start, kinds=None)
    for event in returned[:-1]:
        assert event["orderReturn"]["id"] == requested["id"], event
        assert event["payment"] is None
    refund = returned[-1]
    assert refund["orderReturn"] is None
    assert refund["payment"]["order"] == {"id": order_id}
    # Steps beside the status: the order stays DELIVERED at its version.
    assert {e["orderVersion"] for e in returned} == {delivered[-1]["orderVersion"]}

    # Resumed after the approval: exactly the rest, each as it reads now.
    async with opened(server.url, buyer.token) as client:
        await client.subscribe("again", after=returned[1]["cursor"], query=UPDATED)
        rest = await client.events("again", len(RETURN_JOURNEY) - 2)
    assert cursors(rest) == cursors(returned[2:])
    assert steps(rest) == RETURN_JOURNEY[2:]
    assert {e["orderReturn"]["status"] for e in rest[:-1]} == {"REFUNDED"}


async def test_a_cancelled_paid_order_streams_its_refund_after_the_cancellation(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    async with opened(server.url, buyer.token) as client:
        # One order only, from its first event on.
        await client.subscribe("1", order_id=order_id, after=0, query=UPDATED)
        placed = await client.next_event("1")
        assert steps([placed]) == [("STATUS_CHANGED", "UNPAID", "BUYER")]
        await api.pay(buyer, order_id)
        await api.cancel(buyer.token, order_id)
        seen = await client.events("1", 4)
    assert steps(seen) == [
        ("PAYMENT_CAPTURED", "UNPAID", "BUYER"),
        ("STATUS_CHANGED", "AWAITING_SHIPMENT", "BUYER"),
        ("STATUS_CHANGED", "CANCELLED", "BUYER"),
        ("REFUNDED", "CANCELLED", "BUYER"),
    ]
    assert_subjects(seen, order_id)
    captured, refunded = seen[0]["payment"], seen[3]["payment"]
    assert (captured["status"], refunded["status"]) == ("CAPTURED", "REFUNDED")
    assert refunded["amount"] == captured["amount"]
    assert cursors([placed, *seen]) == await event_ids(database, buyer.user_id, kinds=None)


async def test_the_seller_follows_an_order_and_a_stranger_cannot(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    database = db_url(server)
    world = await make_world(database, buyers=2)
    buyer, stranger = world.buyers
    api = Api(http, server.url)
    order_id = await api.place(buyer)
    await api.pay(buyer, order_id)
    unknown = to_global_id("Order", 2**31 - 1)
    async with opened(server.url, stranger.token) as client:
        refusals = []
        for op_id, order in (("foreign", order_id), ("unknown", unknown)):
            await client.subscribe(op_id, order_id=order, after=0, query=UPDATED)
            with pytest.raises(OperationFailed) as refused:
                await client.next_event(op_id)
            refusals.append(refused.value.errors)
            with pytest.raises(OperationCompleted):  # and the operation is over
                await client.next_event(op_id)
        # Someone else's order answers as one that does not exist.
        assert refusals[0] == refusals[1]
        assert [e["message"] for e in refusals[0]] == ["No such order."]
        # The stranger's own stream has none of the buyer's events (its sentinel is next).
        await client.subscribe("mine", after=0, query=UPDATED)
        await api.place(stranger)
        mine = await client.next_event("mine")
        assert event_id(mine["cursor"]) == await last_event_id(
            database, stranger.user_id, kinds=None
        )
    async with opened(server.url, world.seller_token) as seller:
        await seller.subscribe("1", order_id=order_id, after=0, query=UPDATED)
        seen = await seller.events("1", 3)
        # The seller sees the payment as Order.payments shows it to them.
        assert steps(seen)[1] == ("PAYMENT_CAPTURED", "UNPAID", "BUYER")
        assert seen[1]["payment"]["status"] == "CAPTURED"


# ------------------------------------------------------------------- two processes


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    admin_url = os.environ.get(PG_URL_VAR)
    if not admin_url:
        pytest.skip(f"needs PostgreSQL: set {PG_URL_VAR} to run the multi-process tests")
    with fresh_postgres_database(admin_url) as url:
        # Migrated and seeded once; every pair of servers serves it as it is.
        env = {**os.environ, "ORDERCENTER_DATABASE_URL": url, "ORDERCENTER_ENV": "test"}
        command = [ORDERCENTER, "seed", "--users=3", "--orders-per-user=1", "--no-progress"]
        subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)
        yield url


@pytest.fixture(scope="module", params=["postgresql-bus", "redis-bus"])
def pair(
    request: pytest.FixtureRequest, pg_database: str
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes on one PostgreSQL, woken by LISTEN/NOTIFY or by Redis pub/sub."""
    if request.param == "postgresql-bus":
        bus = pg_database
    else:
        bus = os.environ.get(REDIS_URL_VAR, "")
        if not bus:
            pytest.skip(f"needs Redis: set {REDIS_URL_VAR}")
    env = {**WEBHOOK_ENV, "ORDERCENTER_BUS_URL": bus}
    with (
        running_server(database_url=pg_database, seed=False, extra_env=env) as a,
        running_server(database_url=pg_database, seed=False, extra_env=env) as b,
    ):
        yield a, b


async def test_events_committed_on_one_process_reach_a_subscriber_on_the_other(
    pair: tuple[ServerProcess, ServerProcess], http: httpx.AsyncClient
) -> None:
    a, b = pair
    database = db_url(a)
    world = await make_world(database, buyers=1)
    (buyer,) = world.buyers
    start = await last_event_id(database, buyer.user_id, kinds=None)
    async with opened(a.url, buyer.token) as on_a:
        await on_a.subscribe("1", after=start, query=UPDATED)
        # Every change is made through the other process (its webhook too).
        order_id = await journey(http, b, world, buyer)
        seen = await on_a.events("1", len(JOURNEY))
        assert steps(seen) == JOURNEY
        assert cursors(seen) == await event_ids(database, buyer.user_id, start, kinds=None)
        assert_subjects(seen, order_id)
        assert {e["kind"] for e in seen} - STATUS_CHANGES == {"PAYMENT_CAPTURED", "CARRIER_SCAN"}
