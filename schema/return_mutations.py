"""Mutations of returns: request, approve, reject, cancel, ship back, receive, refund."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from domain import returns as domain
from resolvers.mutations import returns, text_input
from resolvers.mutations.returns import ReturnOutcome
from schema.common import Info
from schema.enums import ReturnReason
from schema.order_mutations import RETRY_KEY_DESCRIPTION
from schema.orders import Order
from schema.payloads import UserError, attempt, decode_id, user_errors
from schema.returns import OrderReturn


@strawberry.input(description="Units of one order line to return.")
class ReturnLineInput:
    order_item_id: strawberry.ID = strawberry.field(description="An OrderItem id of the order.")
    quantity: int = strawberry.field(
        description="1 to 99, at most the units of the line not already being returned."
    )


@strawberry.input(description="Ask to return units of a DELIVERED or COMPLETED order.")
class RequestReturnInput:
    order_id: strawberry.ID = strawberry.field(description="The order.")
    lines: list[ReturnLineInput] = strawberry.field(description="1 to 50 lines, each once.")
    reason: ReturnReason = strawberry.field(description="Why.")
    note: str | None = strawberry.field(
        default=None, description=f"Optional (at most {text_input.RETURN_NOTE} characters)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="A step on a return that needs nothing but the return.")
class ReturnStepInput:
    return_id: strawberry.ID = strawberry.field(description="The OrderReturn.")
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Refuse a requested return (seller).")
class RejectReturnInput:
    return_id: strawberry.ID = strawberry.field(description="The OrderReturn.")
    reason: str = strawberry.field(
        description=f"Why, for the buyer (1 to {text_input.REJECT_REASON} characters)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.input(description="Send an approved return back (buyer).")
class ShipReturnInput:
    return_id: strawberry.ID = strawberry.field(description="The OrderReturn.")
    carrier: str = strawberry.field(
        description=f"Carrier name (1 to {text_input.RETURN_CARRIER} characters)."
    )
    tracking_number: str = strawberry.field(
        description=f"Tracking number (1 to {text_input.RETURN_TRACKING_NUMBER})."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY_DESCRIPTION)


@strawberry.type(description="The result of a return mutation.")
class ReturnPayload:
    order_return: OrderReturn | None = strawberry.field(
        description="The return as committed; null when nothing was. receiveReturn whose "
        "refund failed returns it RECEIVED together with a REFUND_FAILED error."
    )
    order: Order | None = strawberry.field(description="Its order, as committed.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


async def _run(
    info: Info, input: object, use_case: Callable[[int], Awaitable[ReturnOutcome]]
) -> ReturnPayload:
    outcome, errors = await attempt(info, input, use_case)
    if outcome is None:
        return ReturnPayload(order_return=None, order=None, user_errors=errors)
    return ReturnPayload(
        order_return=None if outcome.ret is None else OrderReturn.from_row(outcome.ret),
        order=None if outcome.order is None else Order.from_row(outcome.order),
        user_errors=user_errors(outcome.errors),
    )


Step = Callable[..., Awaitable[ReturnOutcome]]


async def _step(info: Info, input: ReturnStepInput, step: Step) -> ReturnPayload:
    async def use_case(viewer_id: int) -> ReturnOutcome:
        return await step(
            info.context,
            viewer_id=viewer_id,
            return_id=decode_id(input.return_id, "OrderReturn", "input", "returnId"),
            idempotency_key=input.idempotency_key,
        )

    return await _run(info, input, use_case)


@strawberry.type(description="Changes to returns.")
class ReturnMutations:
    @strawberry.mutation(
        description="Ask to return units of a delivered order within the return window (buyer)."
    )
    async def request_return(
        self,
        info: Info,
        input: Annotated[RequestReturnInput, strawberry.argument(description="The request.")],
    ) -> ReturnPayload:
        async def use_case(viewer_id: int) -> ReturnOutcome:
            lines = [
                returns.LineInput(
                    order_item_id=decode_id(
                        line.order_item_id, "OrderItem", "input", "lines", str(i), "orderItemId"
                    ),
                    quantity=line.quantity,
                )
                for i, line in enumerate(input.lines)
            ]
            return await returns.request_return(
                info.context,
                viewer_id=viewer_id,
                order_id=decode_id(input.order_id, "Order", "input", "orderId"),
                lines=lines,
                reason=domain.ReturnReason(input.reason.name),
                note=input.note,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Accept a requested return (seller).")
    async def approve_return(
        self,
        info: Info,
        input: Annotated[ReturnStepInput, strawberry.argument(description="The return.")],
    ) -> ReturnPayload:
        return await _step(info, input, returns.approve_return)

    @strawberry.mutation(description="Refuse a requested return, saying why (seller).")
    async def reject_return(
        self,
        info: Info,
        input: Annotated[RejectReturnInput, strawberry.argument(description="The refusal.")],
    ) -> ReturnPayload:
        async def use_case(viewer_id: int) -> ReturnOutcome:
            return await returns.reject_return(
                info.context,
                viewer_id=viewer_id,
                return_id=decode_id(input.return_id, "OrderReturn", "input", "returnId"),
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(description="Withdraw a return before sending it back (buyer).")
    async def cancel_return(
        self,
        info: Info,
        input: Annotated[ReturnStepInput, strawberry.argument(description="The return.")],
    ) -> ReturnPayload:
        return await _step(info, input, returns.cancel_return)

    @strawberry.mutation(description="Send an approved return back, with tracking (buyer).")
    async def ship_return(
        self,
        info: Info,
        input: Annotated[ShipReturnInput, strawberry.argument(description="Carrier details.")],
    ) -> ReturnPayload:
        async def use_case(viewer_id: int) -> ReturnOutcome:
            return await returns.ship_return(
                info.context,
                viewer_id=viewer_id,
                return_id=decode_id(input.return_id, "OrderReturn", "input", "returnId"),
                carrier=input.carrier,
                tracking_number=input.tracking_number,
                idempotency_key=input.idempotency_key,
            )

        return await _run(info, input, use_case)

    @strawberry.mutation(
        description="Record that a return arrived and refund it through the gateway, once "
        "(seller). If the refund fails the return stays RECEIVED: retry with refundReturn."
    )
    async def receive_return(
        self,
        info: Info,
        input: Annotated[ReturnStepInput, strawberry.argument(description="The return.")],
    ) -> ReturnPayload:
        return await _step(info, input, returns.receive_return)

    @strawberry.mutation(
        description="Retry the refund of a RECEIVED return (seller); never pays twice."
    )
    async def refund_return(
        self,
        info: Info,
        input: Annotated[ReturnStepInput, strawberry.argument(description="The return.")],
    ) -> ReturnPayload:
        return await _step(info, input, returns.refund_return)
