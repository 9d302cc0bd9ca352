"""placeOrder: price on the server, snapshot, take stock atomically, pay at once if asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import IdempotencyKey, Order, OrderEvent, OrderItem, Product
from domain.money import Money
from domain.order_status import Actor, OrderAction, OrderStatus
from domain.pricing import Line, price
from resolvers.context import Context
from resolvers.mutations import idempotency, paying, text_input
from resolvers.mutations.outcome import ErrorCode, Refused, UserError
from resolvers.mutations.transitions import transition
from resolvers.mutations.unit_of_work import (
    OrderOutcome,
    announce,
    commit_with_events,
)

MAX_LINES = 50
MAX_QUANTITY = 99
OPERATION = "placeOrder"


@dataclass(frozen=True, slots=True)
class LineInput:
    product_id: int
    quantity: int
    source_video_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddressInput:
    name: str
    line1: str
    city: str
    postal_code: str
    country_code: str
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


def validate(lines: Sequence[LineInput], address: AddressInput) -> list[UserError]:
    """Everything that can be checked without the database."""
    errors: list[UserError] = []
    if not lines:
        errors.append(
            UserError(ErrorCode.INVALID, "An order needs at least one item.", ("input", "items"))
        )
    if len(lines) > MAX_LINES:
        errors.append(
            UserError(
                ErrorCode.INVALID, f"At most {MAX_LINES} lines per order.", ("input", "items")
            )
        )
    seen: set[int] = set()
    for index, line in enumerate(lines):
        at = ("input", "items", str(index))
        if not 1 <= line.quantity <= MAX_QUANTITY:
            errors.append(
                UserError(
                    ErrorCode.INVALID, f"Quantity must be 1 to {MAX_QUANTITY}.", (*at, "quantity")
                )
            )
        if line.product_id in seen:
            errors.append(
                UserError(
                    ErrorCode.INVALID,
                    "Each product once; raise its quantity instead.",
                    (*at, "productId"),
                )
            )
        seen.add(line.product_id)
        errors += text_input.too_long(
            line.source_video_id, text_input.LINE_VIDEO_ID, *at, "sourceVideoId"
        )
    values = {
        "name": address.name,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postalCode": address.postal_code,
        "phone": address.phone,
    }
    for name, value in values.items():
        errors += text_input.too_long(
            value, text_input.ADDRESS[name], "input", "shippingAddress", name
        )
        if name in ("name", "line1", "city", "postalCode") and not (value or "").strip():
            errors.append(
                UserError(ErrorCode.INVALID, "Required.", ("input", "shippingAddress", name))
            )
    code = address.country_code
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        errors.append(
            UserError(
                ErrorCode.INVALID,
                "A two-letter ISO 3166-1 country code.",
                ("input", "shippingAddress", "countryCode"),
            )
        )
    return errors


def fingerprint(
    lines: Sequence[LineInput], address: AddressInput, payment_method_id: int | None
) -> str:
    return idempotency.request_hash(
        {
            "lines": [[ln.product_id, ln.quantity, ln.source_video_id] for ln in lines],
            "address": [
                address.name,
                address.line1,
                address.line2,
                address.city,
                address.region,
                address.postal_code,
                address.country_code.upper(),
                address.phone,
            ],
            "paymentMethodId": payment_method_id,
        }
    )


async def place_order(
    ctx: Context,
    *,
    viewer_id: int,
    lines: Sequence[LineInput],
    address: AddressInput,
    payment_method_id: int | None,
    idempotency_key: str,
) -> OrderOutcome:
    key_hash = idempotency.check_key(idempotency_key)
    errors = validate(lines, address)
    if errors:
        raise Refused(errors)
    keyed = idempotency.Keyed(
        viewer_id, OPERATION, key_hash, fingerprint(lines, address, payment_method_id)
    )

    async def work(session: AsyncSession, claimed: IdempotencyKey, now: datetime) -> OrderOutcome:
        return await _place(ctx, session, claimed, now, keyed, lines, address, payment_method_id)

    outcome = await idempotency.keyed_write(
        ctx, keyed, work=work, replay=idempotency.replayed_order
    )
    await announce(ctx, outcome)
    if ctx.refresher is not None:
        ctx.refresher.request(viewer_id)
    return outcome


async def _place(
    ctx: Context,
    session: AsyncSession,
    claimed: IdempotencyKey,
    now: datetime,
    keyed: idempotency.Keyed,
    lines: Sequence[LineInput],
    address: AddressInput,
    payment_method_id: int | None,
) -> OrderOutcome:
    viewer_id = keyed.user_id
    ids = [ln.product_id for ln in lines]
    found = (await session.execute(select(Product).where(col(Product.id).in_(ids)))).scalars()
    products = {p.id: p for p in found}
    errors: list[UserError] = []
    for index, line in enumerate(lines):
        product = products.get(line.product_id)
        at = ("input", "items", str(index), "productId")
        if product is None:
            errors.append(UserError(ErrorCode.NOT_FOUND, "No such product.", at))
        elif not product.on_sale:
            errors.append(UserError(ErrorCode.INVALID, "This product is not on sale.", at))
        elif product.stock < line.quantity:
            errors.append(
                UserError(
                    ErrorCode.OUT_OF_STOCK,
                    f"Only {product.stock} left.",
                    (*at[:-1], "quantity"),
                )
            )
    if errors:
        raise Refused(errors)
    chosen = [products[ln.product_id] for ln in lines]
    if len({p.shop_id for p in chosen}) > 1:
        raise Refused.one(
            ErrorCode.INVALID, "All items of an order come from one shop.", "input", "items"
        )
    if len({p.currency for p in chosen}) > 1:
        raise Refused.one(ErrorCode.INVALID, "All items must share one currency.", "input", "items")
    method = None
    if payment_method_id is not None:
        method = await paying.usable_method(
            session,
            user_id=viewer_id,
            method_id=payment_method_id,
            now=now,
            field=("input", "paymentMethodId"),
        )
    # In product-id order, as restock does: two orders naming the same products in
    # different orders would otherwise lock the rows crosswise and deadlock.
    for index, line in sorted(enumerate(lines), key=lambda pair: pair[1].product_id):
        # Conditional decrement: two buyers can never both take the last unit.
        taken = await session.execute(
            update(Product)
            .where(col(Product.id) == line.product_id, col(Product.stock) >= line.quantity)
            .values(stock=col(Product.stock) - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) != 1:
            raise Refused.one(
                ErrorCode.OUT_OF_STOCK,
                "Sold out meanwhile.",
                "input",
                "items",
                str(index),
                "quantity",
            )
    totals = price(
        [
            Line(Money(p.price_minor, p.currency), ln.quantity)
            for p, ln in zip(chosen, lines, strict=True)
        ]
    )
    order = Order(
        number=f"pending-{claimed.id}",
        user_id=viewer_id,
        shop_id=chosen[0].shop_id,
        status=OrderStatus.UNPAID.value,
        version=1,
        currency=totals.total.currency,
        subtotal_minor=totals.subtotal.amount_minor,
        shipping_minor=totals.shipping.amount_minor,
        tax_minor=totals.tax.amount_minor,
        total_minor=totals.total.amount_minor,
        ship_name=address.name.strip(),
        ship_line1=address.line1.strip(),
        ship_line2=address.line2,
        ship_city=address.city.strip(),
        ship_region=address.region,
        ship_postal_code=address.postal_code.strip(),
        ship_country_code=address.country_code.upper(),
        ship_phone=address.phone,
        placed_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    if order.id is None:  # pragma: no cover
        raise ValueError("order id not assigned")
    order.number = f"OC-{now.year}-{order.id:06d}"
    for product, line in zip(chosen, lines, strict=True):
        session.add(
            OrderItem(
                order_id=order.id,
                product_id=line.product_id,
                title=product.title,
                unit_price_minor=product.price_minor,
                currency=product.currency,
                quantity=line.quantity,
                source_video_id=line.source_video_id,
            )
        )
    placed = OrderEvent(
        order_id=order.id,
        from_status=None,
        to_status=OrderStatus.UNPAID.value,
        order_version=1,
        actor=Actor.BUYER.value,
        occurred_at=now,
    )
    events = [placed]
    outcome = OrderOutcome(order)
    claimed.order_id = order.id
    if method is not None:
        attempt = await paying.charge(
            session,
            ctx.gateway,
            order=order,
            method=method,
            idempotency_key=keyed.processor_key(),
            now=now,
            actor=Actor.BUYER,
        )
        events.append(attempt.event)
        refusal = attempt.refusal
        if refusal is None:
            events.append(await transition(session, order, OrderAction.PAY, Actor.BUYER, now=now))
        else:
            # The order stands, unpaid; the buyer can pay it later.
            message = f"The order was placed but not paid: {refusal.message} Pay it with payOrder."
            outcome.errors.append(UserError(refusal.code, message, ("input", "paymentMethodId")))
    _remember(claimed, outcome)
    outcome.event_ids = await commit_with_events(session, events)
    return outcome


def _remember(claimed: IdempotencyKey, outcome: OrderOutcome) -> None:
    if outcome.errors:
        claimed.error_code = outcome.errors[0].code.value
        claimed.error_message = outcome.errors[0].message
