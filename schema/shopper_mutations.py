"""Mutations of the buyer's own things: tags, viewing history, recommendations, wallet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from db.models import PaymentMethod as PaymentMethodRow
from db.models import ProductView as ProductViewRow
from db.models import Recommendation as RecommendationRow
from db.models import TaggedItem as TaggedItemRow
from resolvers.mutations import shopper, text_input, wallet
from schema.activity import ProductView, Recommendation, TaggedItem
from schema.common import Info
from schema.order_mutations import RETRY_KEY_DESCRIPTION
from schema.payloads import UserError, attempt, decode_id
from schema.payments import PaymentMethod


@strawberry.input(description="Tag a product, usually while watching a video.")
class TagProductInput:
    product_id: strawberry.ID = strawberry.field(description="A Product id.")
    source_video_id: str | None = strawberry.field(
        default=None,
        description=f"The video it was tagged from (at most {text_input.VIDEO_ID} characters). "
        "On a product "
        "already tagged, given: replaces the tag's video; omitted: keeps it.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Remove the viewer's tag of a product.")
class UntagProductInput:
    product_id: strawberry.ID = strawberry.field(description="The tagged Product's id.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Note that the viewer looked at a product.")
class RecordProductViewInput:
    product_id: strawberry.ID = strawberry.field(description="The viewed Product's id.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Stop recommending a product.")
class DismissRecommendationInput:
    recommendation_id: strawberry.ID = strawberry.field(description="A Recommendation id.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Save a card, as the payment processor's token for it.")
class AddPaymentMethodInput:
    processor_token: str = strawberry.field(
        description="A token from the payment processor, never a card number. The sandbox "
        "knows tok_visa, tok_mastercard, tok_amex (approve), tok_chargeDeclined (declines "
        "every charge), tok_processingError (fails transiently) and tok_expiredCard."
    )
    make_default: bool | None = strawberry.field(
        default=None,
        description="True: use it when no method is chosen. A user's first method is the "
        "default whatever this says.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Remove a saved payment method.")
class RemovePaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(description="A PaymentMethod id.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Choose the method used when none is chosen.")
class SetDefaultPaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(description="A PaymentMethod id.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Forget the viewing history.")
class ClearRecentlyViewedInput:
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.type(description="The result of tagging or untagging a product.")
class TaggedItemPayload:
    tagged_item: TaggedItem | None = strawberry.field(
        description="The tag (for untagProduct: as it was before removal); null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="The result of recording a product view.")
class ProductViewPayload:
    product_view: ProductView | None = strawberry.field(
        description="The product's entry in the viewing history; null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="The result of clearing the viewing history.")
class ClearRecentlyViewedPayload:
    cleared_count: int = strawberry.field(description="How many viewed products were forgotten.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="The result of dismissing a recommendation.")
class RecommendationPayload:
    recommendation: Recommendation | None = strawberry.field(
        description="The dismissed recommendation; null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="The result of a change to the saved payment methods.")
class PaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        description="The method as committed (for removePaymentMethod: the removed one, no "
        "longer default); null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


def _product_id(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "Product", "input", "productId")


def _method_id(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "PaymentMethod", "input", "paymentMethodId")


async def _method_payload(
    info: Info, input: object, use_case: Callable[[int], Awaitable[PaymentMethodRow]]
) -> PaymentMethodPayload:
    row, errors = await attempt(info, input, use_case)
    method = None if row is None else PaymentMethod.from_row(row)
    return PaymentMethodPayload(payment_method=method, user_errors=errors)


@strawberry.type(description="Changes to the buyer's tags, history, recommendations and wallet.")
class ShopperMutations:
    @strawberry.mutation(description="Tag a product; tagging it again returns the same tag.")
    async def tag_product(
        self,
        info: Info,
        input: Annotated[TagProductInput, strawberry.argument(description="What to tag.")],
    ) -> TaggedItemPayload:
        async def use_case(viewer_id: int) -> TaggedItemRow:
            return await shopper.tag_product(
                info.context,
                viewer_id=viewer_id,
                product_id=_product_id(input.product_id),
                source_video_id=input.source_video_id,
                idempotency_key=input.idempotency_key,
            )

        row, errors = await attempt(info, input, use_case)
        item = None if row is None else TaggedItem.from_row(row)
        return TaggedItemPayload(tagged_item=item, user_errors=errors)

    @strawberry.mutation(description="Remove the viewer's tag of a product.")
    async def untag_product(
        self,
        info: Info,
        input: Annotated[UntagProductInput, strawberry.argument(description="What to untag.")],
    ) -> TaggedItemPayload:
        async def use_case(viewer_id: int) -> TaggedItemRow:
            return await shopper.untag_product(
                info.context,
                viewer_id=viewer_id,
                product_id=_product_id(input.product_id),
                idempotency_key=input.idempotency_key,
            )

        row, errors = await attempt(info, input, use_case)
        item = None if row is None else TaggedItem.from_row(row)
        return TaggedItemPayload(tagged_item=item, user_errors=errors)

    @strawberry.mutation(
        description="Record that the viewer looked at a product: it moves to the top of "
        "recentlyViewed, which keeps one entry per product."
    )
    async def record_product_view(
        self,
        info: Info,
        input: Annotated[
            RecordProductViewInput, strawberry.argument(description="The viewed product.")
        ],
    ) -> ProductViewPayload:
        async def use_case(viewer_id: int) -> ProductViewRow:
            return await shopper.record_product_view(
                info.context,
                viewer_id=viewer_id,
                product_id=_product_id(input.product_id),
                idempotency_key=input.idempotency_key,
            )

        row, errors = await attempt(info, input, use_case)
        view = None if row is None else ProductView.from_row(row)
        return ProductViewPayload(product_view=view, user_errors=errors)

    @strawberry.mutation(description="Forget the viewer's whole viewing history.")
    async def clear_recently_viewed(
        self,
        info: Info,
        input: Annotated[
            ClearRecentlyViewedInput | None,
            strawberry.argument(description="Optional: an idempotencyKey for retries."),
        ] = None,
    ) -> ClearRecentlyViewedPayload:
        async def use_case(viewer_id: int) -> int:
            return await shopper.clear_recently_viewed(
                info.context,
                viewer_id=viewer_id,
                idempotency_key=None if input is None else input.idempotency_key,
            )

        count, errors = await attempt(info, input, use_case)
        return ClearRecentlyViewedPayload(cleared_count=count or 0, user_errors=errors)

    @strawberry.mutation(
        description="Stop recommending a product; dismissing it again is harmless."
    )
    async def dismiss_recommendation(
        self,
        info: Info,
        input: Annotated[
            DismissRecommendationInput, strawberry.argument(description="What to dismiss.")
        ],
    ) -> RecommendationPayload:
        async def use_case(viewer_id: int) -> RecommendationRow:
            return await shopper.dismiss_recommendation(
                info.context,
                viewer_id=viewer_id,
                recommendation_id=decode_id(
                    input.recommendation_id, "Recommendation", "input", "recommendationId"
                ),
                idempotency_key=input.idempotency_key,
            )

        row, errors = await attempt(info, input, use_case)
        recommendation = None if row is None else Recommendation.from_row(row)
        return RecommendationPayload(recommendation=recommendation, user_errors=errors)

    @strawberry.mutation(description="Save a card from its processor token (never a card number).")
    async def add_payment_method(
        self,
        info: Info,
        input: Annotated[AddPaymentMethodInput, strawberry.argument(description="The card.")],
    ) -> PaymentMethodPayload:
        async def use_case(viewer_id: int) -> PaymentMethodRow:
            return await wallet.add_payment_method(
                info.context,
                viewer_id=viewer_id,
                processor_token=input.processor_token,
                make_default=input.make_default,
                idempotency_key=input.idempotency_key,
            )

        return await _method_payload(info, input, use_case)

    @strawberry.mutation(
        description="Remove a saved method; if it was the default, the newest remaining "
        "method becomes the default."
    )
    async def remove_payment_method(
        self,
        info: Info,
        input: Annotated[
            RemovePaymentMethodInput, strawberry.argument(description="What to remove.")
        ],
    ) -> PaymentMethodPayload:
        async def use_case(viewer_id: int) -> PaymentMethodRow:
            return await wallet.remove_payment_method(
                info.context,
                viewer_id=viewer_id,
                method_id=_method_id(input.payment_method_id),
                idempotency_key=input.idempotency_key,
            )

        return await _method_payload(info, input, use_case)

    @strawberry.mutation(description="Make a saved method the default.")
    async def set_default_payment_method(
        self,
        info: Info,
        input: Annotated[
            SetDefaultPaymentMethodInput, strawberry.argument(description="The new default.")
        ],
    ) -> PaymentMethodPayload:
        async def use_case(viewer_id: int) -> PaymentMethodRow:
            return await wallet.set_default_payment_method(
                info.context,
                viewer_id=viewer_id,
                method_id=_method_id(input.payment_method_id),
                idempotency_key=input.idempotency_key,
            )

        return await _method_payload(info, input, use_case)
