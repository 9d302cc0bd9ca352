"""Mutations of reviews: the buyer rates each line of a completed order once, and may
edit the review for 30 days (domain.reviews)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from db.models import Review as ReviewRow
from resolvers.mutations import reviews
from schema.common import Info
from schema.order_mutations import RETRY_KEY_DESCRIPTION
from schema.payloads import UserError, attempt, decode_id
from schema.reviews import Review


@strawberry.input(description="Review one line of a COMPLETED order (its buyer, once).")
class ReviewOrderItemInput:
    order_item_id: strawberry.ID = strawberry.field(description="The order line (OrderItem id).")
    rating: int = strawberry.field(description="1 to 5.")
    text: str = strawberry.field(
        default="",
        description="At most 2,000 characters (Unicode characters, not bytes) once "
        "surrounding whitespace is stripped; may be empty.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Change a review, within 30 days of posting it (its author).")
class EditReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review.")
    rating: int | None = strawberry.field(
        default=None, description="The new rating, 1 to 5; omitted: unchanged."
    )
    text: str | None = strawberry.field(
        default=None,
        description="The new text, as reviewOrderItem takes it; omitted: unchanged.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.type(description="The result of posting or editing a review.")
class ReviewPayload:
    review: Review | None = strawberry.field(
        description="The review as committed; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


async def _payload(
    info: Info, input: object, use_case: Callable[[int], Awaitable[ReviewRow]]
) -> ReviewPayload:
    row, errors = await attempt(info, input, use_case)
    return ReviewPayload(review=None if row is None else Review.from_row(row), user_errors=errors)


@strawberry.type(description="Changes to reviews.")
class ReviewMutations:
    @strawberry.mutation(
        description="Rate a line of a COMPLETED order (its buyer, each line once); the "
        "order's timeline gets a REVIEW_POSTED event."
    )
    async def review_order_item(
        self,
        info: Info,
        input: Annotated[ReviewOrderItemInput, strawberry.argument(description="The review.")],
    ) -> ReviewPayload:
        async def use_case(viewer_id: int) -> ReviewRow:
            return await reviews.review_order_item(
                info.context,
                viewer_id=viewer_id,
                order_item_id=decode_id(input.order_item_id, "OrderItem", *reviews.ITEM_FIELD),
                rating=input.rating,
                text=input.text,
                idempotency_key=input.idempotency_key,
            )

        return await _payload(info, input, use_case)

    @strawberry.mutation(
        description="Change the rating or text of the viewer's review within 30 days of "
        "posting it; the order's timeline gets a REVIEW_EDITED event."
    )
    async def edit_review(
        self,
        info: Info,
        input: Annotated[EditReviewInput, strawberry.argument(description="The change.")],
    ) -> ReviewPayload:
        async def use_case(viewer_id: int) -> ReviewRow:
            return await reviews.edit_review(
                info.context,
                viewer_id=viewer_id,
                review_id=decode_id(input.review_id, "Review", *reviews.REVIEW_FIELD),
                rating=input.rating,
                text=input.text,
                idempotency_key=input.idempotency_key,
            )

        return await _payload(info, input, use_case)
