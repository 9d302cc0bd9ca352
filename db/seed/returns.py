"""Returns of delivered orders, in every state, walked through domain.returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from random import Random
from typing import Any

from db.seed.timeline import Plan
from db.seed.writer import Row
from domain import returns as rules
from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderAction, OrderStatus

R = rules.ReturnStatus
A = rules.ReturnAction
# Where a seeded return stops, and the steps (and who takes them) that lead there.
PATHS: dict[R, tuple[tuple[A, Actor], ...]] = {
    R.REQUESTED: (),
    R.APPROVED: ((A.APPROVE, Actor.SELLER),),
    R.REJECTED: ((A.REJECT, Actor.SELLER),),
    R.CANCELLED: ((A.APPROVE, Actor.SELLER), (A.CANCEL, Actor.BUYER)),
    R.SHIPPED_BACK: ((A.APPROVE, Actor.SELLER), (A.SHIP, Actor.BUYER)),
    R.REFUNDED: (
        (A.APPROVE, Actor.SELLER),
        (A.SHIP, Actor.BUYER),
        (A.RECEIVE, Actor.SELLER),
        (A.REFUND, Actor.SELLER),
    ),
}
# The demo buyer's completed orders get these, in turn, so each state is on show.
DEMO_TARGETS = (R.REQUESTED, R.REFUNDED, R.SHIPPED_BACK, R.APPROVED, R.REJECTED)
SHARE = 0.12  # of other buyers' delivered orders
REASONS = list(rules.ReturnReason)
CARRIERS = ("UPS", "USPS", "FedEx")


def status_at(plan: Plan, placed_at: datetime, at: datetime) -> tuple[OrderStatus, int]:
    """The order's status and version at ``at``, from its plan."""
    status, version = OrderStatus.UNPAID, 1
    for step in plan.steps:
        if placed_at + timedelta(seconds=step.offset) > at:
            break
        status, version = step.status, version + 1
    return status, version


class ReturnsBuilder:
    """Adds a return (rows of returns, return_lines, events and its refund) to some
    delivered orders; ids come from the order builder's counters."""

    def __init__(self, rng: Random, now: datetime, next_id: Callable[[str], int]) -> None:
        self._rng = rng
        self._now = now
        self._id = next_id
        self._demo_count = 0
        self.count = 0

    def maybe_add(
        self,
        buffers: dict[str, list[Row]],
        *,
        order: Row,
        items: list[Row],
        plan: Plan,
        payment: Row | None,
        demo: bool,
    ) -> None:
        rng, now = self._rng, self._now
        if demo and order["status"] != OrderStatus.COMPLETED.value:
            # The demo buyer's DELIVERED orders stay free to return (the README's example).
            return
        delivered_offset = plan.offset_of(OrderAction.MARK_DELIVERED)
        if payment is None or delivered_offset is None:
            return
        delivered_at = order["placed_at"] + timedelta(seconds=delivered_offset)
        room = min((now - delivered_at).total_seconds(), rules.DEFAULT_WINDOW.total_seconds())
        if room < 3600:
            return
        if demo:
            target = DEMO_TARGETS[self._demo_count % len(DEMO_TARGETS)]
            self._demo_count += 1
        elif rng.random() < SHARE:
            target = rng.choice(list(PATHS))
        else:
            return
        requested_at = delivered_at + timedelta(seconds=rng.uniform(0.2, 0.6) * room)
        steps = PATHS[target]
        gap = (now - requested_at) / (len(steps) + 1)
        times = [requested_at + gap * (i + 1) for i in range(len(steps))]

        return_id = self._id("returns")
        line = rng.choice(items)
        quantity = rng.randint(1, line["quantity"])
        lines_minor = line["unit_price_minor"] * quantity
        ordered = sum(i["quantity"] for i in items)
        refund = rules.refund_for(
            lines_minor=lines_minor,
            order_subtotal_minor=order["subtotal_minor"],
            order_tax_minor=order["tax_minor"],
            order_shipping_minor=order["shipping_minor"],
            refunded_before_minor=0,
            completes_order=quantity == ordered,
        )
        row: dict[str, Any] = {
            "id": return_id,
            "order_id": order["id"],
            "user_id": order["user_id"],
            "status": R.REQUESTED.value,
            "reason": rng.choice(REASONS).value,
            "note": rng.choice([None, "Not what I expected.", "Arrived scratched."]),
            "reject_reason": None,
            "carrier": None,
            "tracking_number": None,
            "currency": order["currency"],
            "subtotal_minor": refund.subtotal_minor,
            "tax_minor": refund.tax_minor,
            "shipping_minor": refund.shipping_minor,
            "total_minor": refund.total_minor,
            "refund_payment_id": None,
            "refund_failure": None,
            "refund_attempts": 0,
            "requested_at": requested_at,
            "decided_at": None,
            "shipped_at": None,
            "received_at": None,
            "refunded_at": None,
            "updated_at": requested_at,
        }
        events = [
            self._event(
                order, plan, return_id, OrderEventKind.RETURN_REQUESTED, Actor.BUYER, requested_at
            )
        ]
        status = R.REQUESTED
        for (action, actor), at in zip(steps, times, strict=True):
            status = rules.next_return_status(status, action, actor)
            row["status"], row["updated_at"] = status.value, at
            events.append(self._event(order, plan, return_id, rules.EVENT_OF[action], actor, at))
            if action in (A.APPROVE, A.REJECT):
                row["decided_at"] = at
            if action is A.REJECT:
                row["reject_reason"] = "Worn; not in resalable condition."
            if action is A.SHIP:
                row["carrier"] = rng.choice(CARRIERS)
                row["tracking_number"] = f"RT{rng.getrandbits(40):012d}"
                row["shipped_at"] = at
            if action is A.RECEIVE:
                row["received_at"] = at
            if action is A.REFUND:
                payment_id = self._id("payments")
                refunds_all = refund.total_minor >= payment["amount_minor"]
                buffers["payments"].append(
                    {
                        **payment,
                        "id": payment_id,
                        "amount_minor": refund.total_minor,
                        "status": "REFUNDED" if refunds_all else "PARTIALLY_REFUNDED",
                        "gateway_reference": f"re_{rng.getrandbits(64):016x}",
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                row["refund_payment_id"], row["refund_attempts"] = payment_id, 1
                row["refunded_at"] = at
                events.append(
                    self._event(order, plan, payment_id, OrderEventKind.REFUNDED, actor, at)
                )
        buffers["returns"].append(row)
        buffers["return_lines"].append(
            {
                "id": self._id("return_lines"),
                "return_id": return_id,
                "order_item_id": line["id"],
                "quantity": quantity,
                "unit_price_minor": line["unit_price_minor"],
                "currency": line["currency"],
            }
        )
        for event in events:
            buffers["order_events"].append({"id": self._id("order_events"), **event})
        self.count += 1

    def _event(
        self,
        order: Row,
        plan: Plan,
        subject_id: int,
        kind: OrderEventKind,
        actor: Actor,
        at: datetime,
    ) -> Row:
        status, version = status_at(plan, order["placed_at"], at)
        return {
            "order_id": order["id"],
            "from_status": status.value,
            "to_status": status.value,
            "order_version": version,
            "actor": actor.value,
            "note": None,
            "occurred_at": at,
            "kind": kind.value,
            "subject_id": subject_id,
        }
