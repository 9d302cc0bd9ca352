"""Mutations of the order lifecycle: place, pay, cancel, confirm, ship, move along."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from domain import order_status as rules
from resolvers.mutations import lifecycle, placing, text_input
from resolvers.mutations.unit_of_work import OrderOutcome
from schema.common import Info
from schema.enums import CancelReason, OrderStatus
from schema.orders import Order
from schema.payloads import UserError, attempt, decode_id, user_errors

_A = text_input.ADDRESS

RETRY_KEY_DESCRIPTION = (
    "Optional, unique per attempt (1 to 128 characters): a retry with the same key "
    "returns the first result instead of acting twice; the same key with other input "
    "is a CONFLICT."
)


@strawberry.input(description="Where to ship an order.")
class AddressInput:
    name: str = strawberry.field(description=f"Recipient's name (at most {_A['name']} characters).")
    line1: str = strawberry.field(description=f"Street address (at most {_A['line1']}).")
    line2: str | None = strawberry.field(
        default=None, description=f"Apartment, suite, unit (at most {_A['line2']})."
    )
    city: str = strawberry.field(description=f"City or town (at most {_A['city']}).")
    region: str | None = strawberry.field(
        default=None, description=f"State or region (at most {_A['region']})."
    )
    postal_code: str = strawberry.field(
        description=f"Postal or ZIP code (at most {_A['postalCode']})."
    )
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    phone: str | None = strawberry.field(
        default=None, description=f"Phone for the carrier (at most {_A['phone']})."
    )


@strawberry.input(description="One product and how many of it.")
class OrderLineInput:
    product_id: strawberry.ID = strawberry.field(description="A Product id.")
    quantity: int = strawberry.field(description="1 to 99.")
    source_video_id: str | None = strawberry.field(
        default=None, description="The video it was bought from (creator attribution)."
    )


@strawberry.input(description="A new order: items of one shop; prices come from the server.")
class PlaceOrderInput:
    items: list[OrderLineInput] = strawberry.field(description="1 to 50 lines, one shop.")
    shipping_address: AddressInput = strawberry.field(description="Where to ship it.")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None, description="Given: pay at once with this saved method."
    )
    idempotency_key: str = strawberry.field(
        description="Unique per attempt; a retry with the same key returns the first result."
    )


@strawberry.input(description="Pay an unpaid order.")
class PayOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    payment_method_id: strawberry.ID = strawberry.field(description="A saved payment method.")
    idempotency_key: str = strawberry.field(
        description="Unique per attempt; a retry with the same key never charges twice."
    )


@strawberry.input(description="Cancel an order before it ships; a paid one is refunded.")
class CancelOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    reason: CancelReason | None = strawberry.field(
        default=None, description="Why; defaults to CUSTOMER for buyers, SELLER for sellers."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Confirm a delivered order arrived.")
class ConfirmReceiptInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Hand an order to a carrier (seller).")
class ShipOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    carrier: str = strawberry.field(
        description=f"Carrier name (1 to {text_input.CARRIER} characters)."
    )
    tracking_number: str = strawberry.field(
        description=f"Tracking number (1 to {text_input.TRACKING_NUMBER})."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Record the carrier's progress: IN_TRANSIT or DELIVERED.")
class UpdateOrderStatusInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    status: OrderStatus = strawberry.field(description="IN_TRANSIT or DELIVERED.")
    note: str | None = strawberry.field(
        default=None,
        description=f"Shown on the timeline (at most {text_input.STATUS_NOTE} characters).",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.type(description="The result of an order mutation.")
class OrderPayload:
    order: Order | None = strawberry.field(
        description="The order as committed; null when nothing was. placeOrder with a "
        "declined card returns the placed, unpaid order together with the error."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


async def _run(
    info: Info, input: object, use_case: Callable[[int], Awaitable[OrderOutcome]]
) -> OrderPayload:
    outcome, errors = await attempt(info, input, use_case)
    if outcome is None:
        return OrderPayload(order=None, user_errors=errors)
    order = None if outcome.order is None else Order.from_row(outcome.order)
    return OrderPayload(order=order, user_errors=user_errors(outcome.errors))


@strawberry.type(description="Changes to orders.")
class OrderMutations:
    @strawberry.mutation(description="Place an order for items of one shop (buyer).")
    async def place_order(
        self,
        info: Info,
        input: Annotated[PlaceOrderInput, strawberry.argument(description="The order.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            lines = [
                placing.LineInput(
                    product_id=decode_id(
                        line.product_id, "Product", "input", "items", str(i), "productId"
                    ),
                    quantity=line.quantity,
                    source_video_id=line.source_video_id,
                )
                for i, line in enumerate(input.items)
            ]
            address = input.shipping_address
            method_id = (
                None
                if input.payment_method_id is None
                else decode_id(input.payment_method_id, "PaymentMethod", "input", "paymentMethodId")
            )
            return await placing.place_order(
                info.context,
                viewer_id=viewer_id,
                lines=lines,
                address=placing.AddressInput(
                    name=address.name,
                    line1=address.line1,
                    line2=address.line2,
                    city=address.city,
                    region=address.region,
                    postal_code=address.postal_code,
                    country_code=address.country_code,
                    phone=address.phone,
                ),
                payment_method_id=method_id,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Pay an unpaid order with a saved method (buyer).")
    async def pay_order(
        self,
        info: Info,
        input: Annotated[PayOrderInput, strawberry.argument(description="What to pay.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            return await lifecycle.pay_order(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                payment_method_id=decode_id(
                    input.payment_method_id, "PaymentMethod", "input", "paymentMethodId"
                ),
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Cancel before shipping (buyer or seller); refunds if paid.")
    async def cancel_order(
        self,
        info: Info,
        input: Annotated[CancelOrderInput, strawberry.argument(description="What to cancel.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            reason = None if input.reason is None else rules.CancelReason(input.reason.name)
            return await lifecycle.cancel_order(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                reason=reason,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Confirm a delivered order arrived (buyer).")
    async def confirm_receipt(
        self,
        info: Info,
        input: Annotated[ConfirmReceiptInput, strawberry.argument(description="The order.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            return await lifecycle.confirm_receipt(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Hand the order to a carrier: AWAITING_COLLECTION (seller).")
    async def ship_order(
        self,
        info: Info,
        input: Annotated[ShipOrderInput, strawberry.argument(description="Carrier details.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            return await lifecycle.ship_order(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                carrier=input.carrier,
                tracking_number=input.tracking_number,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Record IN_TRANSIT or DELIVERED (seller, for the carrier).")
    async def update_order_status(
        self,
        info: Info,
        input: Annotated[UpdateOrderStatusInput, strawberry.argument(description="The change.")],
    ) -> OrderPayload:
        async def use_case(viewer_id: int) -> OrderOutcome:
            return await lifecycle.update_order_status(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                status=rules.OrderStatus(input.status.name),
                note=input.note,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)
