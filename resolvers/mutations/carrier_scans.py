"""Applying a carrier's webhook delivery: record its scans once, move orders as the CARRIER.

The HTTP side (app/webhooks.py) has checked the signature and the timestamp; this
use-case owns what needs the database: a signed delivery is accepted once (replay
refused), each scan is recorded once per shipment (redeliveries are reported as
duplicates, changing nothing), and a scan that moves the parcel along moves its order
(IN_TRANSIT, DELIVERED) with actor CARRIER, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import CarrierDelivery, Order, OrderEvent, Shipment, ShipmentEvent
from domain.carrier_scans import ScanKind, actions_for_scan
from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderAction, OrderStatus
from resolvers.context import Context
from resolvers.mutations.transitions import lock_order, step_event, transition
from resolvers.mutations.unit_of_work import OrderOutcome, announce, commit_with_events, write


class DeliveryReplayed(Exception):
    """This very signed delivery was accepted before."""


class ScanResult(StrEnum):
    APPLIED = "APPLIED"  # recorded (and the order moved, if the scan implies it)
    DUPLICATE = "DUPLICATE"  # recorded by an earlier delivery: nothing changed
    UNKNOWN_TRACKING = "UNKNOWN_TRACKING"  # no shipment of this carrier has that number


@dataclass(frozen=True, slots=True)
class Scan:
    scan_id: str
    tracking_number: str
    kind: ScanKind
    happened_at: datetime
    location: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    scan_id: str
    result: ScanResult
    order_status: OrderStatus | None


async def receive_delivery(
    ctx: Context,
    *,
    carrier: str,
    signature_digest: str,
    scans: list[Scan],
    window: timedelta,
) -> list[ScanOutcome]:
    """Applies one verified delivery; raises DeliveryReplayed for a delivery seen before.

    ``window`` is the timestamp tolerance: deliveries older than twice that are
    forgotten, since a copy of one would be refused as stale anyway.
    """
    try:
        outcomes, orders, event_ids = await _receive(ctx, carrier, signature_digest, scans, window)
    except IntegrityError:
        # A racing copy of this delivery, or another delivery of the same scan, committed
        # first: run again, which now finds the delivery (replay) or the scans (duplicates).
        outcomes, orders, event_ids = await _receive(ctx, carrier, signature_digest, scans, window)
    for order in orders:
        await announce(ctx, OrderOutcome(order))
    if event_ids:
        await ctx.events.publish(event_ids)
    return outcomes


async def _receive(
    ctx: Context, carrier: str, signature_digest: str, scans: list[Scan], window: timedelta
) -> tuple[list[ScanOutcome], list[Order], list[int]]:
    now = ctx.clock()
    async with write(ctx) as session:
        await session.execute(
            delete(CarrierDelivery).where(col(CarrierDelivery.received_at) < now - 2 * window)
        )
        seen = await session.execute(
            select(col(CarrierDelivery.id)).where(
                col(CarrierDelivery.carrier) == carrier,
                col(CarrierDelivery.signature) == signature_digest,
            )
        )
        if seen.first() is not None:
            raise DeliveryReplayed
        session.add(
            CarrierDelivery(
                carrier=carrier, signature=signature_digest, scan_count=len(scans), received_at=now
            )
        )
        await session.flush()
        shipments = await _shipments(session, carrier, {s.tracking_number for s in scans})
        # Lock every order concerned in id order, so two deliveries never lock crosswise.
        orders: dict[int, Order] = {}
        for order_id in sorted({shipment.order_id for shipment in shipments.values()}):
            order = await lock_order(session, order_id)
            if order is not None:
                orders[order_id] = order
        # Read under the orders' locks: a racing delivery of the same scan has committed
        # (and is seen here) or waits for ours, so scans never collide on their index.
        recorded = await _recorded_scans(session, shipments, {s.scan_id for s in scans})
        outcomes: list[ScanOutcome | None] = [None] * len(scans)
        events: list[OrderEvent] = []
        scan_events: list[tuple[OrderEvent, ShipmentEvent]] = []
        # Oldest scan first, so a batch holding IN_TRANSIT and DELIVERED moves in order;
        # answered in the delivery's own order.
        for index, scan in sorted(enumerate(scans), key=lambda pair: pair[1].happened_at):
            shipment = shipments.get(scan.tracking_number)
            order = None if shipment is None else orders.get(shipment.order_id)
            if shipment is None or shipment.id is None or order is None:
                outcomes[index] = ScanOutcome(scan.scan_id, ScanResult.UNKNOWN_TRACKING, None)
                continue
            status = OrderStatus(order.status)
            if (shipment.id, scan.scan_id) in recorded:
                outcomes[index] = ScanOutcome(scan.scan_id, ScanResult.DUPLICATE, status)
                continue
            recorded.add((shipment.id, scan.scan_id))
            scanned = ShipmentEvent(
                shipment_id=shipment.id,
                kind=scan.kind.value,
                location=scan.location,
                message=scan.message,
                happened_at=scan.happened_at,
                carrier_scan_id=scan.scan_id,
            )
            session.add(scanned)
            # The scan, then the status changes it makes; it names its row once flushed.
            scan_event = step_event(
                order, OrderEventKind.CARRIER_SCAN, None, Actor.CARRIER, now=now
            )
            events.append(scan_event)
            scan_events.append((scan_event, scanned))
            for action in actions_for_scan(status, scan.kind):
                events.append(await transition(session, order, action, Actor.CARRIER, now=now))
                if action is OrderAction.MARK_DELIVERED:
                    shipment.delivered_at = scan.happened_at
            outcomes[index] = ScanOutcome(
                scan.scan_id, ScanResult.APPLIED, OrderStatus(order.status)
            )
        # Flushed before the events, so a colliding scan insert fails before any event
        # id is taken.
        await session.flush()
        for event, scanned in scan_events:
            event.subject_id = scanned.id
        event_ids = await commit_with_events(session, events)
    return [o for o in outcomes if o is not None], list(orders.values()), event_ids


async def _shipments(
    session: AsyncSession, carrier: str, tracking_numbers: set[str]
) -> dict[str, Shipment]:
    """The carrier's shipments by tracking number (carrier names compared without case)."""
    statement = select(Shipment).where(
        col(Shipment.tracking_number).in_(sorted(tracking_numbers)),
        func.lower(col(Shipment.carrier)) == carrier.lower(),
    )
    rows = (await session.execute(statement)).scalars().all()
    return {row.tracking_number: row for row in rows}


async def _recorded_scans(
    session: AsyncSession, shipments: dict[str, Shipment], scan_ids: set[str]
) -> set[tuple[int, str]]:
    ids = [s.id for s in shipments.values() if s.id is not None]
    if not ids:
        return set()
    statement = select(col(ShipmentEvent.shipment_id), col(ShipmentEvent.carrier_scan_id)).where(
        col(ShipmentEvent.shipment_id).in_(ids),
        col(ShipmentEvent.carrier_scan_id).in_(sorted(scan_ids)),
    )
    return {(shipment, scan) for shipment, scan in await session.execute(statement) if scan}
