"""Taking and giving back money through the gateway, recorded as payments rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from db.models import Order, OrderEvent, Payment, PaymentMethod
from domain.cards import card_expired
from domain.order_events import payment_event_kind
from domain.order_status import Actor
from resolvers import policy
from resolvers.gateway import ChargeStatus, PaymentGateway
from resolvers.mutations.outcome import ErrorCode, Refused, UserError, not_found
from resolvers.mutations.transitions import step_event


@dataclass(frozen=True, slots=True)
class Attempt:
    payment: Payment
    refusal: UserError | None
    # The processor gave no answer: a retry with the same key may succeed.
    retryable: bool
    # Records the attempt on the order's timeline (PAYMENT_CAPTURED or PAYMENT_FAILED),
    # to be committed with it: the order as it was before the attempt moved it.
    event: OrderEvent


def payment_event(order: Order, payment: Payment, actor: Actor, now: datetime) -> OrderEvent:
    """The (unsaved) order event that records a stored payments row, of the kind its
    status says (``domain.order_events.PAYMENT_EVENT_KINDS``)."""
    kind = payment_event_kind(payment.status)
    return step_event(order, kind, payment.id, actor, now=now)


async def usable_method(
    session: AsyncSession, *, user_id: int, method_id: int, now: datetime, field: tuple[str, ...]
) -> PaymentMethod:
    """The viewer's saved, unexpired method; refuses otherwise."""
    method = await session.get(PaymentMethod, method_id)
    if method is None or not policy.may_see_payment_method(user_id, method):
        raise not_found("payment method", *field)
    if card_expired(method.exp_month, method.exp_year, now):
        raise Refused.one(ErrorCode.INVALID, "This card has expired.", *field)
    return method


async def charge(
    session: AsyncSession,
    gateway: PaymentGateway,
    *,
    order: Order,
    method: PaymentMethod,
    idempotency_key: str,
    now: datetime,
    actor: Actor,
) -> Attempt:
    """One charge attempt for the order's total by ``actor``, recorded whatever its
    outcome (a payments row and the event naming it)."""
    if order.id is None or method.id is None:  # pragma: no cover - stored rows
        raise ValueError("unsaved order or method")
    result = await gateway.charge(
        method.processor_token,
        amount_minor=order.total_minor,
        currency=order.currency,
        idempotency_key=idempotency_key,
    )
    status = "CAPTURED" if result.status is ChargeStatus.CAPTURED else "FAILED"
    payment = Payment(
        order_id=order.id,
        user_id=order.user_id,
        payment_method_id=method.id,
        amount_minor=order.total_minor,
        currency=order.currency,
        status=status,
        gateway_reference=result.reference,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    await session.flush()
    event = payment_event(order, payment, actor, now)
    if result.status is ChargeStatus.CAPTURED:
        return Attempt(payment, None, retryable=False, event=event)
    if result.status is ChargeStatus.DECLINED:
        declined = UserError(ErrorCode.PAYMENT_DECLINED, result.message)
        return Attempt(payment, declined, retryable=False, event=event)
    unavailable = "The payment processor is temporarily unavailable; nothing was charged."
    refusal = UserError(ErrorCode.PAYMENT_DECLINED, unavailable)
    return Attempt(payment, refusal, retryable=True, event=event)


async def refund_captured(
    session: AsyncSession, gateway: PaymentGateway, *, order: Order, actor: Actor, now: datetime
) -> list[OrderEvent]:
    """Refund every captured payment of a cancelled order (on ``actor``'s cancellation);
    returns the REFUNDED events naming the refund rows, to commit with them."""
    statement = select(Payment).where(Payment.order_id == order.id, Payment.status == "CAPTURED")
    refunds: list[Payment] = []
    for captured in (await session.execute(statement)).scalars().all():
        reference = await gateway.refund(
            captured.gateway_reference or "",
            amount_minor=captured.amount_minor,
            currency=captured.currency,
        )
        refund = Payment(
            order_id=captured.order_id,
            user_id=captured.user_id,
            payment_method_id=captured.payment_method_id,
            amount_minor=captured.amount_minor,
            currency=captured.currency,
            status="REFUNDED",
            gateway_reference=reference,
            created_at=now,
            updated_at=now,
        )
        session.add(refund)
        refunds.append(refund)
    await session.flush()
    return [payment_event(order, refund, actor, now) for refund in refunds]
