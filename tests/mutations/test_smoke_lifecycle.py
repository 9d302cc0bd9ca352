"""A whole order life through the API: place, pay, ship, transit, deliver, confirm."""

from __future__ import annotations

from db.engine import SessionFactory
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import make_payment_method, make_product, make_shop, make_user

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "us",
}

ORDER_FIELDS = """
  order {
    id number status version paymentStatus total { amount }
    timeline { kind toStatus actor orderVersion }
    shipment { trackingNumber events { kind } }
  }
  userErrors { field code message }
"""


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {ORDER_FIELDS} }} }}"


async def test_an_order_from_placement_to_completion(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop, price_minor=2500, stock=3)
    method = await make_payment_method(sessions, user=buyer)
    assert product.id is not None
    assert method.id is not None
    placed = await gql.query(
        mutation("placeOrder", "PlaceOrderInput"),
        {
            "input": {
                "items": [{"productId": to_global_id("Product", product.id), "quantity": 2}],
                "shippingAddress": ADDRESS,
                "idempotencyKey": "k1",
            }
        },
        user_id=buyer.id,
    )
    payload = placed["placeOrder"]
    assert payload["userErrors"] == []
    order = payload["order"]
    assert order["status"] == "UNPAID"
    # 2 x 25.00 = 50.00 ships free; 8% tax = 4.00.
    assert order["total"]["amount"] == "54.00"
    order_id = order["id"]
    paid = await gql.query(
        mutation("payOrder", "PayOrderInput"),
        {
            "input": {
                "orderId": order_id,
                "paymentMethodId": to_global_id("PaymentMethod", method.id),
                "idempotencyKey": "p1",
            }
        },
        user_id=buyer.id,
    )
    assert paid["payOrder"]["userErrors"] == []
    assert paid["payOrder"]["order"]["status"] == "AWAITING_SHIPMENT"
    assert paid["payOrder"]["order"]["paymentStatus"] == "PAID"
    shipped = await gql.query(
        mutation("shipOrder", "ShipOrderInput"),
        {"input": {"orderId": order_id, "carrier": "UPS", "trackingNumber": "1ZTEST"}},
        user_id=seller.id,
    )
    assert shipped["shipOrder"]["order"]["shipment"]["trackingNumber"] == "1ZTEST"
    for status in ("IN_TRANSIT", "DELIVERED"):
        moved = await gql.query(
            mutation("updateOrderStatus", "UpdateOrderStatusInput"),
            {"input": {"orderId": order_id, "status": status}},
            user_id=seller.id,
        )
        assert moved["updateOrderStatus"]["order"]["status"] == status
    done = await gql.query(
        mutation("confirmReceipt", "ConfirmReceiptInput"),
        {"input": {"orderId": order_id}},
        user_id=buyer.id,
    )
    final = done["confirmReceipt"]["order"]
    assert final["status"] == "COMPLETED"
    # Every step, oldest first: each status change bumps the version; the payment and
    # the scans beside them leave it (and the status) as they were.
    assert [
        (e["kind"], e["toStatus"], e["actor"], e["orderVersion"]) for e in final["timeline"]
    ] == [
        ("STATUS_CHANGED", "UNPAID", "BUYER", 1),
        ("PAYMENT_CAPTURED", "UNPAID", "BUYER", 1),
        ("STATUS_CHANGED", "AWAITING_SHIPMENT", "BUYER", 2),
        ("STATUS_CHANGED", "AWAITING_COLLECTION", "SELLER", 3),
        ("CARRIER_SCAN", "AWAITING_COLLECTION", "SELLER", 3),
        ("STATUS_CHANGED", "IN_TRANSIT", "SELLER", 4),
        ("CARRIER_SCAN", "IN_TRANSIT", "SELLER", 4),
        ("STATUS_CHANGED", "DELIVERED", "SELLER", 5),
        ("CARRIER_SCAN", "DELIVERED", "SELLER", 5),
        ("STATUS_CHANGED", "COMPLETED", "BUYER", 6),
    ]
    assert [e["kind"] for e in final["shipment"]["events"]] == [
        "LABEL_CREATED",
        "PICKED_UP",
        "DELIVERED",
    ]
