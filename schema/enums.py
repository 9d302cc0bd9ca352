"""API enums. Values mirror ``domain`` enums one-to-one; descriptions live here."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where an order is in its lifecycle.")
class OrderStatus(Enum):
    UNPAID = strawberry.enum_value("UNPAID", description="Placed, waiting for payment.")
    AWAITING_SHIPMENT = strawberry.enum_value(
        "AWAITING_SHIPMENT", description="Paid; the seller has not handed it to a carrier yet."
    )
    AWAITING_COLLECTION = strawberry.enum_value(
        "AWAITING_COLLECTION", description="Packed and labelled; waiting for the carrier."
    )
    IN_TRANSIT = strawberry.enum_value("IN_TRANSIT", description="With the carrier.")
    DELIVERED = strawberry.enum_value(
        "DELIVERED", description="Delivered; waiting for the buyer to confirm receipt."
    )
    COMPLETED = strawberry.enum_value("COMPLETED", description="Received; the order is done.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled before shipping.")


@strawberry.enum(description="The buyer's Order Center tabs, computed from the status.")
class OrderTab(Enum):
    TO_PAY = strawberry.enum_value("TO_PAY", description="UNPAID orders.")
    TO_SHIP = strawberry.enum_value(
        "TO_SHIP", description="AWAITING_SHIPMENT and AWAITING_COLLECTION orders."
    )
    SHIPPED = strawberry.enum_value("SHIPPED", description="IN_TRANSIT orders.")
    DELIVERED = strawberry.enum_value(
        "DELIVERED", description="DELIVERED orders awaiting receipt confirmation."
    )
    COMPLETED = strawberry.enum_value("COMPLETED", description="COMPLETED orders.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="CANCELLED orders.")
    TO_REVIEW = strawberry.enum_value(
        "TO_REVIEW",
        description="COMPLETED orders with a line not yet reviewed: a list beside the status "
        "tabs (never an Order.tab value), for `orders(filter: {tab: TO_REVIEW})` and "
        "`orderTabs`.",
    )
    RETURNS = strawberry.enum_value(
        "RETURNS",
        description="Orders with a return that was not withdrawn, whatever their status "
        "(not an Order.tab: an order is also under its status's tab).",
    )


@strawberry.enum(description="Whether money was taken for an order.")
class OrderPaymentStatus(Enum):
    UNPAID = strawberry.enum_value("UNPAID", description="Nothing captured yet.")
    PAID = strawberry.enum_value("PAID", description="The total was captured.")
    PARTIALLY_REFUNDED = strawberry.enum_value(
        "PARTIALLY_REFUNDED", description="Captured; part of it given back (returns)."
    )
    REFUNDED = strawberry.enum_value("REFUNDED", description="Captured, then given back.")


@strawberry.enum(description="Why an order was cancelled.")
class CancelReason(Enum):
    CUSTOMER = strawberry.enum_value("CUSTOMER", description="The buyer cancelled.")
    SELLER = strawberry.enum_value("SELLER", description="The seller cancelled.")
    OUT_OF_STOCK = strawberry.enum_value("OUT_OF_STOCK", description="Not enough stock.")
    PAYMENT_FAILED = strawberry.enum_value(
        "PAYMENT_FAILED", description="Payment never succeeded in time."
    )
    OTHER = strawberry.enum_value("OTHER", description="Any other reason.")


@strawberry.enum(description="Something the viewer may do to an order now.")
class OrderAction(Enum):
    PAY = strawberry.enum_value("PAY", description="Pay an unpaid order (buyer).")
    CANCEL = strawberry.enum_value("CANCEL", description="Cancel before shipping.")
    CONFIRM_RECEIPT = strawberry.enum_value(
        "CONFIRM_RECEIPT", description="Confirm a delivered order arrived (buyer)."
    )
    SHIP = strawberry.enum_value("SHIP", description="Hand to a carrier (seller).")
    MARK_IN_TRANSIT = strawberry.enum_value(
        "MARK_IN_TRANSIT", description="Record the carrier's pick-up (seller or carrier)."
    )
    MARK_DELIVERED = strawberry.enum_value(
        "MARK_DELIVERED", description="Record delivery (seller or carrier)."
    )
    REQUEST_RETURN = strawberry.enum_value(
        "REQUEST_RETURN",
        description="Ask to return units of a delivered order, within the return window (buyer).",
    )
    APPROVE_RETURN = strawberry.enum_value(
        "APPROVE_RETURN", description="Accept a requested return (seller)."
    )
    REJECT_RETURN = strawberry.enum_value(
        "REJECT_RETURN", description="Refuse a requested return (seller)."
    )
    CANCEL_RETURN = strawberry.enum_value(
        "CANCEL_RETURN", description="Withdraw a return before sending it back (buyer)."
    )
    SHIP_RETURN = strawberry.enum_value(
        "SHIP_RETURN", description="Send an approved return back (buyer)."
    )
    RECEIVE_RETURN = strawberry.enum_value(
        "RECEIVE_RETURN", description="Record a return arrived, and refund it (seller)."
    )
    REFUND_RETURN = strawberry.enum_value(
        "REFUND_RETURN", description="Retry a received return's failed refund (seller)."
    )
    REVIEW = strawberry.enum_value(
        "REVIEW",
        description="Review a line of a completed order not reviewed yet (buyer; reviewOrderItem).",
    )
    EDIT_REVIEW = strawberry.enum_value(
        "EDIT_REVIEW",
        description="Edit one of the order's reviews still inside its edit window (buyer; "
        "editReview).",
    )


@strawberry.enum(description="Who made a status change.")
class EventActor(Enum):
    BUYER = strawberry.enum_value("BUYER", description="The buyer.")
    SELLER = strawberry.enum_value("SELLER", description="The seller of the order's shop.")
    CARRIER = strawberry.enum_value("CARRIER", description="The shipping carrier.")
    SYSTEM = strawberry.enum_value("SYSTEM", description="Order Center itself (timeouts).")
    OPERATOR = strawberry.enum_value(
        "OPERATOR", description="An Order Center operator, acting for the seller."
    )


@strawberry.enum(description="What an order event records.")
class OrderEventKind(Enum):
    STATUS_CHANGED = strawberry.enum_value(
        "STATUS_CHANGED", description="The order moved from one status to another."
    )
    CARRIER_SCAN = strawberry.enum_value(
        "CARRIER_SCAN", description="The carrier scanned the shipment; the status may not move."
    )
    PAYMENT_CAPTURED = strawberry.enum_value(
        "PAYMENT_CAPTURED", description="A payment for the order was captured."
    )
    PAYMENT_FAILED = strawberry.enum_value(
        "PAYMENT_FAILED", description="A payment attempt for the order failed."
    )
    REFUNDED = strawberry.enum_value("REFUNDED", description="Money was given back to the buyer.")
    RETURN_REQUESTED = strawberry.enum_value(
        "RETURN_REQUESTED", description="The buyer asked to return some lines."
    )
    RETURN_APPROVED = strawberry.enum_value(
        "RETURN_APPROVED", description="The seller accepted a return request."
    )
    RETURN_REJECTED = strawberry.enum_value(
        "RETURN_REJECTED", description="The seller refused a return request."
    )
    RETURN_SHIPPED = strawberry.enum_value(
        "RETURN_SHIPPED", description="The buyer sent the returned lines back."
    )
    RETURN_RECEIVED = strawberry.enum_value(
        "RETURN_RECEIVED", description="The seller received the returned lines."
    )
    RETURN_REFUNDED = strawberry.enum_value(
        "RETURN_REFUNDED", description="The returned lines were refunded."
    )
    RETURN_CANCELLED = strawberry.enum_value(
        "RETURN_CANCELLED", description="The buyer withdrew a return request."
    )
    REVIEW_POSTED = strawberry.enum_value(
        "REVIEW_POSTED", description="The buyer reviewed a line of the order."
    )
    REVIEW_EDITED = strawberry.enum_value(
        "REVIEW_EDITED", description="The buyer changed a review of a line of the order."
    )


@strawberry.enum(description="Where a return stands.")
class ReturnStatus(Enum):
    REQUESTED = strawberry.enum_value("REQUESTED", description="Asked for; waiting for the seller.")
    APPROVED = strawberry.enum_value("APPROVED", description="Accepted; waiting to be sent back.")
    REJECTED = strawberry.enum_value("REJECTED", description="Refused by the seller.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Withdrawn by the buyer.")
    SHIPPED_BACK = strawberry.enum_value(
        "SHIPPED_BACK", description="Sent back; waiting for the seller to receive it."
    )
    RECEIVED = strawberry.enum_value(
        "RECEIVED", description="Received; its refund failed and waits for a retry."
    )
    REFUNDED = strawberry.enum_value("REFUNDED", description="Received and refunded.")


@strawberry.enum(description="Why a buyer returns units.")
class ReturnReason(Enum):
    DAMAGED = strawberry.enum_value("DAMAGED", description="Arrived damaged or broken.")
    WRONG_ITEM = strawberry.enum_value("WRONG_ITEM", description="Not what was ordered.")
    NOT_AS_DESCRIBED = strawberry.enum_value(
        "NOT_AS_DESCRIBED", description="Differs from its description."
    )
    NO_LONGER_NEEDED = strawberry.enum_value(
        "NO_LONGER_NEEDED", description="The buyer changed their mind."
    )
    OTHER = strawberry.enum_value("OTHER", description="Any other reason (see the note).")


@strawberry.enum(description="A carrier scan's kind.")
class ShipmentEventKind(Enum):
    LABEL_CREATED = strawberry.enum_value("LABEL_CREATED", description="Label printed.")
    PICKED_UP = strawberry.enum_value("PICKED_UP", description="Collected by the carrier.")
    IN_TRANSIT = strawberry.enum_value("IN_TRANSIT", description="Moving between facilities.")
    OUT_FOR_DELIVERY = strawberry.enum_value(
        "OUT_FOR_DELIVERY", description="On the delivery vehicle."
    )
    DELIVERY_ATTEMPTED = strawberry.enum_value(
        "DELIVERY_ATTEMPTED", description="Delivery tried and failed."
    )
    DELAYED = strawberry.enum_value("DELAYED", description="Held up.")
    DELIVERED = strawberry.enum_value("DELIVERED", description="Handed over.")


@strawberry.enum(description="Where a payment attempt stands.")
class PaymentStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Sent to the processor.")
    AUTHORIZED = strawberry.enum_value("AUTHORIZED", description="Funds held, not taken.")
    CAPTURED = strawberry.enum_value("CAPTURED", description="Funds taken.")
    FAILED = strawberry.enum_value("FAILED", description="Declined or errored.")
    PARTIALLY_REFUNDED = strawberry.enum_value(
        "PARTIALLY_REFUNDED", description="A refund of part of what was captured (a return)."
    )
    REFUNDED = strawberry.enum_value(
        "REFUNDED", description="Funds given back (the whole, or the rest of, the capture)."
    )


@strawberry.enum(description="Why a product is recommended.")
class RecommendationReason(Enum):
    BOUGHT_TOGETHER = strawberry.enum_value(
        "BOUGHT_TOGETHER", description="Often bought with something you bought."
    )
    SIMILAR_TO_TAGGED = strawberry.enum_value(
        "SIMILAR_TO_TAGGED", description="Similar to something you tagged."
    )
    SIMILAR_TO_VIEWED = strawberry.enum_value(
        "SIMILAR_TO_VIEWED", description="Similar to something you viewed."
    )
    TRENDING = strawberry.enum_value("TRENDING", description="Popular lately.")
    TAGGED = strawberry.enum_value(
        "TAGGED", description="You tagged it lately and have not bought it since."
    )
    VIEWED = strawberry.enum_value(
        "VIEWED", description="You viewed it lately and have not bought it since."
    )
    BUY_AGAIN = strawberry.enum_value(
        "BUY_AGAIN", description="You bought it before and it is usually re-bought about now."
    )


@strawberry.enum(description="Why a mutation refused its input.")
class ErrorCode(Enum):
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="No such object for you.")
    INVALID = strawberry.enum_value("INVALID", description="The input breaks a rule.")
    INVALID_TRANSITION = strawberry.enum_value(
        "INVALID_TRANSITION", description="The order's status does not allow it."
    )
    OUT_OF_STOCK = strawberry.enum_value("OUT_OF_STOCK", description="Not enough stock.")
    PAYMENT_DECLINED = strawberry.enum_value(
        "PAYMENT_DECLINED", description="The processor declined."
    )
    CONFLICT = strawberry.enum_value(
        "CONFLICT", description="Changed concurrently, or a key reused with other input."
    )
    FORBIDDEN = strawberry.enum_value("FORBIDDEN", description="Not yours to change.")
    NOT_RETURNABLE = strawberry.enum_value(
        "NOT_RETURNABLE",
        description="Past the return window, or the units are already being returned.",
    )
    REFUND_FAILED = strawberry.enum_value(
        "REFUND_FAILED", description="The processor did not refund; nothing was paid. Retry."
    )
