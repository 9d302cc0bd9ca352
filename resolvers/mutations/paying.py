"""Taking and giving back money through the gateway, recorded as payments rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from db.models import Order, Payment, PaymentMethod
from domain.cards import card_expired
from resolvers import policy
from resolvers.gateway import ChargeStatus, PaymentGateway
from resolvers.mutations.outcome import ErrorCode, Refused, UserError, not_found


@dataclass(frozen=True, slots=True)
class Attempt:
    payment: Payment
    refusal: UserError | None
    # The processor gave no answer: a retry with the same key may succeed.
    retryable: bool


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
) -> Attempt:
    """One charge attempt for the order's total, recorded whatever its outcome."""
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
    if result.status is ChargeStatus.CAPTURED:
        return Attempt(payment, None, retryable=False)
    if result.status is ChargeStatus.DECLINED:
        return Attempt(payment, UserError(ErrorCode.PAYMENT_DECLINED, result.message), False)
    unavailable = "The payment processor is temporarily unavailable; nothing was charged."
    return Attempt(payment, UserError(ErrorCode.PAYMENT_DECLINED, unavailable), retryable=True)


async def refund_captured(
    session: AsyncSession, gateway: PaymentGateway, *, order: Order, now: datetime
) -> list[Payment]:
    """Refund every captured payment of a cancelled order; returns the refund rows."""
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
    return refunds
