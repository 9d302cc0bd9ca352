"""cancelOrder, confirmReceipt, shipOrder and updateOrderStatus: who may do what, when."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import Order, OrderEvent, Product, Shop, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient, StatementCounter
from tests.factories import make_order, make_payment_method, make_product, make_shop, make_user
from tests.mutations.test_place_order import (
    db_state,
    errors_of,
    event_versions,
    gid,
    line,
    order_row,
    payment_statuses,
    pk_of,
    place,
    read_order,
    run,
    status_changes,
    stock_of,
)

# What the buyer and the seller may do in each status, per the state machine.
EXPECTED_ACTIONS: dict[str, tuple[list[str], list[str]]] = {
    "UNPAID": (["PAY", "CANCEL"], ["CANCEL"]),
    "AWAITING_SHIPMENT": (["CANCEL"], ["CANCEL", "SHIP"]),
    "AWAITING_COLLECTION": ([], ["MARK_IN_TRANSIT"]),
    "IN_TRANSIT": ([], ["MARK_DELIVERED"]),
    "DELIVERED": (["CONFIRM_RECEIPT"], []),
    "COMPLETED": ([], []),
    "CANCELLED": ([], []),
}


class Shopfront:
    """A buyer, a seller with a shop and a product, and a stranger."""

    buyer: User
    seller: User
    stranger: User
    shop: Shop
    product: Product

    @classmethod
    async def make(cls, sessions: SessionFactory, *, stock: int = 10) -> Shopfront:
        self = cls()
        self.buyer = await make_user(sessions)
        self.seller = await make_user(sessions, role="seller")
        self.stranger = await make_user(sessions)
        self.shop = await make_shop(sessions, owner=self.seller)
        self.product = await make_product(sessions, shop=self.shop, stock=stock)
        return self

    async def order(self, sessions: SessionFactory, status: OrderStatus) -> Order:
        return await make_order(
            sessions, buyer=self.buyer, shop=self.shop, products=[self.product], status=status
        )


def oid(order: Order) -> str:
    return gid("Order", order)


async def cancel(
    gql: GraphQLClient, user: User, order_id: str, reason: str | None = None
) -> dict[str, Any]:
    input_: dict[str, Any] = {"orderId": order_id}
    if reason is not None:
        input_["reason"] = reason
    return await run(gql, "cancelOrder", input_, user=user)


async def ship(
    gql: GraphQLClient,
    user: User,
    order_id: str,
    carrier: str = "UPS",
    tracking: str = "1Z999AA10123456784",
) -> dict[str, Any]:
    return await run(
        gql,
        "shipOrder",
        {"orderId": order_id, "carrier": carrier, "trackingNumber": tracking},
        user=user,
    )


async def move(
    gql: GraphQLClient, user: User, order_id: str, status: str, note: str | None = None
) -> dict[str, Any]:
    input_: dict[str, Any] = {"orderId": order_id, "status": status}
    if note is not None:
        input_["note"] = note
    return await run(gql, "updateOrderStatus", input_, user=user)


async def confirm(gql: GraphQLClient, user: User, order_id: str) -> dict[str, Any]:
    return await run(gql, "confirmReceipt", {"orderId": order_id}, user=user)


def assert_gap_free(order: dict[str, Any]) -> None:
    changes = status_changes(order)
    versions = [e["orderVersion"] for e in changes]
    assert versions == list(range(1, order["version"] + 1)), versions
    statuses = [e["toStatus"] for e in changes]
    assert statuses[-1] == order["status"]
    froms = [e["fromStatus"] for e in changes]
    assert froms == [None, *statuses[:-1]]
    # Every other step leaves the order as the status change before it left it.
    current: tuple[str, int] | None = None
    for event in order["timeline"]:
        if event["kind"] == "STATUS_CHANGED":
            current = (event["toStatus"], event["orderVersion"])
        else:
            assert current is not None, order["timeline"]
            assert (event["fromStatus"], event["toStatus"], event["orderVersion"]) == (
                current[0],
                *current,
            ), event


async def assert_actions(
    gql: GraphQLClient, shopfront: Shopfront, order_id: str, status: str
) -> None:
    buyer_view = await read_order(gql, order_id, user=shopfront.buyer)
    seller_view = await read_order(gql, order_id, user=shopfront.seller)
    assert buyer_view["status"] == seller_view["status"] == status
    buyer, seller = EXPECTED_ACTIONS[status]
    delivered_at = (buyer_view["shipment"] or {}).get("deliveredAt")
    if status in ("DELIVERED", "COMPLETED") and delivered_at is not None:
        # Delivered just now, over HTTP: inside the return window (tests/mutations/
        # test_returns.py), so the buyer may also ask for a return.
        buyer = [*buyer, "REQUEST_RETURN"]
    if status == "COMPLETED":
        # No line is reviewed yet (tests/mutations/test_reviews.py): the buyer may review.
        buyer = [*buyer, "REVIEW"]
    assert (buyer_view["availableActions"], seller_view["availableActions"]) == (buyer, seller)


async def refused_unchanged(
    sessions: SessionFactory, call: Any, expected: list[tuple[str, list[str] | None]]
) -> dict[str, Any]:
    """Run a mutation that must be refused with ``expected``; nothing may change."""
    before = await db_state(sessions)
    payload: dict[str, Any] = await call
    assert payload["order"] is None, payload
    assert errors_of(payload) == expected
    assert await db_state(sessions) == before
    return payload


# --- the whole walk ----------------------------------------------------------------------


async def test_each_step_offers_the_state_machines_actions(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    method = await make_payment_method(sessions, user=shop.buyer)
    placed = await place(gql, shop.buyer, [line(shop.product)])
    order_id = placed["order"]["id"]
    assert_gap_free(placed["order"])
    await assert_actions(gql, shop, order_id, "UNPAID")

    steps = [
        (
            shop.buyer,
            "payOrder",
            {
                "orderId": order_id,
                "paymentMethodId": gid("PaymentMethod", method),
                "idempotencyKey": "p",
            },
            "AWAITING_SHIPMENT",
        ),
        (
            shop.seller,
            "shipOrder",
            {"orderId": order_id, "carrier": "UPS", "trackingNumber": "1ZX"},
            "AWAITING_COLLECTION",
        ),
        (
            shop.seller,
            "updateOrderStatus",
            {"orderId": order_id, "status": "IN_TRANSIT"},
            "IN_TRANSIT",
        ),
        (
            shop.seller,
            "updateOrderStatus",
            {"orderId": order_id, "status": "DELIVERED"},
            "DELIVERED",
        ),
        (shop.buyer, "confirmReceipt", {"orderId": order_id}, "COMPLETED"),
    ]
    for version, (user, name, input_, status) in enumerate(steps, start=2):
        payload = await run(gql, name, input_, user=user)
        assert payload["userErrors"] == [], name
        order = payload["order"]
        assert (order["status"], order["version"]) == (status, version)
        assert_gap_free(order)
        assert await event_versions(sessions, pk_of(order_id)) == list(range(1, version + 1))
        await assert_actions(gql, shop, order_id, status)


# --- cancelOrder ---------------------------------------------------------------------------


async def test_buyer_cancels_an_unpaid_order(gql: GraphQLClient, sessions: SessionFactory) -> None:
    shop = await Shopfront.make(sessions, stock=5)
    placed = await place(gql, shop.buyer, [line(shop.product, 2)])
    assert await stock_of(sessions, shop.product) == 3

    payload = await cancel(gql, shop.buyer, placed["order"]["id"])

    assert payload["userErrors"] == []
    order = payload["order"]
    assert (order["status"], order["version"], order["cancelReason"]) == (
        "CANCELLED",
        2,
        "CUSTOMER",
    )
    assert order["timeline"][-1] == {
        "kind": "STATUS_CHANGED",
        "fromStatus": "UNPAID",
        "toStatus": "CANCELLED",
        "orderVersion": 2,
        "actor": "BUYER",
        "note": None,
    }
    assert order["paymentStatus"] == "UNPAID"
    assert order["payments"] == []
    assert_gap_free(order)
    assert await stock_of(sessions, shop.product) == 5
    await assert_actions(gql, shop, order["id"], "CANCELLED")


async def test_cancelling_a_paid_order_refunds_it(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions, stock=5)
    method = await make_payment_method(sessions, user=shop.buyer)
    placed = await place(gql, shop.buyer, [line(shop.product, 2)], method=method)
    assert placed["order"]["status"] == "AWAITING_SHIPMENT"

    payload = await cancel(gql, shop.buyer, placed["order"]["id"])

    assert payload["userErrors"] == []
    order = payload["order"]
    assert (order["status"], order["version"], order["cancelReason"]) == (
        "CANCELLED",
        3,
        "CUSTOMER",
    )
    assert order["paymentStatus"] == "REFUNDED"
    total = placed["order"]["total"]
    assert order["payments"] == [
        {"status": "CAPTURED", "amount": total},
        {"status": "REFUNDED", "amount": total},
    ]
    # The cancellation, then the refund it made, by the buyer who cancelled.
    assert [(e["kind"], e["toStatus"], e["actor"]) for e in order["timeline"][-2:]] == [
        ("STATUS_CHANGED", "CANCELLED", "BUYER"),
        ("REFUNDED", "CANCELLED", "BUYER"),
    ]
    assert_gap_free(order)
    assert await stock_of(sessions, shop.product) == 5

    # Cancelling again refunds nothing more and restocks nothing more.
    await refused_unchanged(
        sessions, cancel(gql, shop.buyer, order["id"]), [("INVALID_TRANSITION", None)]
    )
    assert await payment_statuses(sessions) == ["CAPTURED", "REFUNDED"]
    assert await stock_of(sessions, shop.product) == 5


async def test_seller_cancels_with_reason_seller_by_default(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    for status in (OrderStatus.UNPAID, OrderStatus.AWAITING_SHIPMENT):
        order = await shop.order(sessions, status)
        payload = await cancel(gql, shop.seller, oid(order))
        assert payload["userErrors"] == []
        assert payload["order"]["status"] == "CANCELLED"
        assert payload["order"]["cancelReason"] == "SELLER"
        assert payload["order"]["timeline"][-1]["actor"] == "SELLER"
        assert_gap_free(payload["order"])

    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    payload = await cancel(gql, shop.seller, oid(order), reason="OUT_OF_STOCK")
    assert payload["order"]["cancelReason"] == "OUT_OF_STOCK"
    assert payload["order"]["paymentStatus"] == "REFUNDED"


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    ],
)
async def test_no_cancelling_once_shipped(
    gql: GraphQLClient, sessions: SessionFactory, status: OrderStatus
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, status)
    for user in (shop.buyer, shop.seller):
        await refused_unchanged(
            sessions, cancel(gql, user, oid(order)), [("INVALID_TRANSITION", None)]
        )
    assert (await order_row(sessions, pk_of(oid(order)))).status == status.value


async def test_strangers_cannot_cancel(gql: GraphQLClient, sessions: SessionFactory) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.UNPAID)
    other_seller = await make_user(sessions, role="seller")
    await make_shop(sessions, owner=other_seller)
    for user in (shop.stranger, other_seller):
        await refused_unchanged(
            sessions, cancel(gql, user, oid(order)), [("NOT_FOUND", ["input", "orderId"])]
        )


# --- confirmReceipt ------------------------------------------------------------------------


async def test_buyer_confirms_a_delivered_order(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.DELIVERED)

    payload = await confirm(gql, shop.buyer, oid(order))

    assert payload["userErrors"] == []
    assert payload["order"]["status"] == "COMPLETED"
    assert payload["order"]["version"] == 6
    assert payload["order"]["timeline"][-1]["actor"] == "BUYER"
    assert_gap_free(payload["order"])
    await assert_actions(gql, shop, oid(order), "COMPLETED")


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.UNPAID,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    ],
)
async def test_confirming_before_delivery_is_refused(
    gql: GraphQLClient, sessions: SessionFactory, status: OrderStatus
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, status)
    await refused_unchanged(
        sessions, confirm(gql, shop.buyer, oid(order)), [("INVALID_TRANSITION", None)]
    )


async def test_the_seller_cannot_confirm_receipt(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    for status in (OrderStatus.DELIVERED, OrderStatus.IN_TRANSIT):
        order = await shop.order(sessions, status)
        await refused_unchanged(
            sessions, confirm(gql, shop.seller, oid(order)), [("FORBIDDEN", None)]
        )


# --- shipOrder --------------------------------------------------------------------------------


async def test_seller_ships(gql: GraphQLClient, sessions: SessionFactory) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)

    payload = await ship(gql, shop.seller, oid(order), "DHL", "JD014600006251234567")

    assert payload["userErrors"] == []
    shipped = payload["order"]
    assert (shipped["status"], shipped["version"]) == ("AWAITING_COLLECTION", 3)
    assert shipped["timeline"][-1]["actor"] == "SELLER"
    assert shipped["shipment"]["carrier"] == "DHL"
    assert shipped["shipment"]["trackingNumber"] == "JD014600006251234567"
    assert shipped["shipment"]["deliveredAt"] is None
    assert [e["kind"] for e in shipped["shipment"]["events"]] == ["LABEL_CREATED"]
    assert_gap_free(shipped)
    await assert_actions(gql, shop, oid(order), "AWAITING_COLLECTION")

    # Shipping twice is refused and makes no second shipment.
    await refused_unchanged(
        sessions, ship(gql, shop.seller, oid(order)), [("INVALID_TRANSITION", None)]
    )


async def test_the_buyer_cannot_ship(gql: GraphQLClient, sessions: SessionFactory) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    await refused_unchanged(sessions, ship(gql, shop.buyer, oid(order)), [("FORBIDDEN", None)])


async def test_shipping_an_unpaid_order_is_refused(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.UNPAID)
    await refused_unchanged(
        sessions, ship(gql, shop.seller, oid(order)), [("INVALID_TRANSITION", None)]
    )


async def test_another_shops_seller_learns_nothing(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    other_seller = await make_user(sessions, role="seller")
    await make_shop(sessions, owner=other_seller)

    theirs = await refused_unchanged(
        sessions,
        ship(gql, other_seller, oid(order)),
        [("NOT_FOUND", ["input", "orderId"])],
    )
    unknown = await ship(gql, other_seller, to_global_id("Order", 999_999))
    assert theirs == unknown


async def test_carrier_and_tracking_number_are_checked(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    cases = [
        ("", "1ZX", ["input", "carrier"]),
        ("   ", "1ZX", ["input", "carrier"]),
        ("U" * 65, "1ZX", ["input", "carrier"]),
        ("UPS", "", ["input", "trackingNumber"]),
        ("UPS", "1" * 65, ["input", "trackingNumber"]),
        ("UPS", "4111 1111 1111 1111", ["input", "trackingNumber"]),
    ]
    for carrier, tracking, field in cases:
        await refused_unchanged(
            sessions, ship(gql, shop.seller, oid(order), carrier, tracking), [("INVALID", field)]
        )


async def test_malformed_and_unknown_order_ids(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    bad = await ship(gql, shop.seller, gid("Product", shop.product))
    assert errors_of(bad) == [("INVALID", ["input", "orderId"])]
    missing = await cancel(gql, shop.buyer, to_global_id("Order", 999_999))
    assert errors_of(missing) == [("NOT_FOUND", ["input", "orderId"])]


# --- updateOrderStatus -----------------------------------------------------------------------


async def test_seller_records_transit_and_delivery(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    await ship(gql, shop.seller, oid(order))

    moving = await move(gql, shop.seller, oid(order), "IN_TRANSIT", note="Left the depot")
    assert moving["userErrors"] == []
    assert (moving["order"]["status"], moving["order"]["version"]) == ("IN_TRANSIT", 4)
    assert status_changes(moving["order"])[-1]["note"] == "Left the depot"
    assert status_changes(moving["order"])[-1]["actor"] == "SELLER"
    # The scan the step records, by the seller who recorded it.
    scanned = moving["order"]["timeline"][-1]
    assert (scanned["kind"], scanned["toStatus"], scanned["actor"]) == (
        "CARRIER_SCAN",
        "IN_TRANSIT",
        "SELLER",
    )
    assert [e["kind"] for e in moving["order"]["shipment"]["events"]] == [
        "LABEL_CREATED",
        "PICKED_UP",
    ]
    assert moving["order"]["shipment"]["deliveredAt"] is None
    await assert_actions(gql, shop, oid(order), "IN_TRANSIT")

    done = await move(gql, shop.seller, oid(order), "DELIVERED")
    assert done["userErrors"] == []
    delivered = done["order"]
    assert (delivered["status"], delivered["version"]) == ("DELIVERED", 5)
    assert delivered["shipment"]["deliveredAt"] is not None
    assert [e["kind"] for e in delivered["shipment"]["events"]] == [
        "LABEL_CREATED",
        "PICKED_UP",
        "DELIVERED",
    ]
    assert_gap_free(delivered)
    await assert_actions(gql, shop, oid(order), "DELIVERED")


async def test_update_order_status_sets_only_transit_and_delivery(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.DELIVERED)
    for status in ("COMPLETED", "CANCELLED", "AWAITING_SHIPMENT", "UNPAID"):
        await refused_unchanged(
            sessions,
            move(gql, shop.seller, oid(order), status),
            [("INVALID", ["input", "status"])],
        )


async def test_steps_cannot_be_skipped_or_repeated(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    collecting = await shop.order(sessions, OrderStatus.AWAITING_COLLECTION)
    await refused_unchanged(
        sessions,
        move(gql, shop.seller, oid(collecting), "DELIVERED"),
        [("INVALID_TRANSITION", None)],
    )
    unshipped = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    await refused_unchanged(
        sessions,
        move(gql, shop.seller, oid(unshipped), "IN_TRANSIT"),
        [("INVALID_TRANSITION", None)],
    )
    moving = await shop.order(sessions, OrderStatus.IN_TRANSIT)
    await refused_unchanged(
        sessions,
        move(gql, shop.seller, oid(moving), "IN_TRANSIT"),
        [("INVALID_TRANSITION", None)],
    )


async def test_the_buyer_cannot_update_the_status(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_COLLECTION)
    await refused_unchanged(
        sessions, move(gql, shop.buyer, oid(order), "IN_TRANSIT"), [("FORBIDDEN", None)]
    )


async def test_notes_are_checked(gql: GraphQLClient, sessions: SessionFactory) -> None:
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_COLLECTION)
    for note in ("n" * 501, "card 4111-1111-1111-1111"):
        await refused_unchanged(
            sessions,
            move(gql, shop.seller, oid(order), "IN_TRANSIT", note=note),
            [("INVALID", ["input", "note"])],
        )
    ok = await move(gql, shop.seller, oid(order), "IN_TRANSIT", note="n" * 500)
    assert ok["userErrors"] == []
    assert status_changes(ok["order"])[-1]["note"] == "n" * 500
    # A blank note is no note.
    blank = await move(gql, shop.seller, oid(order), "DELIVERED", note="   ")
    assert status_changes(blank["order"])[-1]["note"] is None


# --- operators ----------------------------------------------------------------------------------


async def test_an_operator_can_act_as_the_seller(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    operator = await make_user(sessions, role="operator")
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)

    shipped = await ship(gql, operator, oid(order))
    assert shipped["userErrors"] == []
    assert shipped["order"]["status"] == "AWAITING_COLLECTION"
    # The timeline names who acted: the operator, not the seller they stood in for.
    assert shipped["order"]["timeline"][-1]["actor"] == "OPERATOR"
    for status in ("IN_TRANSIT", "DELIVERED"):
        moved = await move(gql, operator, oid(order), status)
        assert moved["order"]["status"] == status
        assert moved["order"]["timeline"][-1]["actor"] == "OPERATOR"
    # ...but not as the buyer.
    await refused_unchanged(sessions, confirm(gql, operator, oid(order)), [("FORBIDDEN", None)])

    other = await shop.order(sessions, OrderStatus.UNPAID)
    cancelled = await cancel(gql, operator, oid(other))
    assert cancelled["order"]["cancelReason"] == "SELLER"
    assert cancelled["order"]["timeline"][-1]["actor"] == "OPERATOR"
    assert_gap_free(cancelled["order"])


# --- what a status change costs ------------------------------------------------------------------

STATUS_ONLY = """
mutation($input: UpdateOrderStatusInput!) {
  updateOrderStatus(input: $input) { order { status } userErrors { code } }
}"""


async def test_a_status_change_reads_the_order_and_roles_at_once_and_writes_its_events_at_once(
    gql: GraphQLClient, sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    # Every status change makes a live event: its statements are what each subscriber
    # waits for. The order, its shop and the viewer come in one locking read; the status
    # change and the carrier scan it records are one INSERT of two events.
    shop = await Shopfront.make(sessions)
    order = await shop.order(sessions, OrderStatus.AWAITING_SHIPMENT)
    await ship(gql, shop.seller, oid(order))
    count_statements.reset()
    data = await gql.query(
        STATUS_ONLY,
        {"input": {"orderId": oid(order), "status": "IN_TRANSIT"}},
        user_id=shop.seller.id,
    )
    assert data["updateOrderStatus"] == {"order": {"status": "IN_TRANSIT"}, "userErrors": []}
    statements = [" ".join(s.split())[:40] for s in count_statements.statements]
    event_inserts = [s for s in statements if s.startswith("INSERT INTO order_events")]
    assert len(event_inserts) == 1, statements
    reads_of_shops = [s for s in statements if "FROM shops" in s or "JOIN shops" in s]
    assert len(reads_of_shops) <= 1, statements
    # In the order they were made: the status change, then the scan it recorded.
    async with sessions() as session:
        kinds = (
            await session.execute(
                select(col(OrderEvent.kind), col(OrderEvent.to_status))
                .where(col(OrderEvent.order_id) == order.id)
                .order_by(col(OrderEvent.id).desc())
                .limit(2)
            )
        ).all()
    assert [tuple(k) for k in reversed(kinds)] == [
        ("STATUS_CHANGED", "IN_TRANSIT"),
        ("CARRIER_SCAN", "IN_TRANSIT"),
    ]
