"""An order's whole planned life as state-machine steps with offsets from placement.

A plan is drawn once, validated against ``domain.order_status.next_status``, and then
cut at ``now``: the steps that already happened become order events and the first
step still in the future decides the current status. Recent orders therefore land
in early statuses and old ones in terminal statuses without any special casing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from random import Random

from domain.order_status import Actor, CancelReason, OrderAction, OrderStatus, next_status

HOUR = 3_600
DAY = 86_400
# The system cancels orders nobody paid for, and completes delivered orders nobody
# confirmed, after these windows.
UNPAID_TIMEOUT = DAY
CONFIRMATION_WINDOW = 7 * DAY


class Fate(Enum):
    COMPLETE = "complete"
    CANCEL_UNPAID = "cancel_unpaid"
    CANCEL_PAID = "cancel_paid"


@dataclass(frozen=True, slots=True)
class Step:
    action: OrderAction
    actor: Actor
    offset: int  # seconds after placement; strictly increasing along a plan
    status: OrderStatus  # status after the step
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    fate: Fate
    steps: tuple[Step, ...]
    cancel_reason: str | None = None
    # A declined card attempt before paying or giving up, if any.
    failed_payment_offset: int | None = None
    delayed: bool = False
    delivery_attempted: bool = False

    def offset_of(self, action: OrderAction) -> int | None:
        for step in self.steps:
            if step.action is action:
                return step.offset
        return None

    def window_of(self, status: OrderStatus) -> tuple[int, int | None]:
        """Offsets between which the order sits in ``status`` (end None: for good)."""
        start = 0 if status is OrderStatus.UNPAID else None
        for step in self.steps:
            if start is not None:
                return start, step.offset
            if step.status is status:
                start = step.offset
        if start is None:
            raise ValueError(f"this plan never reaches {status.value}")
        return start, None


def pick_fate(rng: Random) -> Fate:
    roll = rng.random()
    if roll < 0.07:
        return Fate.CANCEL_UNPAID
    if roll < 0.11:
        return Fate.CANCEL_PAID
    return Fate.COMPLETE


_BUYER_CANCEL_NOTES = (
    "Changed my mind",
    "Ordered by mistake",
    "Found a better price elsewhere",
    "Wanted a different size or colour",
    "Delivery would take too long",
)


class _Builder:
    def __init__(self) -> None:
        self.status = OrderStatus.UNPAID
        self.offset = 0
        self.steps: list[Step] = []

    def add(self, action: OrderAction, actor: Actor, after: int, note: str | None = None) -> None:
        # Raises InvalidTransition, so a plan can never contradict the state machine.
        self.status = next_status(self.status, action, actor)
        self.offset += max(60, after)
        self.steps.append(Step(action, actor, self.offset, self.status, note))


def _pay_delay(rng: Random, patient: bool) -> int:
    if patient or rng.random() < 0.15:
        return rng.randint(HOUR, 20 * HOUR)
    return rng.randint(60, HOUR)


def plan_lifecycle(
    rng: Random,
    fate: Fate,
    *,
    patient: bool = False,
    delayed: bool | None = None,
    delivery_attempted: bool | None = None,
) -> Plan:
    """Draw one order's full life; ``patient`` makes the buyer slow to pay."""
    b = _Builder()
    reason: str | None = None
    failed: int | None = None

    if fate is Fate.CANCEL_UNPAID:
        who = rng.choices((Actor.BUYER, Actor.SYSTEM, Actor.SELLER), (50, 40, 10), k=1)[0]
        if who is Actor.SYSTEM:
            declined = rng.random() < 0.35
            reason = (CancelReason.PAYMENT_FAILED if declined else CancelReason.OTHER).value
            note = "Payment declined" if declined else "Not paid within 24 hours"
            b.add(OrderAction.CANCEL, who, UNPAID_TIMEOUT, f"{note}; cancelled automatically")
        elif who is Actor.BUYER:
            declined = rng.random() < 0.2
            reason = CancelReason.CUSTOMER.value
            b.add(
                OrderAction.CANCEL,
                who,
                rng.randint(120, 20 * HOUR),
                rng.choice(_BUYER_CANCEL_NOTES),
            )
        else:
            declined = False
            reason = CancelReason.OUT_OF_STOCK.value
            b.add(OrderAction.CANCEL, who, rng.randint(HOUR, 20 * HOUR), "Item went out of stock")
        if declined:
            failed = int(b.offset * rng.uniform(0.05, 0.6))
        return Plan(fate, tuple(b.steps), reason, failed)

    pay_after = _pay_delay(rng, patient)
    if rng.random() < 0.03:
        failed = max(1, pay_after // 2)
    b.add(OrderAction.PAY, Actor.BUYER, pay_after)

    if fate is Fate.CANCEL_PAID:
        if rng.random() < 0.6:
            reason = CancelReason.CUSTOMER.value
            b.add(
                OrderAction.CANCEL,
                Actor.BUYER,
                rng.randint(10 * 60, 36 * HOUR),
                rng.choice(_BUYER_CANCEL_NOTES),
            )
        else:
            out_of_stock = rng.random() < 0.7
            reason = (CancelReason.OUT_OF_STOCK if out_of_stock else CancelReason.SELLER).value
            note = "Item went out of stock" if out_of_stock else "Seller could not fulfil"
            b.add(OrderAction.CANCEL, Actor.SELLER, rng.randint(HOUR, 36 * HOUR), note)
        return Plan(fate, tuple(b.steps), reason, failed)

    is_delayed = rng.random() < 0.08 if delayed is None else delayed
    attempted = rng.random() < 0.05 if delivery_attempted is None else delivery_attempted
    b.add(OrderAction.SHIP, Actor.SELLER, rng.randint(4 * HOUR, 3 * DAY))
    b.add(OrderAction.MARK_IN_TRANSIT, Actor.CARRIER, rng.randint(2 * HOUR, 30 * HOUR))
    transit = rng.randint(DAY, 5 * DAY)
    if is_delayed:
        transit += rng.randint(DAY, 2 * DAY)
    if attempted:
        transit += DAY
    b.add(OrderAction.MARK_DELIVERED, Actor.CARRIER, transit)
    if rng.random() < 0.6:
        b.add(OrderAction.CONFIRM_RECEIPT, Actor.BUYER, rng.randint(HOUR, 6 * DAY))
    else:
        b.add(
            OrderAction.CONFIRM_RECEIPT,
            Actor.SYSTEM,
            CONFIRMATION_WINDOW,
            "Completed automatically 7 days after delivery",
        )
    return Plan(fate, tuple(b.steps), None, failed, is_delayed, attempted)


def age_in(
    rng: Random, plan: Plan, status: OrderStatus, between: tuple[float, float] = (0.1, 0.9)
) -> int:
    """Seconds since placement such that the order is in ``status`` right now.

    ``between`` is how far through that status's window ``now`` falls.
    """
    start, end = plan.window_of(status)
    if end is None:
        # Terminal: reached some time ago, anywhere in the last few months.
        return start + rng.randint(HOUR, 150 * DAY)
    return start + int((end - start) * rng.uniform(*between))
