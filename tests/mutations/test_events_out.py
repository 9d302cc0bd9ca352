"""Every committed status change is announced on the bus with its order_events id."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from db.models import OrderEvent
from resolvers.ids import to_global_id
from tests.conftest import token_for
from tests.factories import make_payment_method, make_product, make_shop, make_user

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id status } userErrors { code } }
}"""


async def test_place_and_pay_announce_both_events_after_commit(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    app = create_app(settings, engine=engine)
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    assert product.id is not None
    assert method.id is not None
    heard: list[tuple[int, ...]] = []
    listening = asyncio.Event()

    async def listen() -> None:
        stream = app.state.bus.listen()
        first = asyncio.ensure_future(anext(stream))
        listening.set()
        heard.append(await first)
        await stream.aclose()

    listener = asyncio.create_task(listen())
    await listening.wait()
    await asyncio.sleep(0)  # let the listener register its queue
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/graphql",
            json={
                "query": PLACE,
                "variables": {
                    "input": {
                        "items": [
                            {"productId": to_global_id("Product", product.id), "quantity": 1}
                        ],
                        "shippingAddress": {
                            "name": "A",
                            "line1": "1 St",
                            "city": "C",
                            "postalCode": "1",
                            "countryCode": "US",
                        },
                        "paymentMethodId": to_global_id("PaymentMethod", method.id),
                        "idempotencyKey": "events-1",
                    }
                },
            },
            headers={"Authorization": f"Bearer {token_for(buyer.id)}"},
        )
    assert response.json()["data"]["placeOrder"]["order"]["status"] == "AWAITING_SHIPMENT"
    await asyncio.wait_for(listener, 5)
    async with sessions() as session:
        ids = (await session.execute(select(OrderEvent.id).order_by(OrderEvent.id))).scalars().all()
    # Placement, the charge and the payment's status change, committed together,
    # announced together.
    assert heard == [tuple(ids)]
    assert len(ids) == 3
