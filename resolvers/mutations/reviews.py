"""reviewOrderItem and editReview: the buyer rates each line of a completed order once,
and may edit the review for a while (domain.reviews). Each writes an order event
(REVIEW_POSTED, REVIEW_EDITED) in the same transaction, leaving the order row alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from db.models import IdempotencyKey, Order, OrderEvent, OrderItem, Review
from domain import reviews as rules
from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderStatus
from resolvers.context import Context
from resolvers.mutations import idempotency
from resolvers.mutations.outcome import ErrorCode, Refused, not_found
from resolvers.mutations.transitions import lock_order, lock_with_roles
from resolvers.mutations.unit_of_work import OrderOutcome, announce, commit_with_events

T = TypeVar("T")
REVIEW_OPERATION = "reviewOrderItem"
EDIT_OPERATION = "editReview"
ITEM_FIELD = ("input", "orderItemId")
REVIEW_FIELD = ("input", "reviewId")

_REFUSALS: dict[rules.ReviewRefusal, tuple[ErrorCode, str]] = {
    rules.ReviewRefusal.NOT_BUYER: (ErrorCode.FORBIDDEN, "Only the order's buyer may review it."),
    rules.ReviewRefusal.NOT_COMPLETED: (
        ErrorCode.INVALID_TRANSITION,
        "Only the lines of a COMPLETED order can be reviewed.",
    ),
    rules.ReviewRefusal.ALREADY_REVIEWED: (
        ErrorCode.CONFLICT,
        "This line is already reviewed; edit that review instead.",
    ),
    # Reviews are public, but another's is answered as one that does not exist, as every
    # mutation answers an outsider (tests/security/test_authorization_matrix.py).
    rules.ReviewRefusal.NOT_AUTHOR: (ErrorCode.NOT_FOUND, "No such review."),
    rules.ReviewRefusal.EDIT_WINDOW_CLOSED: (
        ErrorCode.INVALID,
        "A review can be edited only for a while after it was posted; that time is over.",
    ),
}


def _refuse(refusal: rules.ReviewRefusal, *field: str) -> Refused:
    code, message = _REFUSALS[refusal]
    return Refused.one(code, message, *field)


def _valid(check: Callable[[T], T], value: T) -> T:
    """The value as stored; INVALID naming the input field it breaks a rule of."""
    try:
        return check(value)
    except rules.InvalidReview as invalid:
        raise Refused.one(ErrorCode.INVALID, invalid.message, "input", invalid.field) from None


async def _commit(
    session: AsyncSession,
    claimed: IdempotencyKey | None,
    order: Order,
    kind: OrderEventKind,
    review: Review,
    now: datetime,
) -> Written:
    """Remembers the review for retries and commits it with its order event."""
    await session.flush()
    idempotency.remember(claimed, idempotency.row_result(review))
    event_ids = await commit_with_events(session, [_event(order, kind, review, now)])
    return Written(review, OrderOutcome(order, event_ids=event_ids))


def _event(order: Order, kind: OrderEventKind, review: Review, now: datetime) -> OrderEvent:
    if order.id is None or review.id is None:  # pragma: no cover - both are stored
        raise ValueError("unsaved row")
    return OrderEvent(
        order_id=order.id,
        from_status=order.status,
        to_status=order.status,
        order_version=order.version,
        actor=Actor.BUYER.value,
        occurred_at=now,
        kind=kind.value,
        subject_id=review.id,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """The review as committed, and its order's outcome (events to announce)."""

    review: Review
    outcome: OrderOutcome


async def _replayed(session: AsyncSession, claimed: idempotency.Replay) -> Written:
    review = await idempotency.replayed_row(session, Review, claimed.result)
    return Written(review, OrderOutcome(await session.get(Order, review.order_id)))


async def review_order_item(
    ctx: Context,
    *,
    viewer_id: int,
    order_item_id: int,
    rating: int,
    text: str,
    idempotency_key: str | None = None,
) -> Review:
    checked_rating = _valid(rules.check_rating, rating)
    checked_text = _valid(rules.clean_text, text)
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=REVIEW_OPERATION,
        payload={"item": order_item_id, "rating": checked_rating, "text": checked_text},
    )

    async def act(session: AsyncSession, claimed: IdempotencyKey | None, now: datetime) -> Written:
        item = await session.get(OrderItem, order_item_id)
        order, roles = (
            (None, frozenset[Actor]())
            if item is None
            else await lock_with_roles(session, viewer_id, item.order_id)
        )
        if item is None or order is None or not roles:
            raise not_found("order line", *ITEM_FIELD)
        existing = (
            (await session.execute(select(Review).where(Review.order_item_id == item.id)))
            .scalars()
            .first()
        )
        refusal = rules.may_review(OrderStatus(order.status), roles, existing is not None)
        if refusal is not None:
            raise _refuse(refusal, *ITEM_FIELD)
        if item.id is None:  # pragma: no cover - a stored line has an id
            raise ValueError("line without id")
        review = Review(
            order_item_id=item.id,
            order_id=item.order_id,
            product_id=item.product_id,
            user_id=viewer_id,
            rating=checked_rating,
            text=checked_text,
            posted_at=now,
        )
        session.add(review)
        return await _commit(session, claimed, order, OrderEventKind.REVIEW_POSTED, review, now)

    return await _announced(
        ctx, await idempotency.keyed_write(ctx, keyed, work=act, replay=_replayed)
    )


async def edit_review(
    ctx: Context,
    *,
    viewer_id: int,
    review_id: int,
    rating: int | None,
    text: str | None,
    idempotency_key: str | None = None,
) -> Review:
    if rating is None and text is None:
        raise Refused.one(ErrorCode.INVALID, "Give a new rating, a new text or both.", "input")
    checked_rating = None if rating is None else _valid(rules.check_rating, rating)
    checked_text = None if text is None else _valid(rules.clean_text, text)
    keyed = idempotency.keyed(
        idempotency_key,
        user_id=viewer_id,
        operation=EDIT_OPERATION,
        payload={"review": review_id, "rating": checked_rating, "text": checked_text},
    )

    async def act(session: AsyncSession, claimed: IdempotencyKey | None, now: datetime) -> Written:
        review = await session.get(Review, review_id)
        if review is None:
            raise not_found("review", *REVIEW_FIELD)
        refusal = rules.may_edit(
            author_id=review.user_id,
            viewer_id=viewer_id,
            posted_at=review.posted_at,
            now=now,
            window=ctx.rules.review_edit_window,
        )
        if refusal is not None:
            raise _refuse(refusal, *REVIEW_FIELD)
        order = await lock_order(session, review.order_id)
        if order is None:  # pragma: no cover - the review cascades with its order
            raise not_found("review", *REVIEW_FIELD)
        if checked_rating is not None:
            review.rating = checked_rating
        if checked_text is not None:
            review.text = checked_text
        review.edited_at = now
        session.add(review)
        return await _commit(session, claimed, order, OrderEventKind.REVIEW_EDITED, review, now)

    return await _announced(
        ctx, await idempotency.keyed_write(ctx, keyed, work=act, replay=_replayed)
    )


async def _announced(ctx: Context, written: Written) -> Review:
    review = written.review
    await announce(ctx, written.outcome)
    loaders = ctx.loaders
    for name, key in (
        ("review_by_id", review.id),
        ("review_by_order_item_id", review.order_item_id),
        ("rating_by_product_id", review.product_id),
    ):
        if name in loaders.__dict__:  # a loader never made has nothing cached
            loaders.__dict__[name].clear(key)
    return review
