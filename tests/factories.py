"""Plain factory functions: each inserts rows and returns them, ids assigned."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import (
    Order,
    OrderEvent,
    OrderItem,
    OrderReturn,
    Payment,
    PaymentMethod,
    Product,
    ProductView,
    Recommendation,
    ReturnLine,
    Review,
    Shipment,
    ShipmentEvent,
    Shop,
    TaggedItem,
    User,
)
from domain.order_status import Actor, OrderAction, OrderStatus, next_status

_seq = itertools.count(1)
BASE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# The path through the state machine to reach each status, with who acts.
PATH: dict[OrderStatus, list[tuple[OrderAction, Actor]]] = {
    OrderStatus.UNPAID: [],
    OrderStatus.AWAITING_SHIPMENT: [(OrderAction.PAY, Actor.BUYER)],
    OrderStatus.AWAITING_COLLECTION: [
        (OrderAction.PAY, Actor.BUYER),
        (OrderAction.SHIP, Actor.SELLER),
    ],
    OrderStatus.IN_TRANSIT: [
        (OrderAction.PAY, Actor.BUYER),
        (OrderAction.SHIP, Actor.SELLER),
        (OrderAction.MARK_IN_TRANSIT, Actor.CARRIER),
    ],
    OrderStatus.DELIVERED: [
        (OrderAction.PAY, Actor.BUYER),
        (OrderAction.SHIP, Actor.SELLER),
        (OrderAction.MARK_IN_TRANSIT, Actor.CARRIER),
        (OrderAction.MARK_DELIVERED, Actor.CARRIER),
    ],
    OrderStatus.COMPLETED: [
        (OrderAction.PAY, Actor.BUYER),
        (OrderAction.SHIP, Actor.SELLER),
        (OrderAction.MARK_IN_TRANSIT, Actor.CARRIER),
        (OrderAction.MARK_DELIVERED, Actor.CARRIER),
        (OrderAction.CONFIRM_RECEIPT, Actor.BUYER),
    ],
    OrderStatus.CANCELLED: [(OrderAction.CANCEL, Actor.BUYER)],
}


async def _add(sessions: SessionFactory, *rows: object) -> None:
    async with sessions() as session:
        session.add_all(rows)
        await session.commit()
        for row in rows:
            await session.refresh(row)


async def make_user(
    sessions: SessionFactory, *, handle: str | None = None, role: str = "buyer"
) -> User:
    n = next(_seq)
    user = User(handle=handle or f"user{n}", display_name=f"User {n}", role=role)
    await _add(sessions, user)
    return user


async def make_shop(sessions: SessionFactory, *, owner: User | None = None, name: str = "") -> Shop:
    n = next(_seq)
    owner = owner or await make_user(sessions, role="seller")
    assert owner.id is not None
    shop = Shop(owner_id=owner.id, handle=f"shop{n}", name=name or f"Shop {n}")
    await _add(sessions, shop)
    return shop


async def make_product(
    sessions: SessionFactory,
    *,
    shop: Shop,
    title: str = "",
    price_minor: int = 1999,
    currency: str = "USD",
    category: str = "home",
    stock: int = 10,
) -> Product:
    n = next(_seq)
    assert shop.id is not None
    product = Product(
        shop_id=shop.id,
        title=title or f"Product {n}",
        description=f"Description {n}",
        category=category,
        image_url=f"https://img.example/{n}.jpg",
        price_minor=price_minor,
        currency=currency,
        stock=stock,
    )
    await _add(sessions, product)
    return product


async def make_order(
    sessions: SessionFactory,
    *,
    buyer: User,
    shop: Shop,
    products: Sequence[Product],
    status: OrderStatus = OrderStatus.UNPAID,
    placed_at: datetime | None = None,
    quantity: int = 1,
    number: str | None = None,
    payment_method: PaymentMethod | None = None,
    tracking_number: str | None = None,
) -> Order:
    """An order with items, a consistent timeline, payments and (once shipped) a shipment."""
    n = next(_seq)
    placed_at = placed_at or BASE_TIME + timedelta(minutes=n)
    assert buyer.id is not None
    assert shop.id is not None
    subtotal = sum(p.price_minor * quantity for p in products)
    shipping = 499
    tax = subtotal * 8 // 100
    path = PATH[status]
    order = Order(
        number=number or f"OC-{n:06d}",
        user_id=buyer.id,
        shop_id=shop.id,
        status=status.value,
        version=1 + len(path),
        currency=products[0].currency,
        subtotal_minor=subtotal,
        shipping_minor=shipping,
        tax_minor=tax,
        total_minor=subtotal + shipping + tax,
        cancel_reason="CUSTOMER" if status is OrderStatus.CANCELLED else None,
        ship_name="Ada Buyer",
        ship_line1="1 Main St",
        ship_city="Springfield",
        ship_postal_code="12345",
        ship_country_code="US",
        placed_at=placed_at,
        updated_at=placed_at + timedelta(hours=len(path)),
    )
    await _add(sessions, order)
    assert order.id is not None
    rows: list[object] = [
        OrderItem(
            order_id=order.id,
            product_id=p.id,
            title=p.title,
            unit_price_minor=p.price_minor,
            currency=p.currency,
            quantity=quantity,
            source_video_id=f"vid{n}" if i == 0 else None,
        )
        for i, p in enumerate(products)
    ]
    current = OrderStatus.UNPAID
    rows.append(
        OrderEvent(
            order_id=order.id,
            from_status=None,
            to_status=current.value,
            order_version=1,
            actor=Actor.BUYER.value,
            occurred_at=placed_at,
        )
    )
    for version, (action, actor) in enumerate(path, start=2):
        target = next_status(current, action, actor if actor is not Actor.CARRIER else Actor.SELLER)
        rows.append(
            OrderEvent(
                order_id=order.id,
                from_status=current.value,
                to_status=target.value,
                order_version=version,
                actor=actor.value,
                occurred_at=placed_at + timedelta(hours=version - 1),
            )
        )
        if action is OrderAction.PAY:
            rows.append(
                Payment(
                    order_id=order.id,
                    user_id=buyer.id,
                    payment_method_id=None if payment_method is None else payment_method.id,
                    amount_minor=order.total_minor,
                    currency=order.currency,
                    status="CAPTURED",
                    created_at=placed_at + timedelta(minutes=5),
                    updated_at=placed_at + timedelta(minutes=5),
                )
            )
        current = target
    await _add(sessions, *rows)
    if status in (
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    ):
        shipment = Shipment(
            order_id=order.id,
            carrier="UPS",
            tracking_number=tracking_number or f"1Z{n:010d}",
            shipped_at=placed_at + timedelta(hours=2),
        )
        await _add(sessions, shipment)
        assert shipment.id is not None
        await _add(
            sessions,
            ShipmentEvent(
                shipment_id=shipment.id,
                kind="LABEL_CREATED",
                location="Memphis, TN",
                happened_at=placed_at + timedelta(hours=2),
            ),
            ShipmentEvent(
                shipment_id=shipment.id,
                kind="PICKED_UP",
                location="Memphis, TN",
                happened_at=placed_at + timedelta(hours=3),
            ),
        )
    return order


async def make_payment_method(
    sessions: SessionFactory, *, user: User, last4: str = "4242", is_default: bool = True
) -> PaymentMethod:
    assert user.id is not None
    method = PaymentMethod(
        user_id=user.id,
        brand="visa",
        last4=last4,
        exp_month=12,
        exp_year=2030,
        processor_token=f"tok_test_{next(_seq)}",
        is_default=is_default,
    )
    await _add(sessions, method)
    return method


async def make_tag(
    sessions: SessionFactory, *, user: User, product: Product, tagged_at: datetime | None = None
) -> TaggedItem:
    assert user.id is not None
    assert product.id is not None
    tag = TaggedItem(
        user_id=user.id,
        product_id=product.id,
        source_video_id="vid_tag",
        tagged_at=tagged_at or BASE_TIME + timedelta(minutes=next(_seq)),
    )
    await _add(sessions, tag)
    return tag


async def make_view(
    sessions: SessionFactory, *, user: User, product: Product, viewed_at: datetime | None = None
) -> ProductView:
    assert user.id is not None
    assert product.id is not None
    view = ProductView(
        user_id=user.id,
        product_id=product.id,
        viewed_at=viewed_at or BASE_TIME + timedelta(minutes=next(_seq)),
    )
    await _add(sessions, view)
    return view


async def make_recommendation(
    sessions: SessionFactory,
    *,
    user: User,
    product: Product,
    score: float,
    reason: str = "TRENDING",
    based_on: Product | None = None,
    dismissed: bool = False,
) -> Recommendation:
    assert user.id is not None
    assert product.id is not None
    rec = Recommendation(
        user_id=user.id,
        product_id=product.id,
        score=score,
        reason=reason,
        based_on_product_id=None if based_on is None else based_on.id,
        dismissed=dismissed,
    )
    await _add(sessions, rec)
    return rec


async def make_payment(
    sessions: SessionFactory,
    *,
    order: Order,
    status: str,
    amount_minor: int | None = None,
    created_at: datetime | None = None,
    payment_method: PaymentMethod | None = None,
) -> Payment:
    """A payment row for ``order`` (its buyer's), e.g. a REFUNDED one after a cancel."""
    assert order.id is not None
    at = created_at or order.placed_at + timedelta(minutes=next(_seq))
    payment = Payment(
        order_id=order.id,
        user_id=order.user_id,
        payment_method_id=None if payment_method is None else payment_method.id,
        amount_minor=order.total_minor if amount_minor is None else amount_minor,
        currency=order.currency,
        status=status,
        created_at=at,
        updated_at=at,
    )
    await _add(sessions, payment)
    return payment


async def record_steps(sessions: SessionFactory) -> int:
    """Put every payment, scan, return and review on its order's timeline, as the mutations and
    the webhook would have: one event naming each row no event names yet (appended after
    the order's events; status and version as the order's now). How many it added."""
    kinds = {"CAPTURED": "PAYMENT_CAPTURED", "FAILED": "PAYMENT_FAILED", "REFUNDED": "REFUNDED"}
    async with sessions() as session:
        named = {
            (kind, subject)
            for kind, subject in await session.execute(
                select(col(OrderEvent.kind), col(OrderEvent.subject_id))
            )
        }
        orders = {o.id: o for o in (await session.execute(select(Order))).scalars()}
        subjects: list[tuple[str, int, int, str, datetime]] = []
        for payment in (await session.execute(select(Payment).order_by(col(Payment.id)))).scalars():
            if payment.status in kinds and payment.id is not None:
                actor = Actor.BUYER.value
                subjects.append(
                    (kinds[payment.status], payment.id, payment.order_id, actor, payment.created_at)
                )
        scans = await session.execute(
            select(ShipmentEvent, Shipment.order_id)
            .join(Shipment, col(Shipment.id) == col(ShipmentEvent.shipment_id))
            .order_by(col(ShipmentEvent.id))
        )
        for scan, order_id in scans:
            actor = (Actor.SELLER if scan.kind == "LABEL_CREATED" else Actor.CARRIER).value
            subjects.append(("CARRIER_SCAN", scan.id, order_id, actor, scan.happened_at))
        returns = await session.execute(select(OrderReturn).order_by(col(OrderReturn.id)))
        for ret in returns.scalars():
            if ret.id is not None:
                at = ret.requested_at
                subjects.append(("RETURN_REQUESTED", ret.id, ret.order_id, Actor.BUYER.value, at))
        reviews = await session.execute(select(Review).order_by(col(Review.id)))
        for review in reviews.scalars():
            if review.id is not None:
                subjects.append(
                    (
                        "REVIEW_POSTED",
                        review.id,
                        review.order_id,
                        Actor.BUYER.value,
                        review.posted_at,
                    )
                )
        added = [
            OrderEvent(
                order_id=order_id,
                kind=kind,
                subject_id=subject,
                from_status=orders[order_id].status,
                to_status=orders[order_id].status,
                order_version=orders[order_id].version,
                actor=actor,
                occurred_at=at,
            )
            for kind, subject, order_id, actor, at in subjects
            if (kind, subject) not in named
        ]
        session.add_all(added)
        await session.commit()
    return len(added)


async def make_review(
    sessions: SessionFactory,
    *,
    order: Order,
    item_index: int = 0,
    rating: int = 5,
    text: str = "",
    posted_at: datetime | None = None,
    edited_at: datetime | None = None,
) -> Review:
    """The buyer's review of one line of ``order`` (written directly, as the seed does)."""
    async with sessions() as session:
        items = (
            await session.execute(
                select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
            )
        ).scalars()
        item = list(items)[item_index]
    assert item.id is not None
    review = Review(
        order_item_id=item.id,
        order_id=item.order_id,
        product_id=item.product_id,
        user_id=order.user_id,
        rating=rating,
        text=text,
        posted_at=posted_at or order.updated_at + timedelta(days=1),
        edited_at=edited_at,
    )
    await _add(sessions, review)
    return review


async def make_return(
    sessions: SessionFactory, *, order: Order, status: str = "REQUESTED", quantity: int = 1
) -> OrderReturn:
    """A return of ``quantity`` units of the order's first line, in ``status``."""
    assert order.id is not None
    async with sessions() as session:
        item = (
            (await session.execute(select(OrderItem).where(OrderItem.order_id == order.id)))
            .scalars()
            .first()
        )
    assert item is not None
    assert item.id is not None
    lines = item.unit_price_minor * quantity
    at = order.placed_at + timedelta(days=3)
    ret = OrderReturn(
        order_id=order.id,
        user_id=order.user_id,
        status=status,
        reason="DAMAGED",
        currency=order.currency,
        subtotal_minor=lines,
        tax_minor=0,
        shipping_minor=0,
        total_minor=lines,
        requested_at=at,
        updated_at=at,
    )
    await _add(sessions, ret)
    assert ret.id is not None
    await _add(
        sessions,
        ReturnLine(
            return_id=ret.id,
            order_item_id=item.id,
            quantity=quantity,
            unit_price_minor=item.unit_price_minor,
            currency=item.currency,
        ),
    )
    return ret


async def set_delivered_at(sessions: SessionFactory, order_pk: int, when: datetime) -> None:
    """When the order's shipment was delivered (the start of its return window)."""
    async with sessions() as session:
        shipment = (
            (await session.execute(select(Shipment).where(Shipment.order_id == order_pk)))
            .scalars()
            .one()
        )
        shipment.delivered_at = when
        await session.commit()
