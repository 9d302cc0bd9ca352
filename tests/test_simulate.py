"""`ordercenter simulate`: orders move forward through the real use-cases, at a pace."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from app.simulate import CARRIERS, DELIVER, IN_TRANSIT, PLACE, RETURN, REVIEW, SHIP, simulate
from db.engine import create_engine, create_session_factory
from db.models import Order, OrderEvent, OrderReturn, Shipment, ShipmentEvent, metadata
from db.seed import SeedSize, seed_database
from domain.order_events import RETURN_EVENTS
from domain.order_status import TRANSITIONS, Actor, OrderStatus

SIZE = SeedSize(users=5, orders_per_user=5)
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
LIFECYCLE = [
    OrderStatus.UNPAID,
    OrderStatus.AWAITING_SHIPMENT,
    OrderStatus.AWAITING_COLLECTION,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
]


class Recorder:
    def __init__(self) -> None:
        self.ids: list[int] = []

    async def publish(self, event_ids: Sequence[int]) -> None:
        self.ids.extend(event_ids)


async def _orders(engine: AsyncEngine) -> dict[int, tuple[str, int]]:
    async with create_session_factory(engine)() as session:
        rows = (await session.execute(select(Order))).scalars().all()
    return {o.id: (o.status, o.version) for o in rows if o.id is not None}


async def _returns(engine: AsyncEngine) -> list[OrderReturn]:
    async with create_session_factory(engine)() as session:
        return list((await session.execute(select(OrderReturn))).scalars().all())


async def _events(engine: AsyncEngine) -> list[OrderEvent]:
    async with create_session_factory(engine)() as session:
        statement = select(OrderEvent).order_by(col(OrderEvent.id))
        return list((await session.execute(statement)).scalars().all())


def _allowed(source: str | None, target: str, actor: str) -> bool:
    if source is None:
        return target == OrderStatus.UNPAID and actor == Actor.BUYER
    return any(
        t.source == source and t.target == target and Actor(actor) in t.actors for t in TRANSITIONS
    )


async def test_orders_move_forward_through_the_state_machine(engine: AsyncEngine) -> None:
    await seed_database(engine, size=SIZE, rng_seed=7)
    before = await _orders(engine)
    last_seeded = max(e.id or 0 for e in await _events(engine))
    published = Recorder()

    report = await simulate(
        create_session_factory(engine), events=published, rate=1000, steps=60, seed=3
    )

    assert report.steps == 60
    assert report.transitions > 0
    assert report.counts[PLACE] > 0
    after = await _orders(engine)
    events = await _events(engine)
    new = [e for e in events if (e.id or 0) > last_seeded]
    # Every committed event was announced on the bus, once.
    assert sorted(published.ids) == [e.id for e in new]

    # The steps beside the status: the simulated buyers' charges, the sellers' labels
    # and the carriers' scans, each naming its row.
    for event in new:
        if event.kind in ("PAYMENT_CAPTURED", "PAYMENT_FAILED"):
            assert (event.actor, event.subject_id is not None) == (Actor.BUYER, True), event
        elif event.kind == "CARRIER_SCAN":
            assert event.actor in (Actor.SELLER, Actor.CARRIER), event
            assert event.subject_id is not None
        elif event.kind in RETURN_EVENTS or event.kind == "REFUNDED":
            assert event.subject_id is not None, event
        else:
            assert event.kind in ("STATUS_CHANGED", "REVIEW_POSTED"), event
    assert {e.kind for e in new} >= {"PAYMENT_CAPTURED", "CARRIER_SCAN"}
    # Reviews posted: one REVIEW_POSTED event each, by the line's buyer, status unchanged.
    posted = [e for e in new if e.kind == "REVIEW_POSTED"]
    assert report.counts[REVIEW] > 0
    assert len(posted) == report.counts[REVIEW]
    assert all(e.actor == Actor.BUYER and e.from_status == e.to_status for e in posted)
    # The status changes (seeded reviews' events too are set aside).
    # The returns' steps beside the status: each one a step of its return's machine.
    return_steps = [e for e in new if e.kind in RETURN_EVENTS]
    # One event per step, but a refund that follows a receipt in the same step.
    assert (
        0 < len([e for e in return_steps if e.kind != "RETURN_REFUNDED"]) <= report.counts[RETURN]
    )
    assert report.counts[RETURN] > 0
    returns = {r.id: r for r in await _returns(engine)}
    for event in return_steps:
        ret = returns[event.subject_id]
        assert ret.order_id == event.order_id
        assert event.from_status == event.to_status == after[event.order_id][0]
    events = [e for e in events if e.kind == "STATUS_CHANGED"]
    new = [e for e in new if e.kind == "STATUS_CHANGED"]
    timelines: dict[int, list[OrderEvent]] = defaultdict(list)
    for event in events:
        if event.kind == "STATUS_CHANGED":
            timelines[event.order_id].append(event)
    for order_id, (status, version) in after.items():
        timeline = sorted(timelines[order_id], key=lambda e: e.order_version)
        assert [e.order_version for e in timeline] == list(range(1, version + 1)), order_id
        assert timeline[-1].to_status == status
        previous: str | None = None
        for event in timeline:
            assert event.from_status == previous
            assert _allowed(event.from_status, event.to_status, event.actor), event
            previous = event.to_status
        if order_id in before:
            # Forward only: a seeded order is where it was or further along.
            old = OrderStatus(before[order_id][0])
            if old in LIFECYCLE and status != old:
                assert LIFECYCLE.index(OrderStatus(status)) > LIFECYCLE.index(old)

    by_target = defaultdict(list)
    for event in new:
        by_target[event.to_status].append(event)
        if event.from_status is None or event.from_status == OrderStatus.UNPAID:
            assert event.actor == Actor.BUYER  # placed (and paid) by a simulated buyer
        elif event.to_status == OrderStatus.AWAITING_COLLECTION:
            assert event.actor == Actor.SELLER
        else:
            # Picked up and delivered: the carrier's scans, through the signed webhook.
            assert event.actor == Actor.CARRIER, event
    assert len(by_target[OrderStatus.AWAITING_COLLECTION]) == report.counts[SHIP]
    assert len(by_target[OrderStatus.IN_TRANSIT]) == report.counts[IN_TRANSIT]
    assert len(by_target[OrderStatus.DELIVERED]) == report.counts[DELIVER]
    assert len([e for e in new if e.from_status is None]) == report.counts[PLACE]
    assert not by_target[OrderStatus.CANCELLED]
    assert not by_target[OrderStatus.COMPLETED]

    shipped = {e.order_id for e in by_target[OrderStatus.AWAITING_COLLECTION]}
    async with create_session_factory(engine)() as session:
        shipments = (
            (await session.execute(select(Shipment).where(col(Shipment.order_id).in_(shipped))))
            .scalars()
            .all()
        )
    assert {s.order_id for s in shipments} == shipped
    assert all(s.carrier in CARRIERS and s.tracking_number.startswith("SIM") for s in shipments)
    moved = {e.order_id for e in new if e.actor == Actor.CARRIER}
    async with create_session_factory(engine)() as session:
        scanned = await session.execute(
            select(col(Shipment.order_id))
            .join(ShipmentEvent, col(ShipmentEvent.shipment_id) == col(Shipment.id))
            .where(
                col(ShipmentEvent.carrier_scan_id).is_not(None),
                # The seed's scans carry "scan-<id>"; the simulated carriers' are their own.
                col(ShipmentEvent.carrier_scan_id).not_like("scan-%"),
            )
        )
        assert moved
        assert set(scanned.scalars().all()) == moved


async def _seeded(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await seed_database(engine, size=SIZE, rng_seed=7, now=NOW)
    return engine


async def test_the_same_seed_makes_the_same_moves(tmp_path: Path) -> None:
    first, second = await _seeded(tmp_path / "a.db"), await _seeded(tmp_path / "b.db")
    try:
        for engine in (first, second):
            await simulate(create_session_factory(engine), rate=1000, steps=30, seed=11)
        assert await _orders(first) == await _orders(second)
    finally:
        await first.dispose()
        await second.dispose()


async def test_duration_bounds_a_paced_run(tmp_path: Path) -> None:
    engine = await _seeded(tmp_path / "paced.db")
    try:
        report = await simulate(create_session_factory(engine), rate=20, duration=0.5, seed=1)
    finally:
        await engine.dispose()
    # About ten steps at 20/s; the pace, not the database, sets the count.
    assert 3 <= report.steps <= 12
    assert report.elapsed < 2
