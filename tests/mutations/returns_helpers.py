"""Shared by the returns tests: a delivered order made over HTTP, and the mutations."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import (
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderReturn,
    Payment,
    PaymentMethod,
    Product,
    ReturnLine,
    User,
)
from tests.conftest import GraphQLClient
from tests.factories import make_payment_method, make_product
from tests.mutations.test_place_order import line, place
from tests.mutations.test_transitions import Shopfront, move, ship

_orders = itertools.count(1)
RETURN_SELECTION = """
    id status reason note rejectReason carrier trackingNumber refundFailure
    subtotal { amount currencyCode } tax { amount } shippingFee { amount }
    refundTotal { amount } requestedAt decidedAt shippedAt receivedAt refundedAt
    lines { quantity unitPrice { amount } total { amount } item { id title quantity } }
    order { id }
"""
RETURN_FIELDS = (
    f"orderReturn {{ {RETURN_SELECTION} }} order {{ id paymentStatus availableActions }} "
    "userErrors { field code message }"
)
INPUTS = {
    "requestReturn": "RequestReturnInput",
    "approveReturn": "ReturnStepInput",
    "rejectReturn": "RejectReturnInput",
    "cancelReturn": "ReturnStepInput",
    "shipReturn": "ShipReturnInput",
    "receiveReturn": "ReturnStepInput",
    "refundReturn": "ReturnStepInput",
}
ORDER_WITH_RETURNS = f"""
query($id: ID!) {{
  node(id: $id) {{
    ... on Order {{
      id status paymentStatus availableActions total {{ amount }} subtotal {{ amount }}
      tax {{ amount }} shippingFee {{ amount }}
      items {{ id quantity }}
      payments {{ status amount {{ amount }} }}
      timeline {{ kind fromStatus toStatus orderVersion actor note }}
      returns {{ {RETURN_SELECTION} }}
    }}
  }}
}}
"""
TABLES = (IdempotencyKey, Order, OrderEvent, OrderReturn, ReturnLine, Payment)


async def step(
    gql: GraphQLClient, name: str, input_: dict[str, Any], *, user: User
) -> dict[str, Any]:
    """The payload of one return mutation; fails on any GraphQL error."""
    query = f"mutation($input: {INPUTS[name]}!) {{ {name}(input: $input) {{ {RETURN_FIELDS} }} }}"
    data = await gql.query(query, {"input": input_}, user_id=user.id)
    payload: dict[str, Any] = data[name]
    return payload


async def request(
    gql: GraphQLClient,
    user: User,
    order_id: str,
    lines: list[tuple[str, int]],
    *,
    reason: str = "DAMAGED",
    note: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    input_: dict[str, Any] = {
        "orderId": order_id,
        "lines": [{"orderItemId": item, "quantity": n} for item, n in lines],
        "reason": reason,
    }
    if note is not None:
        input_["note"] = note
    if key is not None:
        input_["idempotencyKey"] = key
    return await step(gql, "requestReturn", input_, user=user)


async def on_return(
    gql: GraphQLClient, name: str, user: User, return_id: str, **extra: Any
) -> dict[str, Any]:
    return await step(gql, name, {"returnId": return_id, **extra}, user=user)


async def read(gql: GraphQLClient, order_id: str, user: User) -> dict[str, Any]:
    data = await gql.query(ORDER_WITH_RETURNS, {"id": order_id}, user_id=user.id)
    order: dict[str, Any] = data["node"]
    return order


async def delivered(
    gql: GraphQLClient,
    sessions: SessionFactory,
    shop: Shopfront,
    *,
    quantities: tuple[int, ...] = (2, 1),
    card: str = "tok_visa",
    tracking: str = "1Z999AA10123456784",
) -> dict[str, Any]:
    """An order placed, paid with a card of processor token ``card``, shipped and
    delivered over HTTP, one product of the shop per quantity. Returns the order as the
    buyer reads it."""
    method = await make_payment_method(sessions, user=shop.buyer)
    async with sessions() as session:
        await session.execute(
            update(PaymentMethod)
            .where(col(PaymentMethod.id) == method.id)
            .values(processor_token=card)
        )
        await session.commit()
    products: list[Product] = [shop.product]
    while len(products) < len(quantities):
        products.append(await make_product(sessions, shop=shop.shop, price_minor=1000))
    items = [line(p, n) for p, n in zip(products, quantities, strict=True)]
    placed = await place(
        gql,
        shop.buyer,
        items,
        key=f"delivered-{next(_orders)}",
        method=method,
    )
    assert placed["userErrors"] == [], placed
    order_id = placed["order"]["id"]
    assert (await ship(gql, shop.seller, order_id, tracking=tracking))["userErrors"] == []
    assert (await move(gql, shop.seller, order_id, "IN_TRANSIT"))["userErrors"] == []
    assert (await move(gql, shop.seller, order_id, "DELIVERED"))["userErrors"] == []
    return await read(gql, order_id, shop.buyer)


async def state(sessions: SessionFactory) -> dict[str, Any]:
    """Everything a return mutation may write: row counts, and every return's status."""
    found: dict[str, Any] = {}
    async with sessions() as session:
        for model in TABLES:
            count = await session.execute(select(func.count()).select_from(model))
            found[str(model.__tablename__)] = count.scalar_one()
        rows = await session.execute(
            select(col(OrderReturn.id), col(OrderReturn.status), col(OrderReturn.refund_attempts))
        )
        found["returns_by_id"] = sorted(tuple(r) for r in rows.all())
        orders = await session.execute(select(col(Order.id), col(Order.version)))
        found["versions"] = sorted(tuple(r) for r in orders.all())
    return found


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]
