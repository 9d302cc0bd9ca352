"""The order state machine: statuses, buyer tabs, actions and who may take them.

Pure: every rule here is a table, so the mutations, ``availableActions`` and the
tests all read the same truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from domain.state_machine import InvalidTransition as InvalidTransition
from domain.state_machine import Lifecycle, Transition


class OrderStatus(StrEnum):
    UNPAID = "UNPAID"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    AWAITING_COLLECTION = "AWAITING_COLLECTION"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class OrderTab(StrEnum):
    TO_PAY = "TO_PAY"
    TO_SHIP = "TO_SHIP"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    # A list an order belongs to beside its status tab (not an Order.tab value): its
    # rule is written in domain.reviews.awaits_review and resolvers.reviews.
    TO_REVIEW = "TO_REVIEW"
    # Not a status's tab: the orders that have a return (domain.returns.in_returns_tab).
    RETURNS = "RETURNS"


# Tabs that are lists by a rule of their own rather than a set of statuses.
LIST_TABS: frozenset[OrderTab] = frozenset({OrderTab.TO_REVIEW, OrderTab.RETURNS})


class OrderAction(StrEnum):
    PAY = "PAY"
    CANCEL = "CANCEL"
    CONFIRM_RECEIPT = "CONFIRM_RECEIPT"
    SHIP = "SHIP"
    MARK_IN_TRANSIT = "MARK_IN_TRANSIT"
    MARK_DELIVERED = "MARK_DELIVERED"
    # Steps of returns (domain.returns): offered beside the order's own actions.
    REQUEST_RETURN = "REQUEST_RETURN"
    APPROVE_RETURN = "APPROVE_RETURN"
    REJECT_RETURN = "REJECT_RETURN"
    CANCEL_RETURN = "CANCEL_RETURN"
    SHIP_RETURN = "SHIP_RETURN"
    RECEIVE_RETURN = "RECEIVE_RETURN"
    REFUND_RETURN = "REFUND_RETURN"
    # Reviews (domain.reviews): offered after the returns' steps.
    REVIEW = "REVIEW"
    EDIT_REVIEW = "EDIT_REVIEW"


class Actor(StrEnum):
    """Who takes an action; stored on every order event."""

    BUYER = "BUYER"
    SELLER = "SELLER"
    CARRIER = "CARRIER"
    SYSTEM = "SYSTEM"
    # An Order Center operator acting for the seller: the state machine lets them do
    # what the SELLER may; the timeline records who it really was.
    OPERATOR = "OPERATOR"


class OrderPaymentStatus(StrEnum):
    UNPAID = "UNPAID"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class CancelReason(StrEnum):
    CUSTOMER = "CUSTOMER"
    SELLER = "SELLER"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    OTHER = "OTHER"


TAB_OF_STATUS: dict[OrderStatus, OrderTab] = {
    OrderStatus.UNPAID: OrderTab.TO_PAY,
    OrderStatus.AWAITING_SHIPMENT: OrderTab.TO_SHIP,
    OrderStatus.AWAITING_COLLECTION: OrderTab.TO_SHIP,
    OrderStatus.IN_TRANSIT: OrderTab.SHIPPED,
    OrderStatus.DELIVERED: OrderTab.DELIVERED,
    OrderStatus.COMPLETED: OrderTab.COMPLETED,
    OrderStatus.CANCELLED: OrderTab.CANCELLED,
}


def tab_of(status: OrderStatus) -> OrderTab:
    """The buyer's Order Center tab an order in ``status`` is listed under."""
    return TAB_OF_STATUS[status]


def statuses_of_tab(tab: OrderTab) -> tuple[OrderStatus, ...]:
    """Every status listed under ``tab``, in lifecycle order (none for a LIST_TABS tab)."""
    return tuple(s for s in OrderStatus if TAB_OF_STATUS[s] is tab)


_B = frozenset({Actor.BUYER})
_S = frozenset({Actor.SELLER})
_SYS = frozenset({Actor.SYSTEM})

# The whole lifecycle. The seller (of the order's shop) also acts for the carrier;
# the system cancels unpaid orders after a timeout and completes delivered ones
# after the confirmation window.
TRANSITIONS: tuple[Transition[OrderAction, OrderStatus], ...] = (
    Transition(OrderAction.PAY, OrderStatus.UNPAID, OrderStatus.AWAITING_SHIPMENT, _B),
    Transition(OrderAction.CANCEL, OrderStatus.UNPAID, OrderStatus.CANCELLED, _B | _S | _SYS),
    Transition(OrderAction.CANCEL, OrderStatus.AWAITING_SHIPMENT, OrderStatus.CANCELLED, _B | _S),
    Transition(
        OrderAction.SHIP, OrderStatus.AWAITING_SHIPMENT, OrderStatus.AWAITING_COLLECTION, _S
    ),
    Transition(
        OrderAction.MARK_IN_TRANSIT,
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        _S | frozenset({Actor.CARRIER}),
    ),
    Transition(
        OrderAction.MARK_DELIVERED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        _S | frozenset({Actor.CARRIER}),
    ),
    Transition(
        OrderAction.CONFIRM_RECEIPT, OrderStatus.DELIVERED, OrderStatus.COMPLETED, _B | _SYS
    ),
)

ORDER_LIFECYCLE: Lifecycle[OrderAction, OrderStatus] = Lifecycle("an order", TRANSITIONS)


def next_status(status: OrderStatus, action: OrderAction, actor: Actor) -> OrderStatus:
    """The status after ``actor`` takes ``action`` on an order in ``status``; raises
    InvalidTransition when the action does not apply to the status or the actor may
    not take it."""
    return ORDER_LIFECYCLE.next(status, action, actor)


def available_actions(status: OrderStatus, actors: frozenset[Actor]) -> list[OrderAction]:
    """The actions any of ``actors`` may take now, in a stable order."""
    return ORDER_LIFECYCLE.offered(status, actors)


def payment_status_after(status: OrderStatus, paid: bool) -> OrderPaymentStatus:
    """The order's payment status, given whether money was ever captured for it."""
    if not paid:
        return OrderPaymentStatus.UNPAID
    if status is OrderStatus.CANCELLED:
        return OrderPaymentStatus.REFUNDED
    return OrderPaymentStatus.PAID


# An order's payment status from its payments' statuses: the first row whose payment
# status is among them decides; none of them, UNPAID. A table, so the SQL that answers
# `paymentStatus` is generated from it (schema.sql_plans). A return's refund row is
# REFUNDED when it completes giving back what was captured, else PARTIALLY_REFUNDED.
PAYMENT_STATUS_PRECEDENCE: tuple[tuple[str, OrderPaymentStatus], ...] = (
    ("REFUNDED", OrderPaymentStatus.REFUNDED),
    ("PARTIALLY_REFUNDED", OrderPaymentStatus.PARTIALLY_REFUNDED),
    ("CAPTURED", OrderPaymentStatus.PAID),
)


def order_payment_status(payment_statuses: Iterable[str]) -> OrderPaymentStatus:
    """What the buyer is shown for an order whose payments have these statuses."""
    present = set(payment_statuses)
    for payment_status, shown in PAYMENT_STATUS_PRECEDENCE:
        if payment_status in present:
            return shown
    return OrderPaymentStatus.UNPAID
