"""In-process cost of buying: placeOrder then payOrder, through the real schema.

Seeds a small catalog with ample stock and a buyer with a saved card, then runs the
pair 100 times after a warm-up, on SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from bench.databases import configured_postgres, throwaway_postgres, throwaway_sqlite
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade
from db.models import PaymentMethod, Product, Shop, User
from resolvers.context import Context
from resolvers.gateway import SandboxGateway
from resolvers.ids import to_global_id
from schema.definition import schema

RUNS = 100
WARMUP = 10

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id status total { amount } } userErrors { code message } }
}"""
PAY = """
mutation($input: PayOrderInput!) {
  payOrder(input: $input) { order { id status paymentStatus } userErrors { code message } }
}"""
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "US",
}


async def measure(url: str) -> tuple[float, float]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        seller = User(handle="bench-seller", display_name="Seller", role="seller")
        buyer = User(handle="bench-buyer", display_name="Buyer")
        session.add_all([seller, buyer])
        await session.flush()
        assert seller.id is not None
        assert buyer.id is not None
        shop = Shop(owner_id=seller.id, handle="bench-shop", name="Bench Shop")
        session.add(shop)
        await session.flush()
        assert shop.id is not None
        products = [
            Product(
                shop_id=shop.id,
                title=f"Item {i}",
                category="home",
                price_minor=1299 + i,
                currency="USD",
                stock=1_000_000,
            )
            for i in range(5)
        ]
        method = PaymentMethod(
            user_id=buyer.id,
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=2099,
            processor_token="tok_visa",  # noqa: S106 - the sandbox's public test token
            is_default=True,
        )
        session.add_all([*products, method])
        await session.commit()
        buyer_id = buyer.id
        product_ids = [to_global_id("Product", p.id or 0) for p in products]
        method_id = to_global_id("PaymentMethod", method.id or 0)
    gateway = SandboxGateway()
    timings: list[float] = []
    for run in range(WARMUP + RUNS):
        started = time.perf_counter()
        key = uuid.uuid4().hex
        items = [
            {"productId": pid, "quantity": 1 + (run + i) % 3}
            for i, pid in enumerate(product_ids[:3])
        ]
        placed = await schema.execute(
            PLACE,
            variable_values={
                "input": {"items": items, "shippingAddress": ADDRESS, "idempotencyKey": key}
            },
            context_value=Context.for_request(
                viewer_id=buyer_id, sessions=sessions, gateway=gateway
            ),
        )
        if placed.errors or not placed.data or placed.data["placeOrder"]["userErrors"]:
            raise SystemExit(f"placeOrder failed: {placed}")
        order_id = placed.data["placeOrder"]["order"]["id"]
        paid = await schema.execute(
            PAY,
            variable_values={
                "input": {"orderId": order_id, "paymentMethodId": method_id, "idempotencyKey": key}
            },
            context_value=Context.for_request(
                viewer_id=buyer_id, sessions=sessions, gateway=gateway
            ),
        )
        if paid.errors or not paid.data or paid.data["payOrder"]["userErrors"]:
            raise SystemExit(f"payOrder failed: {paid}")
        if run >= WARMUP:
            timings.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    timings.sort()
    return statistics.median(timings), timings[int(RUNS * 0.9)]


async def main() -> None:
    results: dict[str, tuple[float, float]] = {}
    async with throwaway_sqlite() as url:
        await asyncio.to_thread(upgrade, url)
        results["SQLite"] = await measure(url)
    pg_url = configured_postgres()
    if pg_url:
        async with throwaway_postgres(pg_url) as url:
            await asyncio.to_thread(upgrade, url)
            results["PostgreSQL"] = await measure(url)
    print(f"placeOrder + payOrder, in-process, {RUNS} runs after {WARMUP} warm-up")
    print(f"{'database':<11} {'median ms':>10} {'p90 ms':>8}")
    for database, (median, p90) in results.items():
        print(f"{database:<11} {median:>10.1f} {p90:>8.1f}")
    if not pg_url:
        print("(PostgreSQL skipped: set ORDERCENTER_BENCH_DATABASE_URL to include it)")


if __name__ == "__main__":
    asyncio.run(main())
