"""Orders with their items, status events, payments and shipments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from db.seed.behaviour import Buyer, Card, pick_product
from db.seed.catalog import CURRENCY, DAY, DEMO_USER_ID, Catalog, ProductInfo
from db.seed.intent import Intentions
from db.seed.returns import ReturnsBuilder
from db.seed.shipping import Shipments
from db.seed.timeline import Fate, Plan, Step, age_in, pick_fate, plan_lifecycle
from db.seed.writer import Row
from domain.money import Money
from domain.order_events import OrderEventKind, payment_event_kind
from domain.order_status import Actor, OrderAction, OrderStatus

# Enough for two orders in every non-terminal status plus history around them.
DEMO_MIN_ORDERS = 20
FREE_SHIPPING_FROM = 5_000
SHIPPING_FEE = 499
TAX_BASIS_POINTS = 800
HISTORY_SECONDS = 365 * DAY


@dataclass(frozen=True, slots=True)
class _Scenario:
    status: OrderStatus
    fate: Fate = Fate.COMPLETE
    delayed: bool | None = None
    attempted: bool | None = None
    # How far through the status's window now falls.
    between: tuple[float, float] = (0.1, 0.9)


# The demo buyer always has every status, plus a parcel already reported delayed
# and a missed delivery, so each screen of the Order Center has something to show.
_DEMO_SCENARIOS: tuple[_Scenario, ...] = (
    _Scenario(OrderStatus.UNPAID),
    _Scenario(OrderStatus.UNPAID),
    _Scenario(OrderStatus.AWAITING_SHIPMENT),
    _Scenario(OrderStatus.AWAITING_SHIPMENT),
    _Scenario(OrderStatus.AWAITING_COLLECTION),
    _Scenario(OrderStatus.AWAITING_COLLECTION),
    _Scenario(OrderStatus.IN_TRANSIT, delayed=True, attempted=False, between=(0.8, 0.95)),
    _Scenario(OrderStatus.IN_TRANSIT, delayed=False),
    _Scenario(OrderStatus.DELIVERED, delayed=False, attempted=True),
    _Scenario(OrderStatus.DELIVERED),
    _Scenario(OrderStatus.COMPLETED),
    _Scenario(OrderStatus.CANCELLED, Fate.CANCEL_UNPAID),
    _Scenario(OrderStatus.CANCELLED, Fate.CANCEL_PAID),
)


@dataclass(frozen=True, slots=True)
class Draft:
    """An order before it gets an id: who, when, and its planned life."""

    placed_at: datetime
    user_id: int
    seq: int
    buyer: Buyer
    plan: Plan


def allocate(rng: Random, buyers: list[Buyer], target: int, average: int) -> dict[int, int]:
    """Split ``target`` orders over buyers: uneven, like real shoppers, exact in sum."""
    counts = {b.user_id: 0 for b in buyers}
    demo = max(DEMO_MIN_ORDERS, average)
    counts[DEMO_USER_ID] = demo
    others = [b.user_id for b in buyers if b.user_id != DEMO_USER_ID]
    rest = max(0, target - demo)
    if not others or rest == 0:
        return counts
    weights = [rng.gammavariate(2.0, 1.0) for _ in others]
    scale = rest / sum(weights)
    exact = [w * scale for w in weights]
    floors = [int(x) for x in exact]
    # Largest remainders get the leftovers, ties by position for determinism.
    by_remainder = sorted(range(len(others)), key=lambda i: (floors[i] - exact[i], i))
    for i in by_remainder[: rest - sum(floors)]:
        floors[i] += 1
    for user_id, count in zip(others, floors, strict=True):
        counts[user_id] = count
    return counts


def plan_orders(
    rng: Random, buyers: list[Buyer], counts: dict[int, int], now: datetime
) -> list[Draft]:
    """Every order's plan, oldest first, so order ids and numbers follow time."""
    drafts: list[Draft] = []
    for buyer in buyers:
        wanted = counts[buyer.user_id]
        seq = 0
        if buyer.user_id == DEMO_USER_ID:
            for scenario in _DEMO_SCENARIOS:
                plan = plan_lifecycle(
                    rng,
                    scenario.fate,
                    patient=scenario.status is OrderStatus.UNPAID,
                    delayed=scenario.delayed,
                    delivery_attempted=scenario.attempted,
                )
                age = age_in(rng, plan, scenario.status, scenario.between)
                drafts.append(Draft(_ago(now, age), buyer.user_id, seq, buyer, plan))
                seq += 1
        while seq < wanted:
            plan = plan_lifecycle(rng, pick_fate(rng))
            # A mild skew towards recent months, as a growing shop would see.
            age = int(HISTORY_SECONDS * rng.random() ** 1.25)
            drafts.append(Draft(_ago(now, age), buyer.user_id, seq, buyer, plan))
            seq += 1
    drafts.sort(key=lambda d: (d.placed_at, d.user_id, d.seq))
    return drafts


def _ago(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)


def _reprice(rng: Random, price: int) -> int:
    """What the product cost back then: prices drift, the item keeps its snapshot."""
    return max(99, round(price * rng.uniform(0.85, 1.15) / 100) * 100 - 1)


class OrderBuilder:
    """Turns drafts into rows, buffering them until the caller drains a batch."""

    def __init__(
        self, rng: Random, catalog: Catalog, now: datetime, intent: Intentions | None = None
    ) -> None:
        self._rng = rng
        # Picks each order's first product by the buyer's intent (videos, re-buys).
        self._intent = intent
        self._catalog = catalog
        self._now = now
        self._shipments = Shipments(rng)
        self._next = {
            "orders": 1,
            "order_items": 1,
            "order_events": 1,
            "payments": 1,
            "returns": 1,
            "return_lines": 1,
        }
        self.returns = ReturnsBuilder(rng, now, self._id)
        self._buffers: dict[str, list[Row]] = {}
        self._reset_buffers()
        # Every product each user ever ordered; recommendations must avoid them.
        self.bought: dict[int, set[int]] = {}
        self.status_counts: dict[str, int] = {s.value: 0 for s in OrderStatus}

    def _reset_buffers(self) -> None:
        # Dependency order: the caller inserts them in this order, so foreign keys hold.
        self._buffers = {
            name: []
            for name in (
                "orders",
                "order_items",
                "order_events",
                "payments",
                "shipments",
                "shipment_events",
                "returns",
                "return_lines",
            )
        }

    @property
    def pending_orders(self) -> int:
        return len(self._buffers["orders"])

    def drain(self) -> list[tuple[str, list[Row]]]:
        batch = list(self._buffers.items())
        self._reset_buffers()
        return batch

    def _id(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value

    def _first(self, draft: Draft, order_id: int) -> ProductInfo:
        if self._intent is None:
            return pick_product(self._rng, self._catalog, draft.buyer)
        return self._intent.first_product(draft.buyer, order_id, draft.placed_at)

    def _products(self, buyer: Buyer, first: ProductInfo) -> list[ProductInfo]:
        rng, catalog = self._rng, self._catalog
        wanted = rng.choices((1, 2, 3, 4), (25, 30, 25, 20), k=1)[0]
        chosen = {first.id: first}
        same_category = catalog.by_shop_category[(first.shop_id, first.category)]
        whole_shop = catalog.by_shop[first.shop_id]
        for _ in range(3 * (wanted - 1)):
            if len(chosen) >= wanted:
                break
            # Orders are from one shop; baskets lean to more of the same kind.
            pool = same_category if rng.random() < 0.7 else whole_shop
            product = pool.pick(rng)
            chosen.setdefault(product.id, product)
        return list(chosen.values())

    def add(self, draft: Draft) -> None:
        rng, now = self._rng, self._now
        buyer, plan, placed_at = draft.buyer, draft.plan, draft.placed_at
        order_id = self._id("orders")
        old = (now - placed_at).total_seconds() > 30 * DAY

        subtotal = Money.zero(CURRENCY)
        first_item = len(self._buffers["order_items"])
        products = self._products(buyer, self._first(draft, order_id))
        if self._intent is not None:
            self._intent.bought(buyer, products, placed_at)
        bought = self.bought.setdefault(buyer.user_id, set())
        for product in products:
            unit = _reprice(rng, product.price_minor) if old and rng.random() < 0.15 else None
            unit_price = product.price_minor if unit is None else unit
            quantity = rng.choices((1, 2, 3), (75, 18, 7), k=1)[0]
            video = rng.choice(product.videos) if rng.random() < 0.4 else None
            subtotal += Money(unit_price, CURRENCY).times(quantity)
            bought.add(product.id)
            self._buffers["order_items"].append(
                {
                    "id": self._id("order_items"),
                    "order_id": order_id,
                    "product_id": product.id,
                    "title": product.title,
                    "unit_price_minor": unit_price,
                    "currency": CURRENCY,
                    "quantity": quantity,
                    "source_video_id": video,
                }
            )
        free = subtotal.amount_minor >= FREE_SHIPPING_FROM
        shipping = Money(0 if free else SHIPPING_FEE, CURRENCY)
        tax = subtotal.percent(TAX_BASIS_POINTS)
        total = subtotal + shipping + tax

        card = buyer.default_card if rng.random() < 0.85 else rng.choice(buyer.cards)
        payments = self._payments(order_id, buyer, plan, placed_at, card, total.amount_minor)
        captured = [p for p in payments if p["status"] == "CAPTURED"]

        address = buyer.addresses[0]
        if len(buyer.addresses) > 1 and rng.random() < 0.2:
            address = buyer.addresses[1]
        ship_offset = plan.offset_of(OrderAction.SHIP)
        scans: list[Row] = []
        if ship_offset is not None and placed_at + timedelta(seconds=ship_offset) <= now:
            shipment, scans = self._shipments.build(
                order_id=order_id,
                plan=plan,
                placed_at=placed_at,
                now=now,
                origin=self._catalog.shop_origin[products[0].shop_id],
                destination=address.city,
            )
            self._buffers["shipments"].append(shipment)
            self._buffers["shipment_events"].extend(scans)
        status, version, updated_at = self._events(
            order_id, plan, placed_at, card, _beside(plan, payments, scans)
        )

        self.status_counts[status.value] += 1
        order: Row = {
            "id": order_id,
            "number": f"OC-{placed_at.year}-{order_id:06d}",
            "user_id": buyer.user_id,
            "shop_id": products[0].shop_id,
            "status": status.value,
            "version": version,
            "currency": CURRENCY,
            "subtotal_minor": subtotal.amount_minor,
            "shipping_minor": shipping.amount_minor,
            "tax_minor": tax.amount_minor,
            "total_minor": total.amount_minor,
            "cancel_reason": plan.cancel_reason if status is OrderStatus.CANCELLED else None,
            "ship_name": address.name,
            "ship_line1": address.line1,
            "ship_line2": address.line2,
            "ship_city": address.city.name,
            "ship_region": address.city.region,
            "ship_postal_code": address.postal_code,
            "ship_country_code": "US",
            "ship_phone": address.phone,
            "placed_at": placed_at,
            "updated_at": updated_at,
        }
        self._buffers["orders"].append(order)
        if status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED):
            self.returns.maybe_add(
                self._buffers,
                order=order,
                items=self._buffers["order_items"][first_item:],
                plan=plan,
                payment=captured[0] if captured else None,
                demo=buyer.user_id == DEMO_USER_ID,
            )

    def _events(
        self, order_id: int, plan: Plan, placed_at: datetime, card: Card, beside: list[Beside]
    ) -> tuple[OrderStatus, int, datetime]:
        """Placement plus every step that happened by now, with the payments and scans
        beside them in time order; returns the final state (of the status changes)."""
        events = self._buffers["order_events"]
        status, version, at = OrderStatus.UNPAID, 1, placed_at

        def event(kind: OrderEventKind, **values: object) -> None:
            events.append(
                {
                    "id": self._id("order_events"),
                    "order_id": order_id,
                    "kind": kind.value,
                    "subject_id": None,
                    "note": None,
                    **values,
                }
            )

        event(
            OrderEventKind.STATUS_CHANGED,
            from_status=None,
            to_status=status.value,
            order_version=version,
            actor=Actor.BUYER.value,
            occurred_at=at,
        )
        timeline: list[tuple[datetime, int, Step | Beside]] = [
            (placed_at + timedelta(seconds=step.offset), _CHANGE, step) for step in plan.steps
        ]
        timeline += [(b.at, b.rank, b) for b in beside]
        for happened, _, what in sorted(timeline, key=lambda e: (e[0], e[1])):
            if happened > self._now:
                break
            if isinstance(what, Beside):
                event(
                    what.kind,
                    subject_id=what.subject_id,
                    from_status=status.value,
                    to_status=status.value,
                    order_version=version,
                    actor=what.actor.value,
                    occurred_at=happened,
                )
                continue
            version += 1
            note = f"Paid with {card.label}" if what.action is OrderAction.PAY else what.note
            event(
                OrderEventKind.STATUS_CHANGED,
                from_status=status.value,
                to_status=what.status.value,
                order_version=version,
                actor=what.actor.value,
                note=note,
                occurred_at=happened,
            )
            status, at = what.status, happened
        return status, version, at

    def _payment(
        self,
        order_id: int,
        user_id: int,
        card: Card,
        amount: int,
        status: str,
        at: datetime,
        prefix: str,
    ) -> Row:
        row: Row = {
            "id": self._id("payments"),
            "order_id": order_id,
            "user_id": user_id,
            "payment_method_id": card.id,
            "amount_minor": amount,
            "currency": CURRENCY,
            "status": status,
            "gateway_reference": f"{prefix}_{self._rng.getrandbits(64):016x}",
            "created_at": at,
            "updated_at": at,
        }
        self._buffers["payments"].append(row)
        return row

    def _payments(
        self, order_id: int, buyer: Buyer, plan: Plan, placed_at: datetime, card: Card, amount: int
    ) -> list[Row]:
        """The payment rows of the order by now (declined, captured, refunded)."""
        now, user_id = self._now, buyer.user_id
        made: list[Row] = []
        if plan.failed_payment_offset is not None:
            failed_at = placed_at + timedelta(seconds=plan.failed_payment_offset)
            if failed_at <= now:
                declined = self._rng.choice(buyer.cards)
                made.append(
                    self._payment(order_id, user_id, declined, amount, "FAILED", failed_at, "ch")
                )
        paid_offset = plan.offset_of(OrderAction.PAY)
        if paid_offset is None:
            return made
        paid_at = placed_at + timedelta(seconds=paid_offset)
        if paid_at > now:
            return made
        made.append(self._payment(order_id, user_id, card, amount, "CAPTURED", paid_at, "ch"))
        cancel_offset = plan.offset_of(OrderAction.CANCEL)
        if cancel_offset is not None:
            cancelled_at = placed_at + timedelta(seconds=cancel_offset)
            if cancelled_at <= now:
                made.append(
                    self._payment(order_id, user_id, card, amount, "REFUNDED", cancelled_at, "re")
                )
        return made


# Where a step beside the status goes among status changes at the same instant: a
# charge, and a carrier's scan, before the change they make; a refund, and the seller's
# label, after the change they follow (as the mutations and the webhook write them).
_BEFORE, _CHANGE, _AFTER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Beside:
    """An order event beside the status changes: a payment or a scan, by its row."""

    at: datetime
    rank: int
    kind: OrderEventKind
    subject_id: int
    actor: Actor


def _beside(plan: Plan, payments: list[Row], scans: list[Row]) -> list[Beside]:
    """The events that record the order's payments and scans."""
    cancel = next((s for s in plan.steps if s.action is OrderAction.CANCEL), None)
    refunder = Actor.BUYER if cancel is None else cancel.actor
    made = []
    for payment in payments:
        kind = payment_event_kind(payment["status"])
        refund = kind is OrderEventKind.REFUNDED
        made.append(
            Beside(
                payment["created_at"],
                _AFTER if refund else _BEFORE,
                kind,
                payment["id"],
                refunder if refund else Actor.BUYER,
            )
        )
    for scan in scans:
        label = scan["kind"] == "LABEL_CREATED"
        made.append(
            Beside(
                scan["happened_at"],
                _AFTER if label else _BEFORE,
                OrderEventKind.CARRIER_SCAN,
                scan["id"],
                Actor.SELLER if label else Actor.CARRIER,
            )
        )
    return made
