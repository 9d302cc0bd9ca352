"""The demo seed: reproducible, refuses to clobber data, and consistent with the domain."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.models import metadata
from db.seed import DatabaseNotEmpty, SeedSize, seed_database
from db.seed.catalog import DEMO_USER_ID
from domain.money import Money
from domain.order_events import RETURN_EVENTS
from domain.order_status import TRANSITIONS, Actor, OrderStatus
from domain.returns import EVENT_OF, ReturnStatus, next_return_status

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
SMALL = SeedSize(users=40, orders_per_user=12, shops=6, products_per_shop=40)
SHIPPED = {"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"}
DELIVERED = {"DELIVERED", "COMPLETED"}


async def _new_engine(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _new_engine(tmp_path / "seed.db")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncEngine:
    await seed_database(engine, size=SMALL, now=NOW)
    return engine


async def _rows(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(metadata.tables[table]))
        return [dict(row) for row in result.mappings()]


async def _tuples(engine: AsyncEngine, table: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(row.values()) for row in await _rows(engine, table))


async def test_same_seed_and_now_give_identical_rows(tmp_path: Path) -> None:
    first = await _new_engine(tmp_path / "a.db")
    second = await _new_engine(tmp_path / "b.db")
    other = await _new_engine(tmp_path / "c.db")
    try:
        report_a = await seed_database(first, size=SMALL, rng_seed=11, now=NOW)
        report_b = await seed_database(second, size=SMALL, rng_seed=11, now=NOW)
        await seed_database(other, size=SMALL, rng_seed=12, now=NOW)
        assert report_a == report_b
        for table in metadata.sorted_tables:
            assert await _tuples(first, table.name) == await _tuples(second, table.name), table
        assert await _tuples(first, "orders") != await _tuples(other, "orders")
    finally:
        for engine in (first, second, other):
            await engine.dispose()


async def test_report_counts_what_was_inserted(engine: AsyncEngine) -> None:
    stages: dict[str, tuple[int, int]] = {}
    report = await seed_database(
        engine, size=SMALL, now=NOW, progress=lambda s, d, t: stages.__setitem__(s, (d, t))
    )
    assert report.demo_handle == "demo"
    assert report.users == SMALL.users == len(await _rows(engine, "users"))
    assert report.shops == 6
    assert report.products == 6 * SMALL.products_per_shop
    assert report.orders == len(await _rows(engine, "orders")) >= SMALL.users * 12
    assert report.order_items == len(await _rows(engine, "order_items"))
    assert report.order_events == len(await _rows(engine, "order_events"))
    assert report.payments == len(await _rows(engine, "payments"))
    assert report.shipments == len(await _rows(engine, "shipments"))
    assert report.tagged_items == len(await _rows(engine, "tagged_items"))
    assert report.product_views == len(await _rows(engine, "product_views"))
    assert stages["orders"] == (report.orders, report.orders)
    assert all(done == total for done, total in stages.values())


async def test_refuses_a_database_with_users(seeded: AsyncEngine) -> None:
    before = await _tuples(seeded, "orders")
    with pytest.raises(DatabaseNotEmpty, match="already has 40 user"):
        await seed_database(seeded, size=SMALL, now=NOW)
    assert await _tuples(seeded, "orders") == before


async def test_reset_replaces_everything(seeded: AsyncEngine) -> None:
    original = await _tuples(seeded, "orders")
    smaller = SeedSize(users=10, orders_per_user=3, products_per_shop=10)
    report = await seed_database(seeded, size=smaller, now=NOW, reset=True)
    users = await _rows(seeded, "users")
    assert len(users) == report.users == 10
    assert min(u["id"] for u in users) == 1
    assert len(await _rows(seeded, "orders")) == report.orders
    # Resetting back to the original parameters reproduces the original rows.
    await seed_database(seeded, size=SMALL, now=NOW, reset=True)
    assert await _tuples(seeded, "orders") == original


async def test_naive_now_is_rejected(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="aware"):
        await seed_database(engine, size=SMALL, now=datetime(2026, 1, 1))
    assert await _rows(engine, "users") == []


async def test_every_event_chain_follows_the_state_machine(seeded: AsyncEngine) -> None:
    allowed = {(t.source.value, t.target.value): t.actors for t in TRANSITIONS}
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in await _rows(seeded, "order_events"):
        # The steps beside the status (returns) are checked in test_returns_*.
        if event["kind"] == "STATUS_CHANGED":
            events[event["order_id"]].append(event)
    orders = await _rows(seeded, "orders")
    assert orders
    for order in orders:
        chain = sorted(events[order["id"]], key=lambda e: e["id"])
        first = chain[0]
        assert (first["from_status"], first["to_status"]) == (None, "UNPAID")
        assert first["actor"] == "BUYER"
        assert first["occurred_at"] == order["placed_at"]
        assert [e["order_version"] for e in chain] == list(range(1, len(chain) + 1))
        for previous, event in pairwise(chain):
            assert event["from_status"] == previous["to_status"]
            actors = allowed[(event["from_status"], event["to_status"])]
            assert Actor(event["actor"]) in actors, event
            assert event["occurred_at"] > previous["occurred_at"]
        last = chain[-1]
        assert order["status"] == last["to_status"]
        assert order["version"] == last["order_version"]
        assert order["updated_at"] == last["occurred_at"]
        assert last["occurred_at"] <= NOW
        assert (order["cancel_reason"] is not None) == (order["status"] == "CANCELLED")


async def test_payments_and_scans_are_on_the_timeline_beside_the_status(
    seeded: AsyncEngine,
) -> None:
    """Each payment and each scan has the one event of its kind that names it, in time
    order among the status changes, leaving the status and version as they were."""
    kinds = {
        "CAPTURED": "PAYMENT_CAPTURED",
        "FAILED": "PAYMENT_FAILED",
        "REFUNDED": "REFUNDED",
        "PARTIALLY_REFUNDED": "REFUNDED",  # a return's refund
    }
    payments = {p["id"]: p for p in await _rows(seeded, "payments")}
    scans = {s["id"]: s for s in await _rows(seeded, "shipment_events")}
    order_of_shipment = {s["id"]: s["order_id"] for s in await _rows(seeded, "shipments")}
    named: dict[tuple[str, int], dict[str, Any]] = {}
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # Every event of an order (return and review steps too) is numbered in time order, as
    # subscribers replay them by id.
    for event in await _rows(seeded, "order_events"):
        by_order[event["order_id"]].append(event)
        if event["kind"] in ("CARRIER_SCAN", *kinds.values()):
            key = ("scan" if event["kind"] == "CARRIER_SCAN" else "payment", event["subject_id"])
            assert key not in named, event
            named[key] = event
    assert set(named) == {("payment", i) for i in payments} | {("scan", i) for i in scans}
    assert {e["kind"] for e in named.values()} == {
        "PAYMENT_CAPTURED",
        "PAYMENT_FAILED",
        "REFUNDED",
        "CARRIER_SCAN",
    }
    for payment_id, payment in payments.items():
        event = named[("payment", payment_id)]
        assert (event["kind"], event["order_id"]) == (kinds[payment["status"]], payment["order_id"])
        assert event["occurred_at"] == payment["created_at"]
    for scan_id, scan in scans.items():
        event = named[("scan", scan_id)]
        assert event["order_id"] == order_of_shipment[scan["shipment_id"]]
        assert event["occurred_at"] == scan["happened_at"]
        assert event["actor"] == ("SELLER" if scan["kind"] == "LABEL_CREATED" else "CARRIER")
    for chain in by_order.values():
        chain.sort(key=lambda e: e["id"])
        for previous, event in pairwise(chain):
            assert event["occurred_at"] >= previous["occurred_at"], [
                (e["id"], e["kind"], str(e["occurred_at"])) for e in chain
            ]
            if event["kind"] != "STATUS_CHANGED":
                assert event["from_status"] == event["to_status"] == previous["to_status"]
                assert event["order_version"] == previous["order_version"]


async def test_reviews_are_of_completed_lines_once_each(seeded: AsyncEngine) -> None:
    orders = {o["id"]: o for o in await _rows(seeded, "orders")}
    items = {i["id"]: i for i in await _rows(seeded, "order_items")}
    reviews = await _rows(seeded, "reviews")
    assert reviews
    assert len({r["order_item_id"] for r in reviews}) == len(reviews)
    posted = {
        e["subject_id"]: e
        for e in await _rows(seeded, "order_events")
        if e["kind"] == "REVIEW_POSTED"
    }
    assert len(posted) == len(reviews)
    for review in reviews:
        order = orders[review["order_id"]]
        assert order["status"] == "COMPLETED"
        assert items[review["order_item_id"]]["order_id"] == order["id"]
        assert items[review["order_item_id"]]["product_id"] == review["product_id"]
        assert review["user_id"] == order["user_id"]
        assert 1 <= review["rating"] <= 5
        assert order["updated_at"] < review["posted_at"] <= NOW
        event = posted[review["id"]]
        assert (event["order_id"], event["occurred_at"]) == (order["id"], review["posted_at"])
        assert event["order_version"] == order["version"]
    # Ratings differ: the demo's Product.rating is not one number everywhere.
    assert len({r["rating"] for r in reviews}) >= 3


async def test_money_adds_up(seeded: AsyncEngine) -> None:
    subtotals: dict[int, int] = defaultdict(int)
    for item in await _rows(seeded, "order_items"):
        assert 1 <= item["quantity"] <= 3
        subtotals[item["order_id"]] += item["unit_price_minor"] * item["quantity"]
    for order in await _rows(seeded, "orders"):
        assert order["subtotal_minor"] == subtotals[order["id"]] > 0
        expected_tax = Money(order["subtotal_minor"], "USD").percent(800).amount_minor
        assert order["tax_minor"] == expected_tax
        assert order["shipping_minor"] == (0 if order["subtotal_minor"] >= 5000 else 499)
        total = order["subtotal_minor"] + order["shipping_minor"] + order["tax_minor"]
        assert order["total_minor"] == total


async def test_orders_come_from_one_shop_and_have_unique_numbers(seeded: AsyncEngine) -> None:
    shop_of = {p["id"]: p["shop_id"] for p in await _rows(seeded, "products")}
    orders = {o["id"]: o for o in await _rows(seeded, "orders")}
    assert len({o["number"] for o in orders.values()}) == len(orders)
    for item in await _rows(seeded, "order_items"):
        assert shop_of[item["product_id"]] == orders[item["order_id"]]["shop_id"]


async def test_demo_user_has_orders_in_every_status(seeded: AsyncEngine) -> None:
    users = {u["handle"]: u for u in await _rows(seeded, "users")}
    demo = users["demo"]
    assert (demo["id"], demo["display_name"], demo["role"]) == (1, "Demo Shopper", "buyer")
    statuses = {o["status"] for o in await _rows(seeded, "orders") if o["user_id"] == demo["id"]}
    assert statuses == {s.value for s in OrderStatus}
    assert any(t["user_id"] == demo["id"] for t in await _rows(seeded, "tagged_items"))
    assert any(v["user_id"] == demo["id"] for v in await _rows(seeded, "product_views"))


async def test_roles_and_shop_owners(seeded: AsyncEngine) -> None:
    users = {u["id"]: u for u in await _rows(seeded, "users")}
    assert [u["handle"] for u in users.values() if u["role"] == "operator"] == ["operator"]
    assert len({u["handle"] for u in users.values()}) == len(users)
    for shop in await _rows(seeded, "shops"):
        assert users[shop["owner_id"]]["role"] == "seller"


async def test_shipments_exist_exactly_for_shipped_orders(seeded: AsyncEngine) -> None:
    orders = {o["id"]: o for o in await _rows(seeded, "orders")}
    shipments = {s["order_id"]: s for s in await _rows(seeded, "shipments")}
    shipped = {i for i, o in orders.items() if o["status"] in SHIPPED}
    assert set(shipments) == shipped
    scans: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for scan in await _rows(seeded, "shipment_events"):
        scans[scan["shipment_id"]].append(scan)
    for order_id, shipment in shipments.items():
        kinds = [s["kind"] for s in sorted(scans[shipment["id"]], key=lambda s: s["id"])]
        times = [s["happened_at"] for s in sorted(scans[shipment["id"]], key=lambda s: s["id"])]
        assert kinds[0] == "LABEL_CREATED"
        assert times == sorted(times)
        assert times[-1] <= NOW
        if orders[order_id]["status"] in DELIVERED:
            assert kinds[-1] == "DELIVERED"
            assert shipment["delivered_at"] == times[-1]
        else:
            assert "DELIVERED" not in kinds
            assert shipment["delivered_at"] is None


async def test_payments_follow_the_order(seeded: AsyncEngine) -> None:
    paid = {
        e["order_id"]
        for e in await _rows(seeded, "order_events")
        if e["to_status"] == "AWAITING_SHIPMENT"
    }
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    refunds_of_returns = {r["refund_payment_id"] for r in await _rows(seeded, "returns")}
    for payment in await _rows(seeded, "payments"):
        if payment["id"] not in refunds_of_returns:
            by_order[payment["order_id"]].append(payment)
    for order in await _rows(seeded, "orders"):
        payments = by_order[order["id"]]
        captured = [p for p in payments if p["status"] == "CAPTURED"]
        refunded = [p for p in payments if p["status"] == "REFUNDED"]
        assert len(captured) == (1 if order["id"] in paid else 0)
        cancelled_after_paying = order["id"] in paid and order["status"] == "CANCELLED"
        assert len(refunded) == (1 if cancelled_after_paying else 0)
        for payment in payments:
            assert payment["amount_minor"] == order["total_minor"]
            assert payment["user_id"] == order["user_id"]


async def test_each_shopper_has_exactly_one_default_card(seeded: AsyncEngine) -> None:
    cards: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for card in await _rows(seeded, "payment_methods"):
        assert card["processor_token"].startswith("tok_sandbox_")
        cards[card["user_id"]].append(card)
    for user in await _rows(seeded, "users"):
        if user["role"] == "operator":
            assert user["id"] not in cards
            continue
        assert 1 <= len(cards[user["id"]]) <= 3
        assert sum(c["is_default"] for c in cards[user["id"]]) == 1


async def test_recommendations_never_suggest_what_the_buyer_bought(seeded: AsyncEngine) -> None:
    buyer_of = {o["id"]: o["user_id"] for o in await _rows(seeded, "orders")}
    bought = {
        (buyer_of[i["order_id"]], i["product_id"]) for i in await _rows(seeded, "order_items")
    }
    recommendations = await _rows(seeded, "recommendations")
    assert recommendations
    for rec in recommendations:
        assert (rec["user_id"], rec["product_id"]) not in bought
        assert 0 < rec["score"] <= 1
        assert (rec["based_on_product_id"] is None) == (rec["reason"] == "TRENDING")


async def test_tastes_carry_across_purchases_and_views(seeded: AsyncEngine) -> None:
    # Recommenders need signal: a buyer's hidden favourite categories drive both
    # purchases and views, so the categories they buy most also dominate what they
    # look at (about 0.3 for tastes-free shoppers on this catalog). Video journeys
    # (db/seed/intent.py) view what a followed creator's video features, which spans
    # the creator's three categories: that dilutes taste in views to about 0.40.
    category = {p["id"]: p["category"] for p in await _rows(seeded, "products")}
    buyer_of = {o["id"]: o["user_id"] for o in await _rows(seeded, "orders")}
    bought: dict[int, Counter[str]] = defaultdict(Counter)
    for item in await _rows(seeded, "order_items"):
        bought[buyer_of[item["order_id"]]][category[item["product_id"]]] += 1
    viewed: dict[int, Counter[str]] = defaultdict(Counter)
    for view in await _rows(seeded, "product_views"):
        viewed[view["user_id"]][category[view["product_id"]]] += 1
    shares = []
    for user_id, counts in bought.items():
        top = {c for c, _ in counts.most_common(3)}
        views = viewed[user_id]
        shares.append(sum(n for c, n in views.items() if c in top) / views.total())
    assert len(shares) >= 30
    assert sum(shares) / len(shares) > 0.37


async def test_returns_follow_their_state_machine_and_refund_once(seeded: AsyncEngine) -> None:
    orders = {o["id"]: o for o in await _rows(seeded, "orders")}
    items = {i["id"]: i for i in await _rows(seeded, "order_items")}
    payments = {p["id"]: p for p in await _rows(seeded, "payments")}
    lines = {line["return_id"]: line for line in await _rows(seeded, "return_lines")}
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in await _rows(seeded, "order_events"):
        if event["kind"] in RETURN_EVENTS:
            events[event["subject_id"]].append(event)
    returns = await _rows(seeded, "returns")
    demo = {r["status"] for r in returns if r["user_id"] == DEMO_USER_ID}
    # The demo buyer's screens show returns in several states.
    assert {"REQUESTED", "REFUNDED", "SHIPPED_BACK"} <= demo
    for ret in returns:
        order = orders[ret["order_id"]]
        assert order["status"] in ("DELIVERED", "COMPLETED")
        line = lines[ret["id"]]
        assert items[line["order_item_id"]]["order_id"] == order["id"]
        assert 1 <= line["quantity"] <= items[line["order_item_id"]]["quantity"]
        status = ReturnStatus.REQUESTED
        chain = sorted(events[ret["id"]], key=lambda e: e["id"])
        assert chain[0]["kind"] == "RETURN_REQUESTED"
        for event in chain:
            assert event["from_status"] == event["to_status"]
            assert event["occurred_at"] <= NOW
        by_kind = {kind.value: action for action, kind in EVENT_OF.items()}
        for event in chain[1:]:
            status = next_return_status(status, by_kind[event["kind"]], Actor(event["actor"]))
        assert ret["status"] == status.value
        refund = payments.get(ret["refund_payment_id"])
        assert (refund is not None) == (status is ReturnStatus.REFUNDED)
        if refund is not None:
            assert refund["amount_minor"] == ret["total_minor"] <= order["total_minor"]
            assert refund["status"] in ("PARTIALLY_REFUNDED", "REFUNDED")
