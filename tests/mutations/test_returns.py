"""Returns over HTTP: request, approve or reject, cancel, ship back, receive and refund;
the refusals change nothing. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import OrderEvent, OrderReturn, Payment
from domain.order_events import RETURN_EVENTS, OrderEventKind
from tests.conftest import GraphQLClient
from tests.factories import make_user, set_delivered_at
from tests.mutations.returns_helpers import (
    codes,
    delivered,
    on_return,
    read,
    request,
    state,
)
from tests.mutations.test_place_order import pk_of
from tests.mutations.test_transitions import Shopfront, confirm


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


async def test_a_return_walks_its_lifecycle_and_refunds_in_proportion(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(2, 1))
    order_id = order["id"]
    assert order["availableActions"] == ["CONFIRM_RECEIPT", "REQUEST_RETURN"]
    assert order["paymentStatus"] == "PAID"
    first_item, second_item = (item["id"] for item in order["items"])
    subtotal, tax = cents(order["subtotal"]["amount"]), cents(order["tax"]["amount"])
    shipping = cents(order["shippingFee"]["amount"])
    assert shipping > 0

    asked = await request(gql, shop.buyer, order_id, [(first_item, 1)], note="Cracked lid")
    assert asked["userErrors"] == []
    ret = asked["orderReturn"]
    return_id = ret["id"]
    assert (ret["status"], ret["reason"], ret["note"]) == ("REQUESTED", "DAMAGED", "Cracked lid")
    assert ret["lines"][0]["quantity"] == 1
    assert ret["lines"][0]["item"]["id"] == first_item
    lines = cents(ret["subtotal"]["amount"])
    assert lines == cents(ret["lines"][0]["unitPrice"]["amount"])
    assert cents(ret["tax"]["amount"]) == tax * lines // subtotal
    assert cents(ret["shippingFee"]["amount"]) == 0
    # The buyer may withdraw it or ask for more; the seller decides.
    assert asked["order"]["availableActions"] == [
        "CONFIRM_RECEIPT",
        "REQUEST_RETURN",
        "CANCEL_RETURN",
    ]
    seller_view = await read(gql, order_id, shop.seller)
    assert seller_view["availableActions"] == ["APPROVE_RETURN", "REJECT_RETURN"]

    approved = await on_return(gql, "approveReturn", shop.seller, return_id)
    assert approved["orderReturn"]["status"] == "APPROVED"
    assert approved["orderReturn"]["decidedAt"] is not None
    shipped = await on_return(
        gql, "shipReturn", shop.buyer, return_id, carrier="USPS", trackingNumber="9400 1"
    )
    assert (shipped["orderReturn"]["status"], shipped["orderReturn"]["carrier"]) == (
        "SHIPPED_BACK",
        "USPS",
    )
    assert (await read(gql, order_id, shop.seller))["availableActions"] == ["RECEIVE_RETURN"]
    received = await on_return(gql, "receiveReturn", shop.seller, return_id)
    assert received["userErrors"] == []
    done = received["orderReturn"]
    assert done["status"] == "REFUNDED"
    assert done["receivedAt"] is not None
    assert done["refundedAt"] is not None
    assert received["order"]["paymentStatus"] == "PARTIALLY_REFUNDED"
    first_refund = cents(done["refundTotal"]["amount"])
    assert first_refund == lines + tax * lines // subtotal

    # The rest of the order: the return that completes it refunds the shipping too.
    rest = await request(gql, shop.buyer, order_id, [(first_item, 1), (second_item, 1)])
    assert rest["userErrors"] == []
    rest_id = rest["orderReturn"]["id"]
    assert cents(rest["orderReturn"]["shippingFee"]["amount"]) == shipping
    assert "REQUEST_RETURN" not in rest["order"]["availableActions"]
    await on_return(gql, "approveReturn", shop.seller, rest_id)
    await on_return(gql, "shipReturn", shop.buyer, rest_id, carrier="UPS", trackingNumber="1Z")
    last = await on_return(gql, "receiveReturn", shop.seller, rest_id)
    assert last["order"]["paymentStatus"] == "REFUNDED"
    second_refund = cents(last["orderReturn"]["refundTotal"]["amount"])
    # Every unit returned: exactly the total, tax and shipping included, paid back.
    assert first_refund + second_refund == cents(order["total"]["amount"])

    final = await read(gql, order_id, shop.buyer)
    assert [p["status"] for p in final["payments"]] == [
        "CAPTURED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ]
    assert [cents(p["amount"]["amount"]) for p in final["payments"][1:]] == [
        first_refund,
        second_refund,
    ]
    kinds = [e["kind"] for e in final["timeline"] if _of_a_return(e)]
    steps = [
        "RETURN_REQUESTED",
        "RETURN_APPROVED",
        "RETURN_SHIPPED",
        "RETURN_RECEIVED",
        "RETURN_REFUNDED",
        "REFUNDED",
    ]
    assert kinds == steps + steps
    # Steps beside the status: the status and the version stay as they were.
    for event in final["timeline"]:
        if _of_a_return(event):
            assert event["fromStatus"] == event["toStatus"] == "DELIVERED"
    assert final["availableActions"] == ["CONFIRM_RECEIPT"]
    # Each event names its return (the REFUNDED one its payments row).
    async with sessions() as session:
        events = (
            await session.execute(
                select(OrderEvent).where(col(OrderEvent.kind) != "STATUS_CHANGED")
            )
        ).scalars()
        subjects = [(e.kind, e.subject_id) for e in events if _of_a_return(e.model_dump())]
        refund_rows = (
            await session.execute(select(Payment.id).where(col(Payment.status) != "CAPTURED"))
        ).scalars()
        refund_ids = list(refund_rows)
    ids = [pk_of(return_id), pk_of(rest_id)]
    assert subjects == [
        *((kind, ids[0]) for kind in steps[:-1]),
        ("REFUNDED", refund_ids[0]),
        *((kind, ids[1]) for kind in steps[:-1]),
        ("REFUNDED", refund_ids[1]),
    ]


async def test_refusals_are_typed_and_change_nothing(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(2, 1))
    order_id, (item, other_item) = order["id"], [i["id"] for i in order["items"]]
    ok = await request(gql, shop.buyer, order_id, [(item, 2)])
    return_id = ok["orderReturn"]["id"]
    before = await state(sessions)

    async def refused(payload: dict[str, Any], expected: list[Any]) -> None:
        assert (payload["orderReturn"], payload["order"]) == (None, None), payload
        assert codes(payload) == expected
        assert await state(sessions) == before

    # A double return: both units of the line are already in a return.
    await refused(
        await request(gql, shop.buyer, order_id, [(item, 1)]),
        [("NOT_RETURNABLE", ["input", "lines", "0", "quantity"])],
    )
    await refused(
        await request(gql, shop.buyer, order_id, [(other_item, 2)]),
        [("NOT_RETURNABLE", ["input", "lines", "0", "quantity"])],
    )
    await refused(
        await request(gql, shop.buyer, order_id, [(other_item, 0), (other_item, 1)]),
        [
            ("INVALID", ["input", "lines", "0", "quantity"]),
            ("INVALID", ["input", "lines", "1", "orderItemId"]),
        ],
    )
    await refused(await request(gql, shop.buyer, order_id, []), [("INVALID", ["input", "lines"])])
    await refused(
        await request(gql, shop.buyer, order_id, [(other_item, 1)], note="x" * 501),
        [("INVALID", ["input", "note"])],
    )
    await refused(
        await request(gql, shop.buyer, order_id, [("bm90LWFuLWlk", 1)]),
        [("INVALID", ["input", "lines", "0", "orderItemId"])],
    )
    # Someone else's order, or a seller asking: nothing to see, or not theirs to ask.
    await refused(
        await request(gql, shop.stranger, order_id, [(other_item, 1)]),
        [("NOT_FOUND", ["input", "orderId"])],
    )
    await refused(
        await request(gql, shop.seller, order_id, [(other_item, 1)]), [("FORBIDDEN", None)]
    )
    # Steps out of turn or by the wrong party.
    await refused(
        await on_return(gql, "approveReturn", shop.buyer, return_id), [("FORBIDDEN", None)]
    )
    await refused(
        await on_return(
            gql, "shipReturn", shop.buyer, return_id, carrier="UPS", trackingNumber="1"
        ),
        [("INVALID_TRANSITION", None)],
    )
    await refused(
        await on_return(gql, "receiveReturn", shop.seller, return_id),
        [("INVALID_TRANSITION", None)],
    )
    await refused(
        await on_return(gql, "cancelReturn", shop.stranger, return_id),
        [("NOT_FOUND", ["input", "returnId"])],
    )
    await refused(
        await on_return(gql, "rejectReturn", shop.seller, return_id, reason="  "),
        [("INVALID", ["input", "reason"])],
    )
    # A late return: the window closed 15 days after delivery.
    async with sessions() as session:
        await session.execute(update(OrderReturn).values(status="CANCELLED"))
        await session.commit()
    before = await state(sessions)
    now = datetime.now(UTC)
    await set_delivered_at(sessions, pk_of(order_id), now - timedelta(days=15, minutes=1))
    await refused(
        await request(gql, shop.buyer, order_id, [(other_item, 1)]),
        [("NOT_RETURNABLE", ["input", "orderId"])],
    )
    assert "REQUEST_RETURN" not in (await read(gql, order_id, shop.buyer))["availableActions"]
    await set_delivered_at(sessions, pk_of(order_id), now - timedelta(days=14))
    assert "REQUEST_RETURN" in (await read(gql, order_id, shop.buyer))["availableActions"]


async def test_an_order_not_delivered_cannot_be_returned(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    from tests.mutations.test_place_order import line, place

    shop = await Shopfront.make(sessions)
    placed = await place(gql, shop.buyer, [line(shop.product, 1)])
    order_id = placed["order"]["id"]
    item = (await read(gql, order_id, shop.buyer))["items"][0]["id"]
    before = await state(sessions)
    payload = await request(gql, shop.buyer, order_id, [(item, 1)])
    assert codes(payload) == [("INVALID_TRANSITION", ["input", "orderId"])]
    assert await state(sessions) == before


async def test_rejected_and_cancelled_returns_free_their_units(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(1,))
    order_id, item = order["id"], order["items"][0]["id"]
    first = (await request(gql, shop.buyer, order_id, [(item, 1)]))["orderReturn"]["id"]
    rejected = await on_return(gql, "rejectReturn", shop.seller, first, reason="Used")
    assert (rejected["orderReturn"]["status"], rejected["orderReturn"]["rejectReason"]) == (
        "REJECTED",
        "Used",
    )
    assert rejected["order"]["availableActions"] == []  # as the seller sees it
    assert "REQUEST_RETURN" in (await read(gql, order_id, shop.buyer))["availableActions"]
    second = (await request(gql, shop.buyer, order_id, [(item, 1)], reason="OTHER"))["orderReturn"]
    await on_return(gql, "approveReturn", shop.seller, second["id"])
    cancelled = await on_return(gql, "cancelReturn", shop.buyer, second["id"])
    assert cancelled["orderReturn"]["status"] == "CANCELLED"
    third = await request(gql, shop.buyer, order_id, [(item, 1)])
    assert third["userErrors"] == []
    view = await read(gql, order_id, shop.buyer)
    assert [r["status"] for r in view["returns"]] == ["REJECTED", "CANCELLED", "REQUESTED"]
    timeline = [e["kind"] for e in view["timeline"] if _of_a_return(e)]
    assert timeline == [
        "RETURN_REQUESTED",
        "RETURN_REJECTED",
        "RETURN_REQUESTED",
        "RETURN_APPROVED",
        "RETURN_CANCELLED",
        "RETURN_REQUESTED",
    ]
    assert view["paymentStatus"] == "PAID"


async def test_a_completed_order_may_be_returned_too(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(1,))
    assert (await confirm(gql, shop.buyer, order["id"]))["userErrors"] == []
    payload = await request(gql, shop.buyer, order["id"], [(order["items"][0]["id"], 1)])
    assert payload["userErrors"] == []
    # Its line is still the buyer's to review: returning it does not take that away.
    assert payload["order"]["availableActions"] == ["CANCEL_RETURN", "REVIEW"]


async def test_a_failed_refund_leaves_it_received_and_a_retry_pays_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(1,), card="tok_refundFail")
    order_id, item = order["id"], order["items"][0]["id"]
    return_id = (await request(gql, shop.buyer, order_id, [(item, 1)]))["orderReturn"]["id"]
    await on_return(gql, "approveReturn", shop.seller, return_id)
    await on_return(gql, "shipReturn", shop.buyer, return_id, carrier="UPS", trackingNumber="1Z")

    received = await on_return(gql, "receiveReturn", shop.seller, return_id)
    assert codes(received) == [("REFUND_FAILED", None)]
    assert received["orderReturn"]["status"] == "RECEIVED"
    assert received["orderReturn"]["refundFailure"]
    assert received["order"]["paymentStatus"] == "PAID"
    assert received["order"]["availableActions"] == ["REFUND_RETURN"]
    view = await read(gql, order_id, shop.buyer)
    assert [p["status"] for p in view["payments"]] == ["CAPTURED"]
    assert view["timeline"][-1]["kind"] == "RETURN_RECEIVED"
    # Receiving again is out of turn, and changes nothing.
    before = await state(sessions)
    again = await on_return(gql, "receiveReturn", shop.seller, return_id)
    assert codes(again) == [("INVALID_TRANSITION", None)]
    buyer_retry = await on_return(gql, "refundReturn", shop.buyer, return_id)
    assert codes(buyer_retry) == [("FORBIDDEN", None)]
    assert await state(sessions) == before

    retried = await on_return(gql, "refundReturn", shop.seller, return_id)
    assert retried["userErrors"] == []
    assert retried["orderReturn"]["status"] == "REFUNDED"
    assert retried["orderReturn"]["refundFailure"] is None
    assert retried["order"]["paymentStatus"] == "REFUNDED"
    # A second retry is refused: the refund was paid once.
    before = await state(sessions)
    twice = await on_return(gql, "refundReturn", shop.seller, return_id)
    assert codes(twice) == [("INVALID_TRANSITION", None)]
    assert await state(sessions) == before
    view = await read(gql, order_id, shop.buyer)
    assert [p["status"] for p in view["payments"]] == ["CAPTURED", "REFUNDED"]
    assert view["payments"][1]["amount"] == order["total"]


async def test_an_operator_takes_the_sellers_steps_and_is_recorded_as_the_operator(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    # Receiving refunds in the same step: the refund's rule takes the role the operator
    # stands in (the seller), the timeline names the operator. It once checked the rule
    # against OPERATOR and failed the request with an internal error.
    shop = await Shopfront.make(sessions)
    operator = await make_user(sessions, role="operator")
    order = await delivered(gql, sessions, shop, quantities=(1,))
    order_id, item = order["id"], order["items"][0]["id"]
    return_id = (await request(gql, shop.buyer, order_id, [(item, 1)]))["orderReturn"]["id"]
    approved = await on_return(gql, "approveReturn", operator, return_id)
    assert approved["userErrors"] == []
    await on_return(gql, "shipReturn", shop.buyer, return_id, carrier="UPS", trackingNumber="1Z")

    received = await on_return(gql, "receiveReturn", operator, return_id)
    assert received["userErrors"] == []
    assert received["orderReturn"]["status"] == "REFUNDED"
    assert received["order"]["paymentStatus"] == "REFUNDED"
    view = await read(gql, order_id, shop.buyer)
    steps = [(e["kind"], e["actor"]) for e in view["timeline"] if e["kind"] != "STATUS_CHANGED"]
    assert steps[-4:] == [
        ("RETURN_SHIPPED", "BUYER"),
        ("RETURN_RECEIVED", "OPERATOR"),
        ("RETURN_REFUNDED", "OPERATOR"),
        ("REFUNDED", "OPERATOR"),
    ]


async def test_a_retried_request_with_its_key_returns_the_first_return(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions)
    order = await delivered(gql, sessions, shop, quantities=(2,))
    order_id, item = order["id"], order["items"][0]["id"]
    first = await request(gql, shop.buyer, order_id, [(item, 1)], key="ret-1")
    before = await state(sessions)
    second = await request(gql, shop.buyer, order_id, [(item, 1)], key="ret-1")
    assert second["orderReturn"]["id"] == first["orderReturn"]["id"]
    assert await state(sessions) == before
    other = await request(gql, shop.buyer, order_id, [(item, 2)], key="ret-1")
    assert codes(other) == [("CONFLICT", ["input", "idempotencyKey"])]
    assert await state(sessions) == before


TABS = "query { viewer { orderTabs { tab count } } }"
RETURNS_TAB = """
query {
  viewer { orders(filter: {tab: RETURNS}, first: 10) { totalCount edges { node { id tab } } } }
}
"""


async def test_the_returns_tab_lists_orders_with_a_return_not_withdrawn(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions, stock=20)
    first = await delivered(gql, sessions, shop, quantities=(1,))
    await delivered(gql, sessions, shop, quantities=(1,))  # never returned

    async def tab() -> tuple[int, list[str]]:
        counts = (await gql.query(TABS, user_id=shop.buyer.id))["viewer"]["orderTabs"]
        listed = (await gql.query(RETURNS_TAB, user_id=shop.buyer.id))["viewer"]["orders"]
        assert {c["tab"]: c["count"] for c in counts}["DELIVERED"] == 2
        returns_count = {c["tab"]: c["count"] for c in counts}["RETURNS"]
        assert listed["totalCount"] == returns_count
        # Still under its status's tab as well.
        assert all(edge["node"]["tab"] == "DELIVERED" for edge in listed["edges"])
        return returns_count, [edge["node"]["id"] for edge in listed["edges"]]

    assert await tab() == (0, [])
    asked = await request(gql, shop.buyer, first["id"], [(first["items"][0]["id"], 1)])
    assert await tab() == (1, [first["id"]])
    await on_return(gql, "rejectReturn", shop.seller, asked["orderReturn"]["id"], reason="No")
    assert await tab() == (1, [first["id"]])  # a rejected return is still shown
    again = await request(gql, shop.buyer, first["id"], [(first["items"][0]["id"], 1)])
    await on_return(gql, "cancelReturn", shop.buyer, again["orderReturn"]["id"])
    assert await tab() == (1, [first["id"]])
    async with sessions() as session:
        await session.execute(update(OrderReturn).values(status="CANCELLED"))
        await session.commit()
    assert await tab() == (0, [])


def _of_a_return(event: dict[str, Any]) -> bool:
    """A return's step, or its refund (the payment and scan events of the order's way
    to DELIVERED are on the timeline too)."""
    return event["kind"] in RETURN_EVENTS or event["kind"] == OrderEventKind.REFUNDED
