"""payOrder, cancelOrder, confirmReceipt, shipOrder and updateOrderStatus."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    Shipment,
    ShipmentEvent,
)
from domain.order_events import OrderEventKind
from domain.order_status import Actor, CancelReason, OrderAction, OrderStatus
from resolvers.context import Context
from resolvers.mutations import idempotency, paying, text_input
from resolvers.mutations.outcome import ErrorCode, Refused, UserError
from resolvers.mutations.transitions import (
    actor_for,
    load_for,
    recorded_actor,
    step_event,
    transition,
)
from resolvers.mutations.unit_of_work import (
    OrderOutcome,
    announce,
    commit_with_events,
)

PAY_OPERATION = "payOrder"
CANCEL_OPERATION = "cancelOrder"
CONFIRM_OPERATION = "confirmReceipt"
SHIP_OPERATION = "shipOrder"
UPDATE_STATUS_OPERATION = "updateOrderStatus"
ESTIMATED_TRANSIT = timedelta(days=4)


def _note(note: str | None) -> str | None:
    return text_input.cleaned(note, text_input.STATUS_NOTE, "input", "note")


async def pay_order(
    ctx: Context, *, viewer_id: int, order_id: int, payment_method_id: int, idempotency_key: str
) -> OrderOutcome:
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=PAY_OPERATION,
        payload={"order": order_id, "method": payment_method_id},
    )

    async def work(session: AsyncSession, claimed: IdempotencyKey, now: datetime) -> OrderOutcome:
        return await _pay(ctx, session, claimed, now, keyed, order_id, payment_method_id)

    outcome = await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.replayed_order
    )
    return await announce(ctx, outcome)


async def _pay(
    ctx: Context,
    session: AsyncSession,
    claimed: IdempotencyKey,
    now: datetime,
    keyed: idempotency.Keyed,
    order_id: int,
    method_id: int,
) -> OrderOutcome:
    viewer_id = keyed.user_id
    order, roles = await load_for(session, viewer_id, order_id)
    actor = actor_for(OrderAction.PAY, order, roles)
    method = await paying.usable_method(
        session,
        user_id=viewer_id,
        method_id=method_id,
        now=now,
        field=("input", "paymentMethodId"),
    )
    attempt = await paying.charge(
        session,
        ctx.gateway,
        order=order,
        method=method,
        idempotency_key=keyed.processor_key(),
        now=now,
        actor=actor,
    )
    claimed.order_id = order.id
    outcome = OrderOutcome(order)
    # The attempt, captured or not, then the status change it makes.
    events = [attempt.event]
    if attempt.refusal is None:
        events.append(await transition(session, order, OrderAction.PAY, actor, now=now))
    else:
        field = ("input", "paymentMethodId")
        if attempt.retryable:
            # Nothing was decided: forget the key so the same one can be retried.
            await session.delete(claimed)
            message = attempt.refusal.message + " Try again with the same idempotencyKey."
        else:
            claimed.error_code = attempt.refusal.code.value
            claimed.error_message = attempt.refusal.message
            message = attempt.refusal.message
        outcome.errors = [UserError(attempt.refusal.code, message, field)]
    outcome.event_ids = await commit_with_events(session, events)
    return outcome


async def restock(session: AsyncSession, order: Order) -> None:
    """Put a cancelled order's units back on the shelf."""
    items = (
        await session.execute(
            # Product-id order, as placeOrder takes stock, so the row locks never cross.
            select(OrderItem)
            .where(OrderItem.order_id == order.id)
            .order_by(col(OrderItem.product_id))
        )
    ).scalars()
    for item in items:
        await session.execute(
            update(Product)
            .where(col(Product.id) == item.product_id)
            .values(stock=col(Product.stock) + item.quantity)
            .execution_options(synchronize_session=False)
        )


def _remember(claimed: IdempotencyKey | None, order: Order) -> None:
    if claimed is not None:
        claimed.order_id = order.id


async def cancel_order(
    ctx: Context,
    *,
    viewer_id: int,
    order_id: int,
    reason: CancelReason | None,
    idempotency_key: str | None = None,
) -> OrderOutcome:
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=CANCEL_OPERATION,
        payload={"order": order_id, "reason": reason},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> OrderOutcome:
        order, roles = await load_for(session, viewer_id, order_id)
        actor = actor_for(OrderAction.CANCEL, order, roles)
        default = CancelReason.CUSTOMER if actor is Actor.BUYER else CancelReason.SELLER
        event = await transition(
            session,
            order,
            OrderAction.CANCEL,
            actor,
            now=now,
            cancel_reason=(reason or default).value,
            recorded_as=recorded_actor(actor, roles),
        )
        recorded = recorded_actor(actor, roles)
        refunded = await paying.refund_captured(
            session, ctx.gateway, order=order, actor=recorded, now=now
        )
        await restock(session, order)
        _remember(claimed, order)
        event_ids = await commit_with_events(session, [event, *refunded])
        return OrderOutcome(order, event_ids=event_ids)

    return await _keyed_write(ctx, keyed, work)


async def _keyed_write(
    ctx: Context, keyed: idempotency.Keyed | None, work: idempotency.OptionalWork[OrderOutcome]
) -> OrderOutcome:
    """An order step as a keyed write, then announced (a replay too: it drops the
    request's cached rows of the order)."""
    outcome = await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.replayed_order
    )
    return await announce(ctx, outcome)


async def confirm_receipt(
    ctx: Context, *, viewer_id: int, order_id: int, idempotency_key: str | None = None
) -> OrderOutcome:
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=CONFIRM_OPERATION,
        payload={"order": order_id},
    )
    return await _simple(ctx, viewer_id, order_id, OrderAction.CONFIRM_RECEIPT, None, keyed)


async def _simple(
    ctx: Context,
    viewer_id: int,
    order_id: int,
    action: OrderAction,
    note: str | None,
    keyed: idempotency.Keyed | None,
) -> OrderOutcome:
    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> OrderOutcome:
        order, roles = await load_for(session, viewer_id, order_id)
        actor = actor_for(action, order, roles)
        recorded = recorded_actor(actor, roles)
        event = await transition(
            session, order, action, actor, now=now, note=note, recorded_as=recorded
        )
        scanned = await _follow_shipment(session, order, action, recorded, now)
        _remember(claimed, order)
        event_ids = await commit_with_events(session, [event, *scanned])
        return OrderOutcome(order, event_ids=event_ids)

    return await _keyed_write(ctx, keyed, work)


async def ship_order(
    ctx: Context,
    *,
    viewer_id: int,
    order_id: int,
    carrier: str,
    tracking_number: str,
    idempotency_key: str | None = None,
) -> OrderOutcome:
    carrier = text_input.required(carrier, text_input.CARRIER, "input", "carrier")
    tracking_number = text_input.required(
        tracking_number, text_input.TRACKING_NUMBER, "input", "trackingNumber"
    )
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=SHIP_OPERATION,
        payload={"order": order_id, "carrier": carrier, "trackingNumber": tracking_number},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> OrderOutcome:
        order, roles = await load_for(session, viewer_id, order_id)
        actor = actor_for(OrderAction.SHIP, order, roles)
        recorded = recorded_actor(actor, roles)
        event = await transition(
            session, order, OrderAction.SHIP, actor, now=now, recorded_as=recorded
        )
        if order.id is None:  # pragma: no cover
            raise ValueError("order without id")
        shipment = Shipment(
            order_id=order.id,
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=now,
            estimated_delivery=now + ESTIMATED_TRANSIT,
        )
        session.add(shipment)
        await session.flush()
        if shipment.id is None:  # pragma: no cover
            raise ValueError("shipment without id")
        _remember(claimed, order)
        label = f"Label created for {carrier}."
        scanned = await _scanned(
            session, order, shipment.id, "LABEL_CREATED", recorded, now, message=label
        )
        event_ids = await commit_with_events(session, [event, scanned])
        return OrderOutcome(order, event_ids=event_ids)

    return await _keyed_write(ctx, keyed, work)


_STATUS_ACTIONS = {
    OrderStatus.IN_TRANSIT: OrderAction.MARK_IN_TRANSIT,
    OrderStatus.DELIVERED: OrderAction.MARK_DELIVERED,
}


async def update_order_status(
    ctx: Context,
    *,
    viewer_id: int,
    order_id: int,
    status: OrderStatus,
    note: str | None,
    idempotency_key: str | None = None,
) -> OrderOutcome:
    action = _STATUS_ACTIONS.get(status)
    if action is None:
        raise Refused.one(
            ErrorCode.INVALID,
            "updateOrderStatus sets IN_TRANSIT or DELIVERED; use the dedicated mutations "
            "for the other changes.",
            "input",
            "status",
        )
    text = _note(note)
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=UPDATE_STATUS_OPERATION,
        payload={"order": order_id, "status": status, "note": text},
    )
    return await _simple(ctx, viewer_id, order_id, action, text, keyed)


_SCANS: Table = ShipmentEvent.__table__  # type: ignore[attr-defined]
# Built once, on the table: the ORM's flush of one new row cost more than the INSERT.
_INSERT_SCAN = insert(_SCANS).returning(_SCANS.c.id)


async def _scanned(
    session: AsyncSession,
    order: Order,
    shipment_id: int,
    kind: str,
    actor: Actor,
    now: datetime,
    *,
    message: str | None = None,
) -> OrderEvent:
    """Store a scan the seller's step makes; the CARRIER_SCAN event that names it."""
    stored = await session.execute(
        _INSERT_SCAN,
        {
            "shipment_id": shipment_id,
            "kind": kind,
            "location": None,
            "message": message,
            "happened_at": now,
            "carrier_scan_id": None,
        },
    )
    scan_id = stored.scalar_one()
    return step_event(order, OrderEventKind.CARRIER_SCAN, scan_id, actor, now=now)


# Built once, as transitions' statements are.
_SHIPMENT_OF = select(Shipment).where(col(Shipment.order_id) == bindparam("order_key"))


async def _follow_shipment(
    session: AsyncSession, order: Order, action: OrderAction, actor: Actor, now: datetime
) -> list[OrderEvent]:
    """Keep the shipment's scans and dates in step with the carrier's status changes
    (made by ``actor``); the events of the scans it records."""
    kinds = {OrderAction.MARK_IN_TRANSIT: "PICKED_UP", OrderAction.MARK_DELIVERED: "DELIVERED"}
    kind = kinds.get(action)
    if kind is None:
        return []
    found = await session.execute(_SHIPMENT_OF, {"order_key": order.id})
    shipment = found.scalars().first()
    if shipment is None or shipment.id is None:
        return []
    if action is OrderAction.MARK_DELIVERED:
        shipment.delivered_at = now
    return [await _scanned(session, order, shipment.id, kind, actor, now)]
