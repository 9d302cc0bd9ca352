"""``ordercenter simulate``: sellers and carriers moving orders along, at a steady rate.

Every change goes through the same use-cases as the API (``ship_order``,
``place_order``), with the shop's owner as the viewer for the seller's step and a
buyer as the viewer for new orders. The carrier's steps go through the carrier
webhook: a scan (PICKED_UP, DELIVERED) signed with the carrier's secret and posted to
``POST /webhooks/carrier``, of a running server when ``--webhook-url`` says so,
otherwise to the same handler in this process; those events carry actor CARRIER. (A
shipment whose carrier has no configured secret is moved by its seller instead.)
Nothing is written behind the domain's back: versions, timelines, shipments and
events are exactly what a client would have produced, and the events are announced
on the configured bus.

Each step is one use-case call: ship an order awaiting shipment (carrier and
tracking number), hand one awaiting collection to the carrier (IN_TRANSIT), deliver
one in transit (DELIVERED), or place and pay a new order for a random buyer so the
pipeline never runs dry. Delivered orders are left to their buyers (or to the
server's timeout sweep). A refused step (someone else moved the order first) is
counted as skipped and the simulation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from uuid import uuid4

import httpx
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.applications import Starlette
from starlette.routing import Route

from app.bus import InProcessBus, make_bus
from app.ratelimit import MemoryBudget
from app.settings import DEVELOPMENT_CARRIER_SECRETS, Settings
from app.webhooks import CARRIER_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, CarrierWebhook
from db.engine import create_engine, create_session_factory
from db.models import (
    Order,
    OrderItem,
    OrderReturn,
    PaymentMethod,
    Product,
    Review,
    Shipment,
    Shop,
    User,
)
from domain import reviews as review_rules
from domain.carrier_scans import ScanKind, sign
from domain.order_status import OrderStatus
from domain.returns import (
    RETURNABLE_ORDER_STATUSES,
    ReturnReason,
    ReturnStatus,
    window_opens_after,
)
from resolvers.context import Context, Rules
from resolvers.events import EventPublisher
from resolvers.gateway import PaymentGateway, SandboxGateway
from resolvers.mutations.lifecycle import ship_order, update_order_status
from resolvers.mutations.outcome import Refused
from resolvers.mutations.placing import AddressInput, LineInput, place_order
from resolvers.mutations.returns import LineInput as ReturnLineInput
from resolvers.mutations.returns import (
    approve_return,
    receive_return,
    refund_return,
    reject_return,
    request_return,
    ship_return,
)
from resolvers.mutations.reviews import review_order_item
from resolvers.policy import OPERATOR

log = logging.getLogger("ordercenter.simulate")

Sessions = Callable[[], AsyncSession]

SHIP = "ship"
IN_TRANSIT = "in_transit"
DELIVER = "deliver"
PLACE = "place"
REVIEW = "review"
RETURN = "return"
SKIPPED = "skipped"

# What the seller (or, for them, the carrier) does next to an order in each status.
MOVES: dict[OrderStatus, str] = {
    OrderStatus.AWAITING_SHIPMENT: SHIP,
    OrderStatus.AWAITING_COLLECTION: IN_TRANSIT,
    OrderStatus.IN_TRANSIT: DELIVER,
}
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
# Of the steps, the share that places a new order: each placed order later takes
# three seller/carrier steps, so a quarter keeps the pipeline about level.
PLACE_SHARE = 0.25
# Of the steps, the share where a buyer rates a line of a completed order.
REVIEW_SHARE = 0.1
# Of the steps, the share that takes a return further: asks for one, or the next step.
RETURN_SHARE = 0.15
# The next step the simulator takes on a return in each status, and whose it is.
RETURN_MOVES: dict[ReturnStatus, tuple[str, bool]] = {
    ReturnStatus.REQUESTED: ("approve", False),
    ReturnStatus.APPROVED: ("ship", True),
    ReturnStatus.SHIPPED_BACK: ("receive", False),
    ReturnStatus.RECEIVED: ("refund", False),
}
# Behind schedule by more than this (a slow database): start counting afresh
# rather than firing a burst to catch up.
MAX_LAG_SECONDS = 1.0


@dataclass
class SimulationReport:
    """How many use-case calls of each kind ran (``skipped``: refused ones)."""

    counts: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def steps(self) -> int:
        return sum(self.counts.values())

    @property
    def transitions(self) -> int:
        return self.counts[SHIP] + self.counts[IN_TRANSIT] + self.counts[DELIVER]

    def summary(self) -> str:
        rate = self.steps / self.elapsed if self.elapsed > 0 else 0.0
        return (
            f"{self.steps} steps in {self.elapsed:.1f}s ({rate:.1f}/s): "
            f"{self.counts[SHIP]} shipped, {self.counts[IN_TRANSIT]} in transit, "
            f"{self.counts[DELIVER]} delivered, {self.counts[PLACE]} placed, "
            f"{self.counts[REVIEW]} reviewed, "
            f"{self.counts[RETURN]} return steps, {self.counts[SKIPPED]} skipped"
        )


WEBHOOK_PATH = "/webhooks/carrier"
UNLIMITED_PER_MINUTE = 10**9


class CarrierDesk:
    """Plays the carriers: signs one scan per delivery and posts it to the webhook."""

    def __init__(self, client: httpx.AsyncClient, secrets: dict[str, str]) -> None:
        self._client = client
        self._secrets = secrets  # by lower-cased carrier name

    def serves(self, carrier: str) -> bool:
        return carrier.lower() in self._secrets

    async def scan(self, carrier: str, tracking_number: str, kind: ScanKind) -> bool:
        """Whether the webhook applied the scan and it moved the order."""
        body = json.dumps(
            {
                "scans": [
                    {
                        "scanId": uuid4().hex,
                        "trackingNumber": tracking_number,
                        "kind": kind.value,
                        "happenedAt": datetime.now(UTC).isoformat(),
                    }
                ]
            }
        ).encode()
        timestamp = str(int(time.time()))
        response = await self._client.post(
            WEBHOOK_PATH,
            content=body,
            headers={
                "Content-Type": "application/json",
                CARRIER_HEADER: carrier,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secrets[carrier.lower()], timestamp, body),
            },
        )
        if response.status_code != 200:
            log.warning("the carrier webhook refused a scan: %s", response.text)
            return False
        (result,) = response.json()["scans"]
        return bool(result["result"] == "APPLIED")


@dataclass(frozen=True, slots=True)
class _Buyer:
    user_id: int
    method_id: int
    name: str


class _Simulator:
    def __init__(
        self,
        sessions: Sessions,
        events: EventPublisher,
        gateway: PaymentGateway,
        rules: Rules,
        rng: Random,
        carriers: CarrierDesk,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._gateway = gateway
        self._rules = rules
        self._rng = rng
        self._carriers = carriers
        self._buyers: list[_Buyer] | None = None

    def _context(self, viewer_id: int | None) -> Context:
        return Context.for_request(
            viewer_id=viewer_id,
            sessions=self._sessions,
            events=self._events,
            gateway=self._gateway,
            rules=self._rules,
        )

    async def step(self) -> str:
        """One use-case call; returns its kind (SKIPPED when the domain refused it)."""
        async with self._sessions() as session:
            statement = (
                select(col(Order.id), col(Order.status), col(Shop.owner_id))
                .join(Shop, col(Shop.id) == col(Order.shop_id))
                .where(col(Order.status).in_([s.value for s in MOVES]))
                .order_by(col(Order.id))
            )
            movable = [
                (i, OrderStatus(s), o)
                for i, s, o in await session.execute(statement)
                if i is not None
            ]
        try:
            if self._rng.random() < REVIEW_SHARE and await self._review():
                return REVIEW
            if self._rng.random() < RETURN_SHARE and await self._return_step():
                return RETURN
            if not movable or self._rng.random() < PLACE_SHARE:
                placed = await self._place()
                if placed or not movable:
                    return PLACE if placed else SKIPPED
            order_id, status, owner_id = self._rng.choice(movable)
            return await self._move(order_id, status, owner_id)
        except Refused as refusal:
            log.debug("refused: %s", refusal)
            return SKIPPED

    async def _review(self) -> bool:
        """A buyer rates one not yet reviewed line of a completed order (False: none)."""
        reviewed = select(col(Review.order_item_id))
        statement = (
            select(col(OrderItem.id), col(Order.user_id))
            .join(Order, col(Order.id) == col(OrderItem.order_id))
            .where(
                col(Order.status).in_([s.value for s in review_rules.REVIEWABLE_STATUSES]),
                col(OrderItem.id).not_in(reviewed),
            )
            .order_by(col(OrderItem.id).desc())
            .limit(50)
        )
        async with self._sessions() as session:
            lines = [(i, u) for i, u in await session.execute(statement) if i is not None]
        if not lines:
            return False
        item_id, buyer_id = self._rng.choice(lines)
        rating = self._rng.choice((3, 4, 4, 5, 5))
        await review_order_item(
            self._context(buyer_id),
            viewer_id=buyer_id,
            order_item_id=item_id,
            rating=rating,
            text=self._rng.choice(("", "As described.", "Happy with it.")),
        )
        return True

    async def _move(self, order_id: int, status: OrderStatus, owner_id: int) -> str:
        ctx = self._context(owner_id)
        kind = MOVES[status]
        if kind == SHIP:
            carrier = self._rng.choice(CARRIERS)
            tracking = f"SIM{self._rng.randrange(10**12):012d}"
            await ship_order(
                ctx,
                viewer_id=owner_id,
                order_id=order_id,
                carrier=carrier,
                tracking_number=tracking,
            )
            return kind
        target = OrderStatus.IN_TRANSIT if kind == IN_TRANSIT else OrderStatus.DELIVERED
        async with self._sessions() as session:
            shipment = (
                (await session.execute(select(Shipment).where(col(Shipment.order_id) == order_id)))
                .scalars()
                .first()
            )
        if shipment is not None and self._carriers.serves(shipment.carrier):
            scan = ScanKind.PICKED_UP if kind == IN_TRANSIT else ScanKind.DELIVERED
            moved = await self._carriers.scan(shipment.carrier, shipment.tracking_number, scan)
            return kind if moved else SKIPPED
        await update_order_status(
            ctx, viewer_id=owner_id, order_id=order_id, status=target, note=None
        )
        return kind

    async def _return_step(self) -> bool:
        """Take a return one step further, or ask for one; False if there was none to
        take (a refusal is Refused, as for every step)."""
        async with self._sessions() as session:
            open_returns = [
                (i, s, b, o)
                for i, s, b, o in await session.execute(
                    select(
                        col(OrderReturn.id),
                        col(OrderReturn.status),
                        col(OrderReturn.user_id),
                        col(Shop.owner_id),
                    )
                    .join(Order, col(Order.id) == col(OrderReturn.order_id))
                    .join(Shop, col(Shop.id) == col(Order.shop_id))
                    .where(col(OrderReturn.status).in_([s.value for s in RETURN_MOVES]))
                    .order_by(col(OrderReturn.id))
                )
                if i is not None
            ]
            opens_after = window_opens_after(datetime.now(UTC), self._rules.return_window)
            returnable = [
                (i, u)
                for i, u in await session.execute(
                    select(col(Order.id), col(Order.user_id))
                    .join(Shipment, col(Shipment.order_id) == col(Order.id))
                    .where(
                        col(Order.status).in_([s.value for s in RETURNABLE_ORDER_STATUSES]),
                        col(Shipment.delivered_at) >= opens_after,
                    )
                    .order_by(col(Order.id))
                )
                if i is not None
            ]
        if open_returns and (not returnable or self._rng.random() < 0.7):
            return_id, status, buyer_id, owner_id = self._rng.choice(open_returns)
            step, by_buyer = RETURN_MOVES[ReturnStatus(status)]
            viewer = buyer_id if by_buyer else owner_id
            ctx = self._context(viewer)
            if step == "approve" and self._rng.random() < 0.2:
                await reject_return(
                    ctx, viewer_id=viewer, return_id=return_id, reason="Not eligible."
                )
            elif step == "approve":
                await approve_return(ctx, viewer_id=viewer, return_id=return_id)
            elif step == "ship":
                tracking = f"SIMRT{self._rng.randrange(10**10):010d}"
                carrier = self._rng.choice(CARRIERS)
                await ship_return(
                    ctx,
                    viewer_id=viewer,
                    return_id=return_id,
                    carrier=carrier,
                    tracking_number=tracking,
                )
            elif step == "receive":
                await receive_return(ctx, viewer_id=viewer, return_id=return_id)
            else:
                await refund_return(ctx, viewer_id=viewer, return_id=return_id)
            return True
        if not returnable:
            return False
        order_id, buyer_id = self._rng.choice(returnable)
        async with self._sessions() as session:
            items = [
                i
                for (i,) in await session.execute(
                    select(col(OrderItem.id)).where(col(OrderItem.order_id) == order_id)
                )
                if i is not None
            ]
        item_id = self._rng.choice(items)
        await request_return(
            self._context(buyer_id),
            viewer_id=buyer_id,
            order_id=order_id,
            lines=[ReturnLineInput(order_item_id=item_id, quantity=1)],
            reason=self._rng.choice(list(ReturnReason)),
            note=None,
        )
        return True

    async def _load_buyers(self) -> list[_Buyer]:
        """Everyone but the operator with a saved, unexpired card (the default first)."""
        if self._buyers is not None:
            return self._buyers
        today = datetime.now(UTC)
        statement = (
            select(PaymentMethod, col(User.display_name))
            .join(User, col(User.id) == col(PaymentMethod.user_id))
            .where(col(User.role) != OPERATOR, col(PaymentMethod.removed_at).is_(None))
            .order_by(
                col(PaymentMethod.user_id),
                col(PaymentMethod.is_default).desc(),
                col(PaymentMethod.id),
            )
        )
        buyers: dict[int, _Buyer] = {}
        async with self._sessions() as session:
            for method, name in await session.execute(statement):
                valid = (method.exp_year, method.exp_month) >= (today.year, today.month)
                if valid and method.id is not None and method.user_id not in buyers:
                    buyers[method.user_id] = _Buyer(method.user_id, method.id, str(name))
        self._buyers = list(buyers.values())
        if not self._buyers:
            log.warning("no buyer has a usable saved card: not placing new orders")
        return self._buyers

    async def _place(self) -> bool:
        """A paid order of one or two in-stock products of one shop, for a random buyer."""
        buyers = await self._load_buyers()
        if not buyers:
            return False
        buyer = self._rng.choice(buyers)
        async with self._sessions() as session:
            statement = (
                select(col(Product.id), col(Product.shop_id))
                .join(Shop, col(Shop.id) == col(Product.shop_id))
                .where(
                    col(Product.on_sale),
                    col(Product.stock) >= 1,
                    col(Shop.owner_id) != buyer.user_id,
                )
                .order_by(col(Product.id))
            )
            products = [(p, s) for p, s in await session.execute(statement) if p is not None]
            latest = (
                (
                    await session.execute(
                        select(Order)
                        .where(col(Order.user_id) == buyer.user_id)
                        .order_by(col(Order.placed_at).desc(), col(Order.id).desc())
                        .limit(1)
                    )
                )
                .scalars()
                .first()
            )
        if not products:
            log.warning("nothing is in stock: not placing a new order")
            return False
        shop_id = self._rng.choice(sorted({shop for _, shop in products}))
        in_shop = [product for product, shop in products if shop == shop_id]
        chosen = self._rng.sample(in_shop, min(len(in_shop), self._rng.choice((1, 1, 2))))
        address = (
            AddressInput(
                name=buyer.name[:128] or "Simulated Buyer",
                line1="1 Simulation Way",
                city="Springfield",
                postal_code="12345",
                country_code="US",
            )
            if latest is None
            else AddressInput(
                name=latest.ship_name,
                line1=latest.ship_line1,
                line2=latest.ship_line2,
                city=latest.ship_city,
                region=latest.ship_region,
                postal_code=latest.ship_postal_code,
                country_code=latest.ship_country_code,
                phone=latest.ship_phone,
            )
        )
        outcome = await place_order(
            self._context(buyer.user_id),
            viewer_id=buyer.user_id,
            lines=[LineInput(product_id=product, quantity=1) for product in sorted(chosen)],
            address=address,
            payment_method_id=buyer.method_id,
            idempotency_key=f"simulate-{uuid4().hex}",
        )
        if outcome.errors:
            log.debug("placed an unpaid order: %s", outcome.errors[0].message)
        return outcome.order is not None


async def simulate(
    sessions: Sessions,
    *,
    events: EventPublisher | None = None,
    rate: float = 2.0,
    duration: float | None = None,
    seed: int | None = None,
    steps: int | None = None,
    rules: Rules | None = None,
    gateway: PaymentGateway | None = None,
    stop: asyncio.Event | None = None,
    log_every: int = 20,
    carrier_secrets: dict[str, str] | None = None,
    webhook_url: str | None = None,
    webhook_tolerance_seconds: int = 300,
) -> SimulationReport:
    """Run steps at ``rate`` per second until ``steps`` ran, ``duration`` seconds passed
    or ``stop`` is set, whichever comes first; logs a line every ``log_every`` steps.

    Carrier scans are posted to ``webhook_url`` (a server's base URL) or, without it,
    to the webhook handler in this process; ``carrier_secrets`` by lower-cased carrier
    name (default: the development ones). The same ``seed`` on the same database state
    makes the same choices.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    stop = stop or asyncio.Event()
    events = events or InProcessBus()
    gateway = gateway or SandboxGateway()
    rules = rules or Rules()
    secrets = carrier_secrets
    if secrets is None:
        secrets = {name.lower(): secret for name, secret in DEVELOPMENT_CARRIER_SECRETS.items()}
    if webhook_url is not None:
        client = httpx.AsyncClient(base_url=webhook_url, timeout=30)
    else:
        handler = CarrierWebhook(
            secrets,
            webhook_tolerance_seconds,
            lambda: Context.for_request(
                viewer_id=None, sessions=sessions, events=events, gateway=gateway, rules=rules
            ),
            # In process, the simulator is the only sender: nothing to slow down.
            MemoryBudget(UNLIMITED_PER_MINUTE),
        )
        webhook_app = Starlette(routes=[Route(WEBHOOK_PATH, handler.handle, methods=["POST"])])
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=webhook_app), base_url="http://simulate"
        )
    async with client:
        return await _run(
            _Simulator(
                sessions,
                events,
                gateway,
                rules,
                Random(seed),  # noqa: S311 - choosing orders, not secrets
                CarrierDesk(client, secrets),
            ),
            rate=rate,
            duration=duration,
            steps=steps,
            stop=stop,
            log_every=log_every,
        )


async def _run(
    simulator: _Simulator,
    *,
    rate: float,
    duration: float | None,
    steps: int | None,
    stop: asyncio.Event,
    log_every: int,
) -> SimulationReport:
    report = SimulationReport()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = None if duration is None else started + duration
    interval = 1.0 / rate
    next_at = started
    try:
        while not stop.is_set() and (steps is None or report.steps < steps):
            if deadline is not None and loop.time() >= deadline:
                break
            try:
                kind = await simulator.step()
            except (OperationalError, InterfaceError) as error:
                # The database is busy or briefly away: skip this beat, keep the pace.
                log.warning("step failed (%s); carrying on", error.orig)
                kind = SKIPPED
            report.counts[kind] += 1
            if log_every > 0 and report.steps % log_every == 0:
                report.elapsed = loop.time() - started
                log.info("simulate: %s", report.summary())
            next_at += interval
            now = loop.time()
            if now - next_at > MAX_LAG_SECONDS:
                next_at = now
            wait = next_at - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
    finally:
        report.elapsed = loop.time() - started
    return report


async def run_simulation(
    settings: Settings,
    *,
    rate: float,
    duration: float | None,
    seed: int | None,
    log_every: int = 20,
    webhook_url: str | None = None,
) -> SimulationReport:
    """``simulate`` on the configured database and bus, until Ctrl-C or SIGTERM."""
    engine = create_engine(settings.database_url)
    bus = make_bus(settings.bus_url)
    if isinstance(bus, InProcessBus):
        log.warning(
            "ORDERCENTER_BUS_URL is memory://: no server hears these events directly; "
            "its hub finds them on its slow poll (every 2 s)"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []

    def stopping() -> None:
        log.info("stopping after this step")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping)
            handled.append(signum)
    await bus.connect()
    try:
        return await simulate(
            create_session_factory(engine),
            events=bus,
            rate=rate,
            duration=duration,
            seed=seed,
            rules=settings.rules,
            stop=stop,
            log_every=log_every,
            carrier_secrets=settings.carrier_secrets,
            webhook_url=webhook_url,
            webhook_tolerance_seconds=settings.carrier_webhook_tolerance_seconds,
        )
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await bus.close()
        await engine.dispose()
