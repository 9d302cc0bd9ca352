"""A failure halfway through a mutation leaves no trace: one transaction, all or nothing."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import pytest

from db.engine import SessionFactory
from domain.order_status import OrderStatus
from resolvers.gateway import SandboxGateway
from resolvers.mutations import lifecycle, placing, transitions
from tests.conftest import GraphQLClient
from tests.factories import make_order, make_payment_method, make_product, make_shop, make_user
from tests.mutations.test_place_order import (
    ADDRESS,
    db_state,
    event_versions,
    gid,
    line,
    mutation,
    order_row,
    payment_statuses,
    pk_of,
    place,
    run,
    stock_of,
)

SECRET = "boom: the disk caught fire"


def _fail(*_: Any, **__: Any) -> NoReturn:
    raise RuntimeError(SECRET)


async def _fail_async(*_: Any, **__: Any) -> NoReturn:
    raise RuntimeError(SECRET)


async def _masked_failure(
    gql: GraphQLClient, name: str, input_: dict[str, Any], *, user_id: int | None
) -> None:
    """The mutation must fail with the masked internal error, revealing nothing."""
    body = await gql.raw(mutation(name), {"input": input_}, user_id=user_id)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == [name]
    assert SECRET not in json.dumps(body)


async def test_place_order_failing_after_taking_stock_writes_nothing(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    before = await db_state(sessions)

    # Pricing runs after the stock was decremented.
    monkeypatch.setattr(placing, "price", _fail)
    input_ = {"items": [line(product, 2)], "shippingAddress": ADDRESS, "idempotencyKey": "k"}
    await _masked_failure(gql, "placeOrder", input_, user_id=buyer.id)

    assert await db_state(sessions) == before
    assert await stock_of(sessions, product) == 5

    # Once the fault is gone, the same key places the order (it was never remembered).
    monkeypatch.undo()
    placed = await place(gql, buyer, [line(product, 2)], key="k")
    assert placed["userErrors"] == []
    assert await stock_of(sessions, product) == 3


async def test_place_order_failing_in_the_charge_writes_nothing(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)
    before = await db_state(sessions)

    # The order, its items and first event are flushed by then.
    monkeypatch.setattr(SandboxGateway, "charge", _fail_async)
    input_ = {
        "items": [line(product)],
        "shippingAddress": ADDRESS,
        "paymentMethodId": gid("PaymentMethod", method),
        "idempotencyKey": "k",
    }
    await _masked_failure(gql, "placeOrder", input_, user_id=buyer.id)

    assert await db_state(sessions) == before


async def test_place_order_failing_after_the_charge_is_retried_without_a_second_charge(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)
    before = await db_state(sessions)
    charges: list[str] = []
    real_charge = SandboxGateway.charge

    async def counting_charge(self: SandboxGateway, token: str, **kwargs: Any) -> Any:
        result = await real_charge(self, token, **kwargs)
        charges.append(result.reference or "")
        return result

    monkeypatch.setattr(SandboxGateway, "charge", counting_charge)
    monkeypatch.setattr(placing, "transition", _fail_async)
    input_ = {
        "items": [line(product)],
        "shippingAddress": ADDRESS,
        "paymentMethodId": gid("PaymentMethod", method),
        "idempotencyKey": "k",
    }
    await _masked_failure(gql, "placeOrder", input_, user_id=buyer.id)
    assert await db_state(sessions) == before

    monkeypatch.setattr(placing, "transition", transitions.transition)
    placed = await place(gql, buyer, [line(product)], key="k", method=method)
    assert placed["userErrors"] == []
    assert placed["order"]["status"] == "AWAITING_SHIPMENT"
    assert await payment_statuses(sessions) == ["CAPTURED"]
    # The processor saw the same key twice and answered with the same charge.
    assert len(charges) == 2
    assert charges[0] == charges[1]


async def test_pay_order_failing_after_the_charge_writes_nothing(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    before = await db_state(sessions)
    input_ = {
        "orderId": gid("Order", order),
        "paymentMethodId": gid("PaymentMethod", method),
        "idempotencyKey": "k",
    }

    monkeypatch.setattr(lifecycle, "transition", _fail_async)
    await _masked_failure(gql, "payOrder", input_, user_id=buyer.id)

    assert await db_state(sessions) == before
    row = await order_row(sessions, pk_of(gid("Order", order)))
    assert (row.status, row.version) == ("UNPAID", 1)

    monkeypatch.undo()
    paid = await run(gql, "payOrder", input_, user=buyer)
    assert paid["userErrors"] == []
    assert await payment_statuses(sessions) == ["CAPTURED"]


async def test_cancel_failing_in_the_refund_changes_nothing(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    order = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[product],
        quantity=2,
        status=OrderStatus.AWAITING_SHIPMENT,
    )
    order_pk = pk_of(gid("Order", order))
    before = await db_state(sessions)

    # By the refund, the status and version were already updated.
    monkeypatch.setattr(SandboxGateway, "refund", _fail_async)
    await _masked_failure(gql, "cancelOrder", {"orderId": gid("Order", order)}, user_id=buyer.id)

    assert await db_state(sessions) == before
    row = await order_row(sessions, order_pk)
    assert (row.status, row.version, row.cancel_reason) == ("AWAITING_SHIPMENT", 2, None)
    assert await payment_statuses(sessions, order_pk) == ["CAPTURED"]
    assert await event_versions(sessions, order_pk) == [1, 2]
    assert await stock_of(sessions, product) == 5

    monkeypatch.undo()
    cancelled = await run(gql, "cancelOrder", {"orderId": gid("Order", order)}, user=buyer)
    assert cancelled["order"]["paymentStatus"] == "REFUNDED"
    assert await stock_of(sessions, product) == 7


async def test_a_status_update_failing_in_the_shipment_scan_changes_nothing(
    gql: GraphQLClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop)
    order = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[product],
        status=OrderStatus.IN_TRANSIT,
    )
    before = await db_state(sessions)

    monkeypatch.setattr(lifecycle, "_follow_shipment", _fail_async)
    await _masked_failure(
        gql,
        "updateOrderStatus",
        {"orderId": gid("Order", order), "status": "DELIVERED"},
        user_id=seller.id,
    )

    assert await db_state(sessions) == before
    row = await order_row(sessions, pk_of(gid("Order", order)))
    assert (row.status, row.version) == ("IN_TRANSIT", 4)
