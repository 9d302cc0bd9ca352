"""requestReturn, approveReturn, rejectReturn, cancelReturn, shipReturn, receiveReturn
and refundReturn: a return's steps (domain.returns), each an event on the order.

Every step locks the order row first (transitions.lock_order), so the steps of all the
order's returns run one after the other: units are counted once and a return is
refunded once, however requests race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderItem,
    OrderReturn,
    Payment,
    ReturnLine,
    Shipment,
)
from domain import returns as domain
from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderStatus
from domain.state_machine import InvalidTransition
from resolvers.context import Context
from resolvers.gateway import RefundFailed
from resolvers.mutations import idempotency, text_input
from resolvers.mutations.outcome import ErrorCode, Refused, UserError, not_found
from resolvers.mutations.transitions import load_for, recorded_actor
from resolvers.mutations.unit_of_work import OrderOutcome, announce, commit_with_events

MAX_LINES = 50
MAX_QUANTITY = 99


@dataclass(slots=True)
class ReturnOutcome:
    """The return and its order as committed (None if nothing was), refusals, and
    events to announce."""

    order: Order | None
    ret: OrderReturn | None
    errors: list[UserError] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LineInput:
    order_item_id: int
    quantity: int


def _check_lines(lines: Sequence[LineInput]) -> None:
    errors: list[UserError] = []
    if not lines:
        errors.append(UserError(ErrorCode.INVALID, "Return at least one line.", ("input", "lines")))
    if len(lines) > MAX_LINES:
        errors.append(
            UserError(ErrorCode.INVALID, f"At most {MAX_LINES} lines.", ("input", "lines"))
        )
    seen: set[int] = set()
    for index, line in enumerate(lines):
        at = ("input", "lines", str(index))
        if not 1 <= line.quantity <= MAX_QUANTITY:
            errors.append(
                UserError(
                    ErrorCode.INVALID, f"Quantity must be 1 to {MAX_QUANTITY}.", (*at, "quantity")
                )
            )
        if line.order_item_id in seen:
            errors.append(
                UserError(ErrorCode.INVALID, "Each order line once.", (*at, "orderItemId"))
            )
        seen.add(line.order_item_id)
    if errors:
        raise Refused(errors)


async def _replayed(session: AsyncSession, first: idempotency.Replay) -> ReturnOutcome:
    """The first answer: its return and order as they are now."""
    order = None if first.order_id is None else await session.get(Order, first.order_id)
    found = (first.result or {}).get("return_id")
    ret = None if found is None else await session.get(OrderReturn, found)
    return ReturnOutcome(order, ret, [first.error] if first.error else [])


def _remember(claimed: IdempotencyKey | None, order: Order, ret: OrderReturn) -> None:
    if claimed is not None:
        claimed.order_id = order.id
        claimed.result = {"return_id": ret.id}


def _event(
    order: Order, ret: OrderReturn, kind: OrderEventKind, actor: Actor, now: datetime, **extra: Any
) -> OrderEvent:
    """A step beside the order's status: the status and version stay as they are."""
    if order.id is None:  # pragma: no cover - a locked order has an id
        raise ValueError("order without id")
    return OrderEvent(
        order_id=order.id,
        from_status=order.status,
        to_status=order.status,
        order_version=order.version,
        actor=actor.value,
        occurred_at=now,
        kind=kind.value,
        subject_id=extra.pop("subject_id", ret.id),
        **extra,
    )


def _actor(action: domain.ReturnAction, ret: OrderReturn, roles: frozenset[Actor]) -> Actor:
    """The role the viewer takes the step in; FORBIDDEN or INVALID_TRANSITION otherwise."""
    allowed = domain.actors_of(action)
    usable = [a for a in (Actor.BUYER, Actor.SELLER) if a in roles and a in allowed]
    if not usable:
        who = " or ".join(sorted(a.value.lower() for a in allowed - {Actor.SYSTEM}))
        raise Refused.one(ErrorCode.FORBIDDEN, f"Only the {who} may {action.value} a return.")
    status = domain.ReturnStatus(ret.status)
    refusal = ""
    for actor in usable:
        try:
            domain.next_return_status(status, action, actor)
        except InvalidTransition as refused:
            refusal = refused.reason
            continue
        return actor
    raise Refused.one(ErrorCode.INVALID_TRANSITION, refusal)


async def _units_left(
    session: AsyncSession, order: Order
) -> tuple[dict[int, OrderItem], dict[int, int]]:
    """The order's lines by id, and how many units of each may still be returned."""
    items = {
        item.id: item
        for item in (
            await session.execute(select(OrderItem).where(OrderItem.order_id == order.id))
        ).scalars()
        if item.id is not None
    }
    returned = (
        await session.execute(
            select(ReturnLine.order_item_id, ReturnLine.quantity, OrderReturn.status)
            .join(OrderReturn, col(OrderReturn.id) == col(ReturnLine.return_id))
            .where(OrderReturn.order_id == order.id)
        )
    ).all()
    left = domain.returnable_units(
        {pk: item.quantity for pk, item in items.items()},
        [
            (line_id, quantity, domain.ReturnStatus(status))
            for line_id, quantity, status in returned
        ],
    )
    return items, left


async def _returns_of(session: AsyncSession, order: Order) -> list[OrderReturn]:
    statement = select(OrderReturn).where(OrderReturn.order_id == order.id)
    return list(
        (await session.execute(statement.execution_options(populate_existing=True))).scalars()
    )


async def _delivered_at(session: AsyncSession, order: Order) -> datetime | None:
    statement = select(Shipment.delivered_at).where(Shipment.order_id == order.id)
    return (await session.execute(statement)).scalars().first()


async def _refund_of(
    session: AsyncSession, order: Order, ret: OrderReturn, *, completes_when: set[str]
) -> domain.Refund:
    """What ``ret`` refunds: its lines, tax in proportion to what was refunded before,
    and shipping when, with the returns in ``completes_when`` statuses, every unit of the
    order is returned."""
    lines = (
        (await session.execute(select(ReturnLine).where(ReturnLine.return_id == ret.id)))
        .scalars()
        .all()
    )
    others = [r for r in await _returns_of(session, order) if r.id != ret.id]
    before = sum(r.subtotal_minor for r in others if r.status == domain.ReturnStatus.REFUNDED)
    ordered = sum(
        (await session.execute(select(OrderItem.quantity).where(OrderItem.order_id == order.id)))
        .scalars()
        .all()
    )
    covered_ids = [r.id for r in others if r.status in completes_when] + [ret.id]
    covered = sum(
        (
            await session.execute(
                select(ReturnLine.quantity).where(col(ReturnLine.return_id).in_(covered_ids))
            )
        )
        .scalars()
        .all()
    )
    return domain.refund_for(
        lines_minor=sum(line.unit_price_minor * line.quantity for line in lines),
        order_subtotal_minor=order.subtotal_minor,
        order_tax_minor=order.tax_minor,
        order_shipping_minor=order.shipping_minor,
        refunded_before_minor=before,
        completes_order=covered >= ordered,
    )


def _set_amounts(ret: OrderReturn, refund: domain.Refund) -> None:
    ret.subtotal_minor = refund.subtotal_minor
    ret.tax_minor = refund.tax_minor
    ret.shipping_minor = refund.shipping_minor
    ret.total_minor = refund.total_minor


# --- requestReturn ------------------------------------------------------------------

REQUEST_OPERATION = "requestReturn"


async def request_return(
    ctx: Context,
    *,
    viewer_id: int,
    order_id: int,
    lines: Sequence[LineInput],
    reason: domain.ReturnReason,
    note: str | None,
    idempotency_key: str | None = None,
) -> ReturnOutcome:
    _check_lines(lines)
    text = text_input.cleaned(note, text_input.RETURN_NOTE, "input", "note")
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=REQUEST_OPERATION,
        payload={
            "order": order_id,
            "lines": [(line.order_item_id, line.quantity) for line in lines],
            "reason": reason.value,
            "note": text,
        },
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> ReturnOutcome:
        order, roles = await load_for(session, viewer_id, order_id)
        if not roles & domain.REQUESTERS:
            raise Refused.one(ErrorCode.FORBIDDEN, "Only the buyer may ask for a return.")
        if OrderStatus(order.status) not in domain.RETURNABLE_ORDER_STATUSES:
            raise Refused.one(
                ErrorCode.INVALID_TRANSITION,
                f"An order that is {order.status} cannot be returned.",
                "input",
                "orderId",
            )
        delivered_at = await _delivered_at(session, order)
        if not domain.within_window(delivered_at, now, ctx.rules.return_window):
            raise Refused.one(
                ErrorCode.NOT_RETURNABLE,
                f"Returns are accepted up to {ctx.rules.return_window.days} days after "
                "delivery; this order's window has closed.",
                "input",
                "orderId",
            )
        items, left = await _units_left(session, order)
        errors = []
        for index, line in enumerate(lines):
            at = ("input", "lines", str(index))
            if line.order_item_id not in items:
                errors.append(
                    UserError(ErrorCode.NOT_FOUND, "No such order line.", (*at, "orderItemId"))
                )
            elif line.quantity > left[line.order_item_id]:
                errors.append(
                    UserError(
                        ErrorCode.NOT_RETURNABLE,
                        f"Only {left[line.order_item_id]} unit(s) of this line may still "
                        "be returned.",
                        (*at, "quantity"),
                    )
                )
        if errors:
            raise Refused(errors)
        if order.id is None:  # pragma: no cover
            raise ValueError("order without id")
        ret = OrderReturn(
            order_id=order.id,
            user_id=order.user_id,
            status=domain.ReturnStatus.REQUESTED.value,
            reason=reason.value,
            note=text,
            currency=order.currency,
            subtotal_minor=0,
            tax_minor=0,
            shipping_minor=0,
            total_minor=0,
            requested_at=now,
            updated_at=now,
        )
        session.add(ret)
        await session.flush()
        if ret.id is None:  # pragma: no cover
            raise ValueError("return without id")
        session.add_all(
            ReturnLine(
                return_id=ret.id,
                order_item_id=line.order_item_id,
                quantity=line.quantity,
                unit_price_minor=items[line.order_item_id].unit_price_minor,
                currency=items[line.order_item_id].currency,
            )
            for line in lines
        )
        await session.flush()
        counted = {s.value for s in domain.COUNTED_STATUSES}
        _set_amounts(ret, await _refund_of(session, order, ret, completes_when=counted))
        _remember(claimed, order, ret)
        event = _event(order, ret, OrderEventKind.RETURN_REQUESTED, Actor.BUYER, now, note=text)
        event_ids = await commit_with_events(session, [event])
        return ReturnOutcome(order, ret, event_ids=event_ids)

    return await _keyed_write(ctx, keyed, work)


async def _keyed_write(
    ctx: Context, keyed: idempotency.Keyed | None, work: idempotency.OptionalWork[ReturnOutcome]
) -> ReturnOutcome:
    """A step as a keyed write, then its events announced and its order's cached rows
    dropped (a replay's too, as every order mutation's)."""
    outcome = await idempotency.keyed_write(ctx, keyed, work=work, replay=_replayed)
    await announce(ctx, OrderOutcome(outcome.order, event_ids=outcome.event_ids))
    return outcome


# --- the steps of a return ------------------------------------------------------------

# What else a step does: given the role the viewer takes it in (for the rules) and who
# to record (an operator acting as the seller is recorded as the operator).
Apply = Callable[
    [AsyncSession, Order, OrderReturn, Actor, Actor, datetime], Awaitable[list[OrderEvent]]
]

# Each step's mutation (its idempotency keys' operation) and the instant it stamps.
OPERATION_OF: dict[domain.ReturnAction, str] = {
    domain.ReturnAction.APPROVE: "approveReturn",
    domain.ReturnAction.REJECT: "rejectReturn",
    domain.ReturnAction.CANCEL: "cancelReturn",
    domain.ReturnAction.SHIP: "shipReturn",
    domain.ReturnAction.RECEIVE: "receiveReturn",
    domain.ReturnAction.REFUND: "refundReturn",
}
STAMPS: dict[domain.ReturnAction, str] = {
    domain.ReturnAction.APPROVE: "decided_at",
    domain.ReturnAction.REJECT: "decided_at",
    domain.ReturnAction.SHIP: "shipped_at",
    domain.ReturnAction.RECEIVE: "received_at",
}


async def _no_more(
    session: AsyncSession,
    order: Order,
    ret: OrderReturn,
    actor: Actor,
    recorded: Actor,
    now: datetime,
) -> list[OrderEvent]:
    return []


async def _step(
    ctx: Context,
    *,
    viewer_id: int,
    return_id: int,
    action: domain.ReturnAction,
    idempotency_key: str | None,
    values: dict[str, Any] | None = None,
    note: str | None = None,
    apply: Apply = _no_more,
) -> ReturnOutcome:
    """Lock the return's order, check the step, set ``values`` on the return, write the
    step's event (``note`` on it), then ``apply`` what else the step does; commit."""
    values = values or {}
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=OPERATION_OF[action],
        payload={"return": return_id, **values},
    )

    async def work(
        session: AsyncSession, claimed: IdempotencyKey | None, now: datetime
    ) -> ReturnOutcome:
        found = await session.get(OrderReturn, return_id)
        if found is None:
            raise not_found("return", "input", "returnId")
        try:
            order, roles = await load_for(session, viewer_id, found.order_id)
        except Refused:
            raise not_found("return", "input", "returnId") from None
        # Read again under the order's lock: a racing step may have moved it.
        ret = await session.get(OrderReturn, return_id, populate_existing=True)
        if ret is None:  # pragma: no cover - returns are never deleted
            raise not_found("return", "input", "returnId")
        actor = _actor(action, ret, roles)
        target = domain.next_return_status(domain.ReturnStatus(ret.status), action, actor)
        ret.status = target.value
        ret.updated_at = now
        for name, value in values.items():
            setattr(ret, name, value)
        if action in STAMPS:
            setattr(ret, STAMPS[action], now)
        recorded = recorded_actor(actor, roles)
        events = [_event(order, ret, domain.EVENT_OF[action], recorded, now, note=note)]
        events += await apply(session, order, ret, actor, recorded, now)
        _remember(claimed, order, ret)
        event_ids = await commit_with_events(session, events)
        errors = []
        if ret.refund_failure is not None and ret.status == domain.ReturnStatus.RECEIVED:
            errors.append(
                UserError(
                    ErrorCode.REFUND_FAILED,
                    f"{ret.refund_failure} The return is received; retry with refundReturn.",
                )
            )
        return ReturnOutcome(order, ret, errors, event_ids)

    return await _keyed_write(ctx, keyed, work)


def _plain(action: domain.ReturnAction) -> Callable[..., Awaitable[ReturnOutcome]]:
    """A step that needs nothing but the return (and an optional key)."""

    async def step(
        ctx: Context, *, viewer_id: int, return_id: int, idempotency_key: str | None = None
    ) -> ReturnOutcome:
        return await _step(
            ctx,
            viewer_id=viewer_id,
            return_id=return_id,
            action=action,
            idempotency_key=idempotency_key,
        )

    return step


approve_return = _plain(domain.ReturnAction.APPROVE)
cancel_return = _plain(domain.ReturnAction.CANCEL)


async def reject_return(
    ctx: Context, *, viewer_id: int, return_id: int, reason: str, idempotency_key: str | None = None
) -> ReturnOutcome:
    text = text_input.required(reason, text_input.REJECT_REASON, "input", "reason")
    return await _step(
        ctx,
        viewer_id=viewer_id,
        return_id=return_id,
        action=domain.ReturnAction.REJECT,
        idempotency_key=idempotency_key,
        values={"reject_reason": text},
        note=text,
    )


async def ship_return(
    ctx: Context,
    *,
    viewer_id: int,
    return_id: int,
    carrier: str,
    tracking_number: str,
    idempotency_key: str | None = None,
) -> ReturnOutcome:
    carrier_text = text_input.required(carrier, text_input.RETURN_CARRIER, "input", "carrier")
    tracking = text_input.required(
        tracking_number, text_input.RETURN_TRACKING_NUMBER, "input", "trackingNumber"
    )
    return await _step(
        ctx,
        viewer_id=viewer_id,
        return_id=return_id,
        action=domain.ReturnAction.SHIP,
        idempotency_key=idempotency_key,
        values={"carrier": carrier_text, "tracking_number": tracking},
    )


async def receive_return(
    ctx: Context, *, viewer_id: int, return_id: int, idempotency_key: str | None = None
) -> ReturnOutcome:
    """The seller has the units back: RECEIVED, then refunded in the same step. If the
    gateway fails, the return stays RECEIVED (committed) with why, for refundReturn."""

    async def refund(
        session: AsyncSession,
        order: Order,
        ret: OrderReturn,
        actor: Actor,
        recorded: Actor,
        now: datetime,
    ) -> list[OrderEvent]:
        try:
            refunded = await _refund(ctx, session, order, ret, now)
        except RefundFailed as failed:
            ret.refund_failure = str(failed)
            ret.refund_attempts += 1
            return []
        # The refund as a step of its own, then the money.
        ret.status = domain.next_return_status(
            domain.ReturnStatus(ret.status), domain.ReturnAction.REFUND, actor
        ).value
        kind = domain.EVENT_OF[domain.ReturnAction.REFUND]
        return [_event(order, ret, kind, recorded, now), refunded(recorded)]

    return await _step(
        ctx,
        viewer_id=viewer_id,
        return_id=return_id,
        action=domain.ReturnAction.RECEIVE,
        idempotency_key=idempotency_key,
        apply=refund,
    )


async def refund_return(
    ctx: Context, *, viewer_id: int, return_id: int, idempotency_key: str | None = None
) -> ReturnOutcome:
    """Retry the refund of a RECEIVED return; a failure again changes nothing."""

    async def refund(
        session: AsyncSession,
        order: Order,
        ret: OrderReturn,
        actor: Actor,
        recorded: Actor,
        now: datetime,
    ) -> list[OrderEvent]:
        try:
            refunded = await _refund(ctx, session, order, ret, now)
        except RefundFailed as failed:
            raise Refused.one(
                ErrorCode.REFUND_FAILED, f"{failed} Try again later.", "input", "returnId"
            ) from None
        return [refunded(recorded)]

    return await _step(
        ctx,
        viewer_id=viewer_id,
        return_id=return_id,
        action=domain.ReturnAction.REFUND,
        idempotency_key=idempotency_key,
        apply=refund,
    )


async def _refund(
    ctx: Context, session: AsyncSession, order: Order, ret: OrderReturn, now: datetime
) -> Callable[[Actor], OrderEvent]:
    """Pay the return's refund through the gateway, once: the gateway's key is the
    return's, and the payments row is the return's only refund (a unique column).
    Returns the maker of its REFUNDED event, by who refunded."""
    refunded = {domain.ReturnStatus.REFUNDED.value}
    refund = await _refund_of(session, order, ret, completes_when=refunded)
    payments = list(
        (
            await session.execute(
                select(Payment).where(Payment.order_id == order.id).order_by(col(Payment.id))
            )
        ).scalars()
    )
    captured = next((p for p in payments if p.status == "CAPTURED"), None)
    if captured is None:
        raise Refused.one(ErrorCode.INVALID, "Nothing was captured for this order to refund.")
    given_back = sum(p.amount_minor for p in payments if p.status in _REFUND_ROWS)
    amount = min(refund.total_minor, captured.amount_minor - given_back)
    reference = await ctx.gateway.refund(
        captured.gateway_reference or "",
        amount_minor=amount,
        currency=captured.currency,
        idempotency_key=f"return:{ret.id}",
    )
    row = Payment(
        order_id=captured.order_id,
        user_id=captured.user_id,
        payment_method_id=captured.payment_method_id,
        amount_minor=amount,
        currency=captured.currency,
        status="REFUNDED" if given_back + amount >= captured.amount_minor else "PARTIALLY_REFUNDED",
        gateway_reference=reference,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    _set_amounts(ret, refund)
    # Only what the processor was asked for, when the captured total caps it.
    ret.total_minor = amount
    ret.refund_payment_id = row.id
    ret.refund_failure = None
    ret.refund_attempts += 1
    ret.refunded_at = now
    return lambda actor: _event(order, ret, OrderEventKind.REFUNDED, actor, now, subject_id=row.id)


_REFUND_ROWS = frozenset({"REFUNDED", "PARTIALLY_REFUNDED"})
