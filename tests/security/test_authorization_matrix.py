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
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.engine import SessionFactory
from db.models import User, metadata
from domain.order_status import OrderStatus
from resolvers.context import Context
from resolvers.ids import to_global_id
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
    async with sessions() as session:
        event = (
            await session.execute(
                select(metadata.tables["order_events"].c.id).where(
                    metadata.tables["order_events"].c.order_id == unpaid.id
                )
            )
        ).scalar_one()
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
        "other_product": other_product.id,
    }
    assert all(v is not None for v in ids.values())
    return World(victim, seller, other_buyer, other_seller, {k: int(v) for k, v in ids.items()})


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
    ... on OrderEvent { toStatus }
    ... on Shop { name }
    ... on Product { title }
    ... on Payment { paymentStatus: status }
    ... on PaymentMethod { last4 }
    ... on Recommendation { score }
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
PUBLIC_TYPES = ["Shop", "Product"]


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


def _request_return(gid: str, world: World, _viewer: int, _method: int) -> dict[str, Any]:
    item = to_global_id("OrderItem", world.ids["delivered_item"])
    return {"orderId": gid, "lines": [{"orderItemId": item, "quantity": 1}], "reason": "OTHER"}


def _return_input(**extra: Any) -> Builder:
    def build(gid: str, _world: World, _viewer: int, _method: int) -> dict[str, Any]:
        return {"returnId": gid, **extra}

    return build


MUTATIONS: dict[str, tuple[str, str, str, Builder]] = {
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
subscription($id: ID) { orderStatusChanged(orderId: $id, after: "0") { id toStatus } }
"""


async def _first_answer(sessions: SessionFactory, viewer: int, order_id: str) -> Any:
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=8)
    await hub.drain()  # the hub has seen the events so far: replay can answer
    ctx = Context.for_request(viewer_id=viewer, sessions=sessions, hub=hub)
    result: Any = await schema.subscribe(SUBSCRIBE, {"id": order_id}, context_value=ctx)
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


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_subscription_to_someone_elses_order(
    sessions: SessionFactory, world: World, outsider: str
) -> None:
    viewer = _outsider(world, outsider)
    before = await snapshot(sessions)
    seen = await _first_answer(sessions, viewer, to_global_id("Order", world.ids["unpaid"]))
    absent = await _first_answer(sessions, viewer, to_global_id("Order", MISSING_PK))
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
    data, errors = await _first_answer(
        sessions, world.victim.id, to_global_id("Order", world.ids["unpaid"])
    )
    assert errors == []
    assert data["orderStatusChanged"]["toStatus"] == "UNPAID"
