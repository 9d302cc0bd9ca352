"""Returns: a buyer sends back some units of a delivered order and is refunded for them.

Pure: the state machine, who may take each step, the return window, how many units of a
line may still be returned and what a return refunds are tables and functions here, so
the mutations, ``availableActions``, the RETURNS tab and the tests read the same truth.

Money is integer minor units. A return refunds its lines' prices, the order's tax in
proportion (cumulative floor, see ``refund_for``) and the order's shipping fee only when
it is the return that gives back the order's last unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderAction, OrderStatus, available_actions
from domain.state_machine import Lifecycle, Transition


class ReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    SHIPPED_BACK = "SHIPPED_BACK"
    # Received by the seller, not refunded yet: the refund failed and may be retried.
    RECEIVED = "RECEIVED"
    REFUNDED = "REFUNDED"


class ReturnAction(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    CANCEL = "CANCEL"
    SHIP = "SHIP"
    RECEIVE = "RECEIVE"
    REFUND = "REFUND"


class ReturnReason(StrEnum):
    DAMAGED = "DAMAGED"
    WRONG_ITEM = "WRONG_ITEM"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    OTHER = "OTHER"


_B = frozenset({Actor.BUYER})
_S = frozenset({Actor.SELLER})
_SYS = frozenset({Actor.SYSTEM})

# The whole lifecycle of a return. RECEIVE is the seller's; the refund follows it in the
# same step, and when the gateway fails the return stays RECEIVED and REFUND retries it.
RETURN_TRANSITIONS: tuple[Transition[ReturnAction, ReturnStatus], ...] = (
    Transition(ReturnAction.APPROVE, ReturnStatus.REQUESTED, ReturnStatus.APPROVED, _S),
    Transition(ReturnAction.REJECT, ReturnStatus.REQUESTED, ReturnStatus.REJECTED, _S),
    Transition(ReturnAction.CANCEL, ReturnStatus.REQUESTED, ReturnStatus.CANCELLED, _B),
    Transition(ReturnAction.CANCEL, ReturnStatus.APPROVED, ReturnStatus.CANCELLED, _B),
    Transition(ReturnAction.SHIP, ReturnStatus.APPROVED, ReturnStatus.SHIPPED_BACK, _B),
    Transition(ReturnAction.RECEIVE, ReturnStatus.SHIPPED_BACK, ReturnStatus.RECEIVED, _S),
    Transition(ReturnAction.REFUND, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, _S | _SYS),
)

RETURN_LIFECYCLE: Lifecycle[ReturnAction, ReturnStatus] = Lifecycle("a return", RETURN_TRANSITIONS)

# Orders whose units may be returned, and where a return may be requested from.
RETURNABLE_ORDER_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.COMPLETED}
)
# Returns whose units are spoken for: every one but those refused or withdrawn.
COUNTED_STATUSES: frozenset[ReturnStatus] = frozenset(
    s for s in ReturnStatus if s not in {ReturnStatus.REJECTED, ReturnStatus.CANCELLED}
)
# Returns that put their order under the RETURNS tab: every one but those withdrawn.
TAB_STATUSES: frozenset[ReturnStatus] = frozenset(
    s for s in ReturnStatus if s is not ReturnStatus.CANCELLED
)
FINAL_STATUSES: frozenset[ReturnStatus] = frozenset(
    {ReturnStatus.REJECTED, ReturnStatus.CANCELLED, ReturnStatus.REFUNDED}
)
DEFAULT_WINDOW = timedelta(days=15)


def next_return_status(status: ReturnStatus, action: ReturnAction, actor: Actor) -> ReturnStatus:
    """The status after ``actor`` takes ``action`` on a return in ``status``."""
    return RETURN_LIFECYCLE.next(status, action, actor)


def actors_of(action: ReturnAction) -> frozenset[Actor]:
    """Everyone who may take ``action`` on some return."""
    return RETURN_LIFECYCLE.actors_of(action)


def return_actions(
    statuses: Iterable[ReturnStatus], actors: frozenset[Actor]
) -> list[ReturnAction]:
    """The steps any of ``actors`` may take on any of an order's returns (in these
    statuses), each once, in the order the table first names them."""
    present = set(statuses)
    return [
        action
        for action in step_order()
        if any(
            t.action is action and t.source in present and t.actors & actors
            for t in RETURN_TRANSITIONS
        )
    ]


def step_order() -> list[ReturnAction]:
    """Every step, in the order the table first names it."""
    return RETURN_LIFECYCLE.steps()


def sources_of(action: ReturnAction, actor: Actor) -> list[ReturnStatus]:
    """The statuses from which ``actor`` may take ``action``."""
    return RETURN_LIFECYCLE.sources_of(action, actor)


# How each step is offered in an order's `availableActions`.
ORDER_ACTION_OF: dict[ReturnAction, OrderAction] = {
    ReturnAction.APPROVE: OrderAction.APPROVE_RETURN,
    ReturnAction.REJECT: OrderAction.REJECT_RETURN,
    ReturnAction.CANCEL: OrderAction.CANCEL_RETURN,
    ReturnAction.SHIP: OrderAction.SHIP_RETURN,
    ReturnAction.RECEIVE: OrderAction.RECEIVE_RETURN,
    ReturnAction.REFUND: OrderAction.REFUND_RETURN,
}
# The order event each step writes (requesting writes RETURN_REQUESTED; a refund also
# writes REFUNDED, about its payments row).
EVENT_OF: dict[ReturnAction, OrderEventKind] = {
    ReturnAction.APPROVE: OrderEventKind.RETURN_APPROVED,
    ReturnAction.REJECT: OrderEventKind.RETURN_REJECTED,
    ReturnAction.CANCEL: OrderEventKind.RETURN_CANCELLED,
    ReturnAction.SHIP: OrderEventKind.RETURN_SHIPPED,
    ReturnAction.RECEIVE: OrderEventKind.RETURN_RECEIVED,
    ReturnAction.REFUND: OrderEventKind.RETURN_REFUNDED,
}
# Who may ask for a return.
REQUESTERS: frozenset[Actor] = _B


def order_actions(
    status: OrderStatus,
    actors: frozenset[Actor],
    return_statuses: Iterable[ReturnStatus],
    requestable: bool,
    *,
    reviewable: bool,
    editable: bool,
) -> list[OrderAction]:
    """Everything ``actors`` may do to an order now, in this order: the order's own
    actions (the state machine's), then REQUEST_RETURN (``requestable``: see
    may_request), then the steps of its returns, then REVIEW (``reviewable``:
    domain.reviews.offers_review) and EDIT_REVIEW (``editable``: offers_edit). Money and
    goods first, opinions last: the steps that move an order come before reviewing it."""
    actions = available_actions(status, actors)
    if requestable and actors & REQUESTERS:
        actions.append(OrderAction.REQUEST_RETURN)
    actions.extend(ORDER_ACTION_OF[a] for a in return_actions(return_statuses, actors))
    if reviewable:
        actions.append(OrderAction.REVIEW)
    if editable:
        actions.append(OrderAction.EDIT_REVIEW)
    return actions


def within_window(delivered_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """A return may be requested until ``window`` after delivery (never if undelivered)."""
    return delivered_at is not None and now <= delivered_at + window


def window_opens_after(now: datetime, window: timedelta) -> datetime:
    """The earliest delivery instant still inside the window at ``now``."""
    return now - window


def returnable_units(
    ordered: Mapping[int, int], returned: Iterable[tuple[int, int, ReturnStatus]]
) -> dict[int, int]:
    """Per order line (its id): units ordered less those in counted returns.

    ``ordered``: line id -> quantity; ``returned``: (line id, quantity, return status).
    """
    left = dict(ordered)
    for line_id, quantity, status in returned:
        if status in COUNTED_STATUSES and line_id in left:
            left[line_id] -= quantity
    return {line_id: max(units, 0) for line_id, units in left.items()}


def may_request(
    order_status: OrderStatus,
    delivered_at: datetime | None,
    now: datetime,
    window: timedelta,
    units_left: Mapping[int, int],
) -> bool:
    """Whether the buyer may ask to return anything of the order now."""
    return (
        order_status in RETURNABLE_ORDER_STATUSES
        and within_window(delivered_at, now, window)
        and any(units > 0 for units in units_left.values())
    )


def in_returns_tab(statuses: Iterable[ReturnStatus]) -> bool:
    """Whether an order whose returns are in these statuses is listed under RETURNS."""
    return any(s in TAB_STATUSES for s in statuses)


@dataclass(frozen=True, slots=True)
class Refund:
    """What one return gives back, in minor units of the order's currency."""

    subtotal_minor: int
    tax_minor: int
    shipping_minor: int

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor + self.shipping_minor


def _tax_share(tax_minor: int, part_minor: int, subtotal_minor: int) -> int:
    if subtotal_minor <= 0:
        return 0
    return tax_minor * part_minor // subtotal_minor


def refund_for(
    *,
    lines_minor: int,
    order_subtotal_minor: int,
    order_tax_minor: int,
    order_shipping_minor: int,
    refunded_before_minor: int,
    completes_order: bool,
) -> Refund:
    """What a return of lines worth ``lines_minor`` refunds.

    Tax: the order's tax in proportion to the lines' share of the subtotal, rounded down
    cumulatively: floor(tax * (before + lines) / subtotal) - floor(tax * before / subtotal),
    ``before`` being the lines refunded by earlier returns. So the returns of every unit
    refund exactly the order's tax, whatever the order they came in. Shipping: the whole
    fee, with the return that completes the order (every unit returned), else nothing.
    """
    if lines_minor < 0 or refunded_before_minor < 0:
        raise ValueError("amounts are never negative")
    after = min(refunded_before_minor + lines_minor, order_subtotal_minor)
    before = min(refunded_before_minor, after)
    tax = _tax_share(order_tax_minor, after, order_subtotal_minor) - _tax_share(
        order_tax_minor, before, order_subtotal_minor
    )
    return Refund(lines_minor, tax, order_shipping_minor if completes_order else 0)
