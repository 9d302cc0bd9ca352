"""Authorization matrix: outsiders learn nothing and change nothing.

For every private Node type, every mutation that takes someone's id and the
subscription, two outsiders (another buyer, and the seller of another shop) get
exactly the answer a well-formed id that does not exist gets, and the database
stays as it was.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.engine import SessionFactory
from db.models import OrderEvent, User, metadata
from domain.order_status import OrderStatus
from resolvers.context import Context
from resolvers.ids import from_global_id, to_global_id
from resolvers.subscriptions.hub import SubscriptionHub
from schema.definition import schema
from tests.conftest import token_for
from tests.factories import (
    make_order,
    make_payment,
    make_payment_method,
    make_product,
    make_recommendation,
    make_return,
    make_review,
    make_shop,
    make_tag,
    make_user,
)

MISSING_PK = 2_147_483_000
OUTSIDERS = ["other_buyer", "other_seller"]
_keys = itertools.count(1)


@dataclass
class World:
    victim: User  # buyer who owns the private things
    seller: User  # seller of the victim's shop
    other_buyer: User  # a buyer with orders and cards of their own
    other_seller: User  # the seller of another shop, with their own sales
    ids: dict[str, int]  # name -> pk of the victim's things (and a few helpers)


async def _world(sessions: SessionFactory) -> World:
    victim = await make_user(sessions, handle="victim")
    seller = await make_user(sessions, handle="victim-seller", role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=victim)
    unpaid = await make_order(sessions, buyer=victim, shop=shop, products=[product])
    awaiting_shipment = await make_order(
        sessions,
        buyer=victim,
        shop=shop,
        products=[product],
        status=OrderStatus.AWAITING_SHIPMENT,
        payment_method=method,
    )
    collection = await make_order(
        sessions,
        buyer=victim,
        shop=shop,
        products=[product],
        status=OrderStatus.AWAITING_COLLECTION,
    )
    delivered = await make_order(
        sessions, buyer=victim, shop=shop, products=[product], status=OrderStatus.DELIVERED
    )
    completed = await make_order(
        sessions,
        buyer=victim,
        shop=shop,
        products=[product, product],
        status=OrderStatus.COMPLETED,
    )
    # Posted now: still editable, so only who asks decides (the buyer may, outsiders not).
    review = await make_review(sessions, order=completed, posted_at=datetime.now(UTC))
    unreviewed_item = await session_scalar(
        sessions, "order_items", "order_id", completed.id, offset=1
    )
    payment = await make_payment(sessions, order=unpaid, status="FAILED", payment_method=method)
    returned = await make_return(sessions, order=delivered)
    recommendation = await make_recommendation(sessions, user=victim, product=product, score=0.9)
    await make_tag(sessions, user=victim, product=product)

    # The outsiders have things of their own, so their refusal is not for lack of them.
    other_buyer = await make_user(sessions, handle="other-buyer")
    other_seller = await make_user(sessions, handle="other-seller", role="seller")
    other_shop = await make_shop(sessions, owner=other_seller)
    other_product = await make_product(sessions, shop=other_shop)
    await make_order(sessions, buyer=other_buyer, shop=other_shop, products=[other_product])
    for user in (other_buyer, other_seller):
        await make_payment_method(sessions, user=user)
    # The declined attempt on the victim's timeline: an event whose subject is a payment.
    assert unpaid.id is not None
    payment_event = OrderEvent(
        order_id=unpaid.id,
        kind="PAYMENT_FAILED",
        subject_id=payment.id,
        from_status="UNPAID",
        to_status="UNPAID",
        order_version=1,
        actor="BUYER",
    )
    async with sessions() as session:
        session.add(payment_event)
        await session.commit()
        event = payment_event.id
        items = metadata.tables["order_items"]
        delivered_item = (
            await session.execute(select(items.c.id).where(items.c.order_id == delivered.id))
        ).scalar_one()
    ids = {
        "User": victim.id,
        "Order": unpaid.id,
        "OrderEvent": event,
        "Shop": shop.id,
        "Product": product.id,
        "Payment": payment.id,
        "PaymentMethod": method.id,
        "Recommendation": recommendation.id,
        "OrderReturn": returned.id,
        "unpaid": unpaid.id,
        "awaiting_shipment": awaiting_shipment.id,
        "collection": collection.id,
        "delivered": delivered.id,
        "delivered_item": delivered_item,
        "tagged_product": product.id,
        "Review": review.id,
        "unreviewed_item": unreviewed_item,
        "other_product": other_product.id,
    }
    assert all(v is not None for v in ids.values())
    return World(victim, seller, other_buyer, other_seller, {k: int(v) for k, v in ids.items()})


async def session_scalar(
    sessions: SessionFactory, table_name: str, column: str, value: Any, offset: int = 0
) -> int:
    """The id of the ``offset``-th row (by id) of a table whose ``column`` is ``value``."""
    table = metadata.tables[table_name]
    async with sessions() as session:
        found = await session.execute(
            select(table.c.id).where(table.c[column] == value).order_by(table.c.id)
        )
        return int(found.scalars().all()[offset])


@pytest.fixture
async def world(sessions: SessionFactory) -> World:
    return await _world(sessions)


def _outsider(world: World, name: str) -> int:
    user: User = getattr(world, name)
    assert user.id is not None
    return user.id


async def _own_method(sessions: SessionFactory, user_id: int) -> int:
    table = metadata.tables["payment_methods"]
    async with sessions() as session:
        found = await session.execute(select(table.c.id).where(table.c.user_id == user_id))
        return int(found.scalars().one())


async def snapshot(sessions: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a comparable form."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for table in metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            state[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return state


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], user_id: int
) -> tuple[int, dict[str, Any]]:
    """Status code and body, without the cost report (it varies with nothing secret)."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token_for(user_id)}"},
    )
    body: dict[str, Any] = response.json()
    extensions = body.get("extensions")
    if isinstance(extensions, dict):
        extensions.pop("cost", None)
        if not extensions:
            del body["extensions"]
    return response.status_code, body


# --- node / nodes -------------------------------------------------------------

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on User { handle buyAgain(first: 5) { edges { node { timesOrdered product { id } } } } }
    ... on Order { number status }
    ... on OrderEvent { toStatus payment { id status method { last4 } } }
    ... on Shop { name }
    ... on Product { title }
    ... on Payment { paymentStatus: status }
    ... on PaymentMethod { last4 }
    ... on Recommendation { score }
    ... on Review { rating reviewerName }
    ... on OrderReturn { returnStatus: status lines { quantity } }
  }
}
"""
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

PRIVATE_TYPES = [
    "User",
    "Order",
    "OrderEvent",
    "OrderReturn",
    "Payment",
    "PaymentMethod",
    "Recommendation",
]
# The catalog is public: any signed-in user sees shops and products.
PUBLIC_TYPES = ["Shop", "Product", "Review"]  # reviews name the reviewer by display name only


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("type_name", PRIVATE_TYPES + PUBLIC_TYPES)
async def test_node_and_nodes(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    world: World,
    type_name: str,
    outsider: str,
) -> None:
    viewer = _outsider(world, outsider)
    foreign = to_global_id(type_name, world.ids[type_name])
    missing = to_global_id(type_name, MISSING_PK)
    before = await snapshot(sessions)
    for query, variables in (
        (NODE, lambda gid: {"id": gid}),
        (NODES, lambda gid: {"ids": [gid]}),
    ):
        seen = await post(client, query, variables(foreign), viewer)
        absent = await post(client, query, variables(missing), viewer)
        if type_name in PUBLIC_TYPES:
            assert seen[0] == 200
            assert "errors" not in seen[1]
            found = seen[1]["data"]["node" if query is NODE else "nodes"]
            found = found if query is NODE else found[0]
            assert found["__typename"] == type_name
        else:
            assert seen == absent
            assert seen[0] == 200
            assert "errors" not in seen[1]
            assert seen[1]["data"] in ({"node": None}, {"nodes": [None]})
    assert await snapshot(sessions) == before


# --- mutations ----------------------------------------------------------------

ORDER_PAYLOAD = "order { id status } userErrors { code message field }"
PLACE = f"""
mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}
"""
PAY = f"mutation($input: PayOrderInput!) {{ payOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
CANCEL = (
    f"mutation($input: CancelOrderInput!) {{ cancelOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
CONFIRM = (
    "mutation($input: ConfirmReceiptInput!) "
    f"{{ confirmReceipt(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
SHIP = f"mutation($input: ShipOrderInput!) {{ shipOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
UPDATE = (
    "mutation($input: UpdateOrderStatusInput!) "
    f"{{ updateOrderStatus(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
UNTAG = """
mutation($input: UntagProductInput!) {
  untagProduct(input: $input) { taggedItem { id } userErrors { code message field } }
}
"""
DISMISS = """
mutation($input: DismissRecommendationInput!) {
  dismissRecommendation(input: $input) {
    recommendation { id } userErrors { code message field }
  }
}
"""
REMOVE_METHOD = """
mutation($input: RemovePaymentMethodInput!) {
  removePaymentMethod(input: $input) { paymentMethod { id } userErrors { code message field } }
}
"""
DEFAULT_METHOD = """
mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) {
    paymentMethod { id } userErrors { code message field }
  }
}
"""

RETURN_PAYLOAD = "orderReturn { id status } order { id } userErrors { code message field }"
REQUEST_RETURN = f"""
mutation($input: RequestReturnInput!) {{ requestReturn(input: $input) {{ {RETURN_PAYLOAD} }} }}
"""


def _return_step(name: str, input_type: str = "ReturnStepInput") -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {RETURN_PAYLOAD} }} }}"


ADDRESS = {
    "name": "Eve",
    "line1": "2 Side St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "US",
}

REVIEW = """
mutation($input: ReviewOrderItemInput!) {
  reviewOrderItem(input: $input) { review { id } userErrors { code message field } }
}
"""
EDIT_REVIEW = """
mutation($input: EditReviewInput!) {
  editReview(input: $input) { review { id } userErrors { code message field } }
}
"""

# name -> (operation, the victim's id it targets, Node type of that id, input builder).
# The input builder gets (global id under test, world, the outsider's id, own method id).
Builder = Callable[[str, World, int, int], dict[str, Any]]


def _order_input(**extra: Any) -> Builder:
    def build(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
        return {"orderId": gid, **extra}

    return build


def _pay(gid: str, _world: World, _viewer: int, method: int) -> dict[str, Any]:
    return {
        "orderId": gid,
        "paymentMethodId": to_global_id("PaymentMethod", method),
        "idempotencyKey": f"pay-{next(_keys)}",
    }


def _place(gid: str, world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {
        "items": [
            {"productId": to_global_id("Product", world.ids["other_product"]), "quantity": 1}
        ],
        "shippingAddress": ADDRESS,
        "paymentMethodId": gid,
        "idempotencyKey": f"place-{next(_keys)}",
    }


def _product(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {"productId": gid}


def _recommendation(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {"recommendationId": gid}


def _method(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {"paymentMethodId": gid}


def _review(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {"orderItemId": gid, "rating": 1, "text": "outsider"}


def _edit_review(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
    return {"reviewId": gid, "rating": 1}


def _request_return(gid: str, world: World, _viewer: int, _method: int) -> dict[str, Any]:
    item = to_global_id("OrderItem", world.ids["delivered_item"])
    return {"orderId": gid, "lines": [{"orderItemId": item, "quantity": 1}], "reason": "OTHER"}


def _return_input(**extra: Any) -> Builder:
    def build(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
        return {"returnId": gid, **extra}

    return build


MUTATIONS: dict[str, tuple[str, str, str, Builder]] = {
    "reviewOrderItem": (REVIEW, "unreviewed_item", "OrderItem", _review),
    "editReview": (EDIT_REVIEW, "Review", "Review", _edit_review),
    "placeOrder/foreign-method": (PLACE, "PaymentMethod", "PaymentMethod", _place),
    "payOrder": (PAY, "unpaid", "Order", _pay),
    "cancelOrder": (CANCEL, "unpaid", "Order", _order_input()),
    "confirmReceipt": (CONFIRM, "delivered", "Order", _order_input()),
    "shipOrder": (
        SHIP,
        "awaiting_shipment",
        "Order",
        _order_input(carrier="UPS", trackingNumber="1Z999"),
    ),
    "updateOrderStatus": (UPDATE, "collection", "Order", _order_input(status="IN_TRANSIT")),
    "untagProduct/tagged-by-someone-else": (UNTAG, "tagged_product", "Product", _product),
    "dismissRecommendation": (DISMISS, "Recommendation", "Recommendation", _recommendation),
    "removePaymentMethod": (REMOVE_METHOD, "PaymentMethod", "PaymentMethod", _method),
    "setDefaultPaymentMethod": (DEFAULT_METHOD, "PaymentMethod", "PaymentMethod", _method),
    "requestReturn": (REQUEST_RETURN, "delivered", "Order", _request_return),
    **{
        name: (_return_step(name), "OrderReturn", "OrderReturn", _return_input())
        for name in (
            "approveReturn",
            "cancelReturn",
            "receiveReturn",
            "refundReturn",
        )
    },
    "rejectReturn": (
        _return_step("rejectReturn", "RejectReturnInput"),
        "OrderReturn",
        "OrderReturn",
        _return_input(reason="No"),
    ),
    "shipReturn": (
        _return_step("shipReturn", "ShipReturnInput"),
        "OrderReturn",
        "OrderReturn",
        _return_input(carrier="UPS", trackingNumber="1Z"),
    ),
}


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_mutation_on_someone_elses(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    world: World,
    mutation: str,
    outsider: str,
) -> None:
    query, target, type_name, build = MUTATIONS[mutation]
    viewer = _outsider(world, outsider)
    method = await _own_method(sessions, viewer)
    foreign = to_global_id(type_name, world.ids[target])
    missing = to_global_id(type_name, MISSING_PK)
    before = await snapshot(sessions)
    seen = await post(client, query, {"input": build(foreign, world, viewer, method)}, viewer)
    assert await snapshot(sessions) == before
    absent = await post(client, query, {"input": build(missing, world, viewer, method)}, viewer)
    assert seen == absent
    assert seen[0] == 200
    (payload,) = seen[1]["data"].values()
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert await snapshot(sessions) == before


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_own_tag_and_history_leave_others_alone(
    client: httpx.AsyncClient, sessions: SessionFactory, world: World, outsider: str
) -> None:
    """tagProduct and clearRecentlyViewed act on the viewer's own rows only."""
    viewer = _outsider(world, outsider)
    before = await snapshot(sessions)
    status, body = await post(
        client,
        "mutation { clearRecentlyViewed { clearedCount userErrors { code } } }",
        {},
        viewer,
    )
    assert status == 200
    assert body["data"]["clearRecentlyViewed"] == {"clearedCount": 0, "userErrors": []}
    assert await snapshot(sessions) == before
    product = to_global_id("Product", world.ids["tagged_product"])
    status, body = await post(
        client,
        "mutation($input: TagProductInput!) { tagProduct(input: $input) "
        "{ taggedItem { id sourceVideoId } userErrors { code } } }",
        {"input": {"productId": product, "sourceVideoId": "outsider-video"}},
        viewer,
    )
    assert status == 200
    assert body["data"]["tagProduct"]["userErrors"] == []
    after = await snapshot(sessions)
    # Only a new tag of the outsider's own; the victim's tag is untouched.
    assert {k: v for k, v in after.items() if k != "tagged_items"} == {
        k: v for k, v in before.items() if k != "tagged_items"
    }
    assert set(before["tagged_items"]) <= set(after["tagged_items"])
    (added,) = set(after["tagged_items"]) - set(before["tagged_items"])
    assert viewer in added


# --- subscription -------------------------------------------------------------


class NoWakeUps:
    async def listen(self) -> AsyncIterator[object]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover


# From the first event on: were it allowed, the replay would answer at once.
SUBSCRIBE = """
subscription($id: ID) { %s(orderId: $id, after: "0") { id toStatus } }
"""
SUBSCRIPTIONS = ["orderStatusChanged", "orderUpdated"]


async def _first_answer(
    sessions: SessionFactory, viewer: int, order_id: str, field: str = "orderStatusChanged"
) -> Any:
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=8)
    await hub.drain()  # the hub has seen the events so far: replay can answer
    ctx = Context.for_request(viewer_id=viewer, sessions=sessions, hub=hub)
    document = SUBSCRIBE % field
    result: Any = await schema.subscribe(document, {"id": order_id}, context_value=ctx)
    if hasattr(result, "__anext__"):
        stream = result
        try:
            result = await asyncio.wait_for(anext(stream), 5)
        finally:
            await stream.aclose()
    return (
        result.data,
        [error.formatted for error in (result.errors or [])],
    )


@pytest.mark.parametrize("field", SUBSCRIPTIONS)
@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_subscription_to_someone_elses_order(
    sessions: SessionFactory, world: World, outsider: str, field: str
) -> None:
    viewer = _outsider(world, outsider)
    before = await snapshot(sessions)
    foreign = to_global_id("Order", world.ids["unpaid"])
    seen = await _first_answer(sessions, viewer, foreign, field)
    absent = await _first_answer(sessions, viewer, to_global_id("Order", MISSING_PK), field)
    assert seen == absent
    data, errors = seen
    assert data is None
    assert [e["message"] for e in errors] == ["No such order."]
    assert await snapshot(sessions) == before


# --- the rightful users do get through (the matrix is not vacuous) ------------


async def test_the_owner_and_the_seller_see_what_outsiders_do_not(
    client: httpx.AsyncClient, sessions: SessionFactory, world: World
) -> None:
    assert world.victim.id is not None
    assert world.seller.id is not None
    for type_name in PRIVATE_TYPES:
        gid = to_global_id(type_name, world.ids[type_name])
        status, body = await post(client, NODE, {"id": gid}, world.victim.id)
        assert status == 200
        assert body["data"]["node"]["id"] == gid, (type_name, body)
    for type_name in ("Order", "OrderEvent", "OrderReturn", "Payment"):
        gid = to_global_id(type_name, world.ids[type_name])
        status, body = await post(client, NODE, {"id": gid}, world.seller.id)
        assert status == 200
        assert body["data"]["node"]["id"] == gid, (type_name, body)
    for field in SUBSCRIPTIONS:
        for viewer in (world.victim.id, world.seller.id):
            data, errors = await _first_answer(
                sessions, viewer, to_global_id("Order", world.ids["unpaid"]), field
            )
            assert errors == []
            assert data[field]["toStatus"] == "UNPAID"


async def test_an_events_payment_shows_as_the_orders_payments_show_it(
    client: httpx.AsyncClient, world: World
) -> None:
    """The buyer sees the payment an event names with their card; the seller sees the
    payment, never the buyer's card: the same as Order.payments shows each of them."""
    assert world.victim.id is not None
    assert world.seller.id is not None
    event_id = to_global_id("OrderEvent", world.ids["OrderEvent"])
    payments = (
        "query($id: ID!) { node(id: $id) { ... on Order "
        "{ payments { id status method { last4 } } } } }"
    )
    order_id = to_global_id("Order", world.ids["unpaid"])
    shown = {}
    for viewer in (world.victim.id, world.seller.id):
        _, body = await post(client, NODE, {"id": event_id}, viewer)
        named = body["data"]["node"]["payment"]
        _, listed = await post(client, payments, {"id": order_id}, viewer)
        assert listed["data"]["node"]["payments"] == [named]
        shown[viewer] = named
    assert shown[world.victim.id]["id"] == to_global_id("Payment", world.ids["Payment"])
    assert shown[world.victim.id]["status"] == "FAILED"
    assert shown[world.victim.id]["method"] == {"last4": "4242"}
    assert shown[world.seller.id] == {**shown[world.victim.id], "method": None}


async def test_the_buyer_reviews_and_edits_what_outsiders_cannot(
    client: httpx.AsyncClient, world: World
) -> None:
    assert world.victim.id is not None
    for name in ("reviewOrderItem", "editReview"):
        query, target, type_name, build = MUTATIONS[name]
        gid = to_global_id(type_name, world.ids[target])
        status, body = await post(
            client, query, {"input": build(gid, world, 0, 0)}, world.victim.id
        )
        (payload,) = body["data"].values()
        assert (status, payload["userErrors"]) == (200, []), body
        assert from_global_id(payload["review"]["id"])[0] == "Review"
