"""node/nodes/product by global id, and who may see what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select, update

from db.engine import SessionFactory
from db.models import Order as OrderRow
from db.models import OrderEvent, OrderItem, Payment, PaymentMethod, Product, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    make_order,
    make_payment,
    make_payment_method,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
)

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on User { handle }
    ... on Order { number status availableActions paymentStatus total { amount currencyCode } }
    ... on OrderEvent { toStatus order { id } }
    ... on Shop { name }
    ... on Product { title price { amount currencyCode } viewerHasTagged }
    ... on Payment { paymentState: status amount { amount currencyCode } order { id } }
    ... on PaymentMethod { last4 }
    ... on Recommendation { score product { id } }
  }
}
"""

NODES = """
query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }
"""

PRODUCT = """
query Product($id: ID!) { product(id: $id) { id title viewerHasTagged } }
"""

MISSING_PK = 999_999


@dataclass
class Owned:
    """One object of every Node type, all belonging to (or visible to) ``owner``."""

    owner: User
    seller: User
    order: OrderRow
    ids: dict[str, str]  # Node type -> global id


async def _first(sessions: SessionFactory, model: Any, *where: Any) -> Any:
    async with sessions() as session:
        row = (await session.execute(select(model).where(*where).order_by(model.id))).scalars()
        return row.first()


async def _owned(sessions: SessionFactory, handle: str) -> Owned:
    owner = await make_user(sessions, handle=handle)
    seller = await make_user(sessions, handle=f"{handle}-seller", role="seller")
    shop = await make_shop(sessions, owner=seller, name=f"{handle}'s shop")
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=owner)
    order = await make_order(
        sessions,
        buyer=owner,
        shop=shop,
        products=[product],
        status=OrderStatus.AWAITING_SHIPMENT,
        payment_method=method,
    )
    rec = await make_recommendation(sessions, user=owner, product=product, score=0.5)
    event = await _first(sessions, OrderEvent, col(OrderEvent.order_id) == order.id)
    payment = await _first(sessions, Payment, col(Payment.order_id) == order.id)
    rows: dict[str, Any] = {
        "User": owner,
        "Order": order,
        "OrderEvent": event,
        "Shop": shop,
        "Product": product,
        "Payment": payment,
        "PaymentMethod": method,
        "Recommendation": rec,
    }
    ids = {name: to_global_id(name, row.id) for name, row in rows.items()}
    return Owned(owner=owner, seller=seller, order=order, ids=ids)


NODE_TYPES = [
    "User",
    "Order",
    "OrderEvent",
    "Shop",
    "Product",
    "Payment",
    "PaymentMethod",
    "Recommendation",
]
PRIVATE_TYPES = [t for t in NODE_TYPES if t not in ("Shop", "Product")]


async def _node(gql: GraphQLClient, global_id: str, user: User | None) -> Any:
    data = await gql.query(NODE, {"id": global_id}, user_id=None if user is None else user.id)
    return data["node"]


@pytest.mark.parametrize("type_name", NODE_TYPES)
async def test_owner_gets_every_node_type(
    gql: GraphQLClient, sessions: SessionFactory, type_name: str
) -> None:
    mine = await _owned(sessions, "ada")
    node = await _node(gql, mine.ids[type_name], mine.owner)
    assert node is not None
    assert node["__typename"] == type_name
    assert node["id"] == mine.ids[type_name]


async def test_owner_sees_the_details(gql: GraphQLClient, sessions: SessionFactory) -> None:
    mine = await _owned(sessions, "ada")
    user = await _node(gql, mine.ids["User"], mine.owner)
    assert user["handle"] == "ada"
    event = await _node(gql, mine.ids["OrderEvent"], mine.owner)
    assert event["toStatus"] == "UNPAID"  # the first event: order placed
    assert event["order"]["id"] == mine.ids["Order"]
    payment = await _node(gql, mine.ids["Payment"], mine.owner)
    assert payment["paymentState"] == "CAPTURED"
    assert payment["order"]["id"] == mine.ids["Order"]
    rec = await _node(gql, mine.ids["Recommendation"], mine.owner)
    assert rec["product"]["id"] == mine.ids["Product"]


@pytest.mark.parametrize("type_name", PRIVATE_TYPES)
async def test_another_buyer_gets_null_exactly_like_a_missing_id(
    gql: GraphQLClient, sessions: SessionFactory, type_name: str
) -> None:
    mine = await _owned(sessions, "ada")
    theirs = await _owned(sessions, "bob")
    missing = to_global_id(type_name, MISSING_PK)
    for viewer in (mine.owner, None):
        viewer_id = None if viewer is None else viewer.id
        someone_elses = await gql.raw(NODE, {"id": theirs.ids[type_name]}, user_id=viewer_id)
        nonexistent = await gql.raw(NODE, {"id": missing}, user_id=viewer_id)
        assert someone_elses == nonexistent == {"data": {"node": None}}
    # Still theirs to see.
    assert (await _node(gql, theirs.ids[type_name], theirs.owner)) is not None


@pytest.mark.parametrize("type_name", ["Shop", "Product"])
async def test_shops_and_products_are_public(
    gql: GraphQLClient, sessions: SessionFactory, type_name: str
) -> None:
    theirs = await _owned(sessions, "bob")
    stranger = await make_user(sessions)
    for viewer in (None, stranger):
        node = await _node(gql, theirs.ids[type_name], viewer)
        assert node["__typename"] == type_name
        assert node["id"] == theirs.ids[type_name]


async def test_signed_out_sees_public_nodes_only(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "ada")
    data = await gql.query(NODES, {"ids": [mine.ids[t] for t in NODE_TYPES]})
    visible = {t: n is not None for t, n in zip(NODE_TYPES, data["nodes"], strict=True)}
    assert visible == {t: t in ("Shop", "Product") for t in NODE_TYPES}
    product = await gql.query(PRODUCT, {"id": mine.ids["Product"]})
    assert product["product"]["id"] == mine.ids["Product"]
    assert product["product"]["viewerHasTagged"] is False


async def test_viewer_needs_a_token(gql: GraphQLClient, sessions: SessionFactory) -> None:
    error = await gql.error("{ viewer { id } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


BUYER_ACTIONS: dict[OrderStatus, list[str]] = {
    OrderStatus.UNPAID: ["PAY", "CANCEL"],
    OrderStatus.AWAITING_SHIPMENT: ["CANCEL"],
    OrderStatus.AWAITING_COLLECTION: [],
    OrderStatus.IN_TRANSIT: [],
    OrderStatus.DELIVERED: ["CONFIRM_RECEIPT"],
    OrderStatus.COMPLETED: ["REVIEW"],  # its one line is not reviewed yet
    OrderStatus.CANCELLED: [],
}
SELLER_ACTIONS: dict[OrderStatus, list[str]] = {
    OrderStatus.UNPAID: ["CANCEL"],
    OrderStatus.AWAITING_SHIPMENT: ["CANCEL", "SHIP"],
    OrderStatus.AWAITING_COLLECTION: ["MARK_IN_TRANSIT"],
    OrderStatus.IN_TRANSIT: ["MARK_DELIVERED"],
    OrderStatus.DELIVERED: [],
    OrderStatus.COMPLETED: [],
    OrderStatus.CANCELLED: [],
}


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
async def test_buyer_and_seller_see_their_actions(
    gql: GraphQLClient, sessions: SessionFactory, status: OrderStatus
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    stranger = await make_user(sessions)
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)
    assert order.id is not None
    order_id = to_global_id("Order", order.id)
    as_buyer = await _node(gql, order_id, buyer)
    assert as_buyer["status"] == status.value
    assert as_buyer["availableActions"] == BUYER_ACTIONS[status]
    as_seller = await _node(gql, order_id, seller)
    assert as_seller["id"] == order_id
    assert as_seller["availableActions"] == SELLER_ACTIONS[status]
    assert await _node(gql, order_id, stranger) is None


async def test_seller_sees_the_orders_events_and_payments_but_not_the_buyer(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "ada")
    for type_name in ("Order", "OrderEvent", "Payment"):
        node = await _node(gql, mine.ids[type_name], mine.seller)
        assert node["__typename"] == type_name
    for type_name in ("User", "PaymentMethod", "Recommendation"):
        assert await _node(gql, mine.ids[type_name], mine.seller) is None
    # The seller of another shop sees none of it.
    other_seller = (await _owned(sessions, "bob")).seller
    for type_name in PRIVATE_TYPES:
        assert await _node(gql, mine.ids[type_name], other_seller) is None


async def test_seller_sees_a_payment_but_not_the_buyers_card(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "cy")
    query = "query($id: ID!) { node(id: $id) { ... on Payment { status method { last4 } } } }"
    as_buyer = await gql.query(query, {"id": mine.ids["Payment"]}, user_id=mine.owner.id)
    assert as_buyer["node"] == {"status": "CAPTURED", "method": {"last4": "4242"}}
    as_seller = await gql.query(query, {"id": mine.ids["Payment"]}, user_id=mine.seller.id)
    assert as_seller["node"] == {"status": "CAPTURED", "method": None}


async def test_seller_buying_from_own_shop_holds_both_roles(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop)
    order = await make_order(
        sessions,
        buyer=seller,
        shop=shop,
        products=[product],
        status=OrderStatus.AWAITING_SHIPMENT,
    )
    assert order.id is not None
    node = await _node(gql, to_global_id("Order", order.id), seller)
    assert node["availableActions"] == ["CANCEL", "SHIP"]


async def test_operator_acts_as_seller_on_any_order(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "ada")
    operator = await make_user(sessions, role="operator")
    node = await _node(gql, mine.ids["Order"], operator)
    assert node["availableActions"] == ["CANCEL", "SHIP"]
    assert await _node(gql, mine.ids["PaymentMethod"], operator) is None


MALFORMED = ["", "garbage!", to_global_id("User", 1) + "==", "U3BhY2VzaGlwOjE", "VXNlcjow"]


@pytest.mark.parametrize("bad_id", MALFORMED)
async def test_malformed_ids_are_bad_user_input(
    gql: GraphQLClient, sessions: SessionFactory, bad_id: str
) -> None:
    mine = await _owned(sessions, "ada")
    error = await gql.error(NODE, {"id": bad_id}, user_id=mine.owner.id)
    assert error["message"] == f"{bad_id!r} is not a valid id."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "id"}
    error = await gql.error(NODES, {"ids": [mine.ids["Shop"], bad_id]}, user_id=mine.owner.id)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "ids"}
    error = await gql.error(PRODUCT, {"id": bad_id}, user_id=mine.owner.id)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "id"}


@pytest.mark.parametrize("pk", [2**31, 2**63, 2**70])
async def test_ids_beyond_any_row_are_bad_user_input_not_a_crash(
    gql: GraphQLClient, sessions: SessionFactory, pk: int
) -> None:
    buyer = await make_user(sessions)
    for type_name in ("Order", "Product"):
        error = await gql.error(NODE, {"id": to_global_id(type_name, pk)}, user_id=buyer.id)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await gql.error(PRODUCT, {"id": to_global_id("Product", pk)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_product_by_id(gql: GraphQLClient, sessions: SessionFactory) -> None:
    mine = await _owned(sessions, "ada")
    found = await gql.query(PRODUCT, {"id": mine.ids["Product"]}, user_id=mine.owner.id)
    assert found["product"]["id"] == mine.ids["Product"]
    missing = await gql.query(PRODUCT, {"id": to_global_id("Product", MISSING_PK)})
    assert missing == {"product": None}


@pytest.mark.parametrize("type_name", ["Order", "Shop", "User"])
async def test_product_with_another_types_id_is_an_error(
    gql: GraphQLClient, sessions: SessionFactory, type_name: str
) -> None:
    mine = await _owned(sessions, "ada")
    wrong = mine.ids[type_name]
    error = await gql.error(PRODUCT, {"id": wrong}, user_id=mine.owner.id)
    assert error["message"] == f"{wrong!r} is not a Product id."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "id"}


async def test_nodes_preserves_order_with_nulls_in_place(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "ada")
    theirs = await _owned(sessions, "bob")
    ids = [
        mine.ids["Shop"],
        theirs.ids["Order"],
        mine.ids["Order"],
        to_global_id("Product", MISSING_PK),
        mine.ids["Recommendation"],
        theirs.ids["PaymentMethod"],
        mine.ids["Shop"],
        mine.ids["User"],
    ]
    data = await gql.query(NODES, {"ids": ids}, user_id=mine.owner.id)
    nodes = data["nodes"]
    assert [None if n is None else n["id"] for n in nodes] == [
        ids[0],
        None,
        ids[2],
        None,
        ids[4],
        None,
        ids[6],
        ids[7],
    ]
    assert [None if n is None else n["__typename"] for n in nodes] == [
        "Shop",
        None,
        "Order",
        None,
        "Recommendation",
        None,
        "Shop",
        "User",
    ]


async def test_nodes_limit(gql: GraphQLClient, sessions: SessionFactory) -> None:
    mine = await _owned(sessions, "ada")
    exactly = [to_global_id("Product", pk) for pk in range(1, 101)]
    data = await gql.query(NODES, {"ids": exactly}, user_id=mine.owner.id)
    assert len(data["nodes"]) == 100
    assert data["nodes"][0]["id"] == exactly[0]
    too_many = [*exactly, mine.ids["Shop"]]
    error = await gql.error(NODES, {"ids": too_many}, user_id=mine.owner.id)
    assert error["message"] == "At most 100 ids at once."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "ids"}
    assert (await gql.query(NODES, {"ids": []}, user_id=mine.owner.id)) == {"nodes": []}


async def test_ids_of_non_node_objects_resolve_to_null(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    mine = await _owned(sessions, "ada")
    item = await _first(sessions, OrderItem, col(OrderItem.order_id) == mine.order.id)
    product = await _first(sessions, Product)
    tag = await make_tag(sessions, user=mine.owner, product=product)
    ids = [to_global_id("OrderItem", item.id), to_global_id("TaggedItem", tag.id)]
    data = await gql.query(NODES, {"ids": ids}, user_id=mine.owner.id)
    assert data == {"nodes": [None, None]}


RECOMMENDATIONS = "{ viewer { recommendations { totalCount edges { node { id } } } } }"


async def test_dismissed_recommendations_are_neither_listed_nor_visible(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(3)]
    kept = await make_recommendation(sessions, user=buyer, product=products[0], score=0.4)
    dismissed = await make_recommendation(
        sessions, user=buyer, product=products[1], score=0.9, dismissed=True
    )
    assert kept.id is not None
    assert dismissed.id is not None
    kept_id = to_global_id("Recommendation", kept.id)
    dismissed_id = to_global_id("Recommendation", dismissed.id)
    data = await gql.query(RECOMMENDATIONS, user_id=buyer.id)
    recs = data["viewer"]["recommendations"]
    assert [e["node"]["id"] for e in recs["edges"]] == [kept_id]
    assert recs["totalCount"] == 1
    assert await _node(gql, dismissed_id, buyer) is None
    assert (await _node(gql, kept_id, buyer))["id"] == kept_id


async def _remove(sessions: SessionFactory, method: PaymentMethod) -> None:
    async with sessions() as session:
        await session.execute(
            update(PaymentMethod)
            .where(col(PaymentMethod.id) == method.id)
            .values(removed_at=datetime(2026, 1, 2, tzinfo=UTC))
        )
        await session.commit()


async def test_removed_payment_methods_are_not_listed(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    default = await make_payment_method(sessions, user=buyer, last4="1111", is_default=True)
    await make_payment_method(sessions, user=buyer, last4="2222", is_default=False)
    removed = await make_payment_method(sessions, user=buyer, last4="3333", is_default=False)
    await make_payment_method(sessions, user=await make_user(sessions), last4="9999")
    await _remove(sessions, removed)
    data = await gql.query("{ viewer { paymentMethods { id last4 isDefault } } }", user_id=buyer.id)
    methods = data["viewer"]["paymentMethods"]
    assert [m["last4"] for m in methods] == ["1111", "2222"]  # default first
    assert methods[0]["isDefault"] is True
    assert default.id is not None
    assert removed.id is not None
    assert methods[0]["id"] == to_global_id("PaymentMethod", default.id)
    assert await _node(gql, to_global_id("PaymentMethod", removed.id), buyer) is None


async def test_viewer_has_tagged(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    shop = await make_shop(sessions)
    tagged = await make_product(sessions, shop=shop)
    untagged = await make_product(sessions, shop=shop)
    await make_tag(sessions, user=buyer, product=tagged)
    await make_tag(sessions, user=other, product=untagged)
    assert tagged.id is not None
    assert untagged.id is not None
    ids = [to_global_id("Product", tagged.id), to_global_id("Product", untagged.id)]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { viewerHasTagged } } }"

    async def flags(user: User | None) -> list[bool]:
        data = await gql.query(query, {"ids": ids}, user_id=None if user is None else user.id)
        return [n["viewerHasTagged"] for n in data["nodes"]]

    assert await flags(buyer) == [True, False]
    assert await flags(other) == [False, True]
    assert await flags(None) == [False, False]


PAYMENT_STATUS = """
query($id: ID!) { node(id: $id) { ... on Order { status paymentStatus payments { status } } } }
"""


async def _payment_status(gql: GraphQLClient, order: OrderRow, buyer: User) -> dict[str, Any]:
    assert order.id is not None
    data = await gql.query(
        PAYMENT_STATUS, {"id": to_global_id("Order", order.id)}, user_id=buyer.id
    )
    node: dict[str, Any] = data["node"]
    return node


async def test_order_payment_status(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)

    async def order(status: OrderStatus) -> OrderRow:
        return await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)

    unpaid = await _payment_status(gql, await order(OrderStatus.UNPAID), buyer)
    assert (unpaid["paymentStatus"], unpaid["payments"]) == ("UNPAID", [])

    failed_order = await order(OrderStatus.UNPAID)
    await make_payment(sessions, order=failed_order, status="FAILED")
    await make_payment(sessions, order=failed_order, status="PENDING")
    failed = await _payment_status(gql, failed_order, buyer)
    assert failed["paymentStatus"] == "UNPAID"
    assert [p["status"] for p in failed["payments"]] == ["FAILED", "PENDING"]

    paid = await _payment_status(gql, await order(OrderStatus.AWAITING_SHIPMENT), buyer)
    assert (paid["paymentStatus"], paid["payments"]) == ("PAID", [{"status": "CAPTURED"}])

    # Paid, then cancelled by the seller and given back.
    refunded_order = await order(OrderStatus.AWAITING_SHIPMENT)
    await make_payment(sessions, order=refunded_order, status="REFUNDED")
    refunded = await _payment_status(gql, refunded_order, buyer)
    assert refunded["paymentStatus"] == "REFUNDED"
    assert [p["status"] for p in refunded["payments"]] == ["CAPTURED", "REFUNDED"]


MONEY = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product { price { amount currencyCode } }
    ... on Order {
      subtotal { amount currencyCode } shippingFee { amount } tax { amount }
      total { amount currencyCode }
      items { unitPrice { amount } total { amount } }
    }
  }
}
"""


async def test_money_is_serialized_as_exact_strings(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    usd = await make_product(sessions, shop=shop, price_minor=1999)
    jpy = await make_product(sessions, shop=shop, price_minor=1999, currency="JPY")
    kwd = await make_product(sessions, shop=shop, price_minor=1999, currency="KWD")
    free = await make_product(sessions, shop=shop, price_minor=0)
    # 2 x 19.99 = 39.98; tax 8% floored = 3.19; shipping 4.99; total 48.16.
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[usd], quantity=2)
    ids = [to_global_id("Product", p.id) for p in (usd, jpy, kwd, free) if p.id is not None]
    assert order.id is not None
    ids.append(to_global_id("Order", order.id))
    nodes = (await gql.query(MONEY, {"ids": ids}, user_id=buyer.id))["nodes"]
    assert [n["price"] for n in nodes[:4]] == [
        {"amount": "19.99", "currencyCode": "USD"},
        {"amount": "1999", "currencyCode": "JPY"},
        {"amount": "1.999", "currencyCode": "KWD"},
        {"amount": "0.00", "currencyCode": "USD"},
    ]
    assert nodes[4] == {
        "subtotal": {"amount": "39.98", "currencyCode": "USD"},
        "shippingFee": {"amount": "4.99"},
        "tax": {"amount": "3.19"},
        "total": {"amount": "48.16", "currencyCode": "USD"},
        "items": [{"unitPrice": {"amount": "19.99"}, "total": {"amount": "39.98"}}],
    }


async def test_money_on_a_payment(gql: GraphQLClient, sessions: SessionFactory) -> None:
    mine = await _owned(sessions, "ada")
    payment = await _node(gql, mine.ids["Payment"], mine.owner)
    order = await _node(gql, mine.ids["Order"], mine.owner)
    assert payment["amount"] == order["total"]
    assert isinstance(payment["amount"]["amount"], str)
    # 19.99 + 4.99 shipping + 1.59 tax (8%, floored).
    assert payment["amount"] == {"amount": "26.57", "currencyCode": "USD"}
