"""``ordercenter simulate``: sellers and carriers moving orders along, at a steady rate.

Every change goes through the same use-cases as the API (``ship_order``,
``update_order_status``, ``place_order``), with the shop's owner as the viewer for
the seller's and the carrier's steps (the seller acts for the carrier, so those
events carry actor SELLER) and a buyer as the viewer for new orders. Nothing is
written behind the domain's back: versions, timelines, shipments and events are
exactly what a client would have produced, and the events are announced on the
configured bus.

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
import logging
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bus import InProcessBus, make_bus
from app.settings import Settings
from db.engine import create_engine, create_session_factory
from db.models import Order, PaymentMethod, Product, Shop, User
from domain.order_status import OrderStatus
from resolvers.context import Context, Rules
from resolvers.events import EventPublisher
from resolvers.gateway import PaymentGateway, SandboxGateway
from resolvers.mutations.lifecycle import ship_order, update_order_status
from resolvers.mutations.outcome import Refused
from resolvers.mutations.placing import AddressInput, LineInput, place_order
from resolvers.policy import OPERATOR

log = logging.getLogger("ordercenter.simulate")

Sessions = Callable[[], AsyncSession]

SHIP = "ship"
IN_TRANSIT = "in_transit"
DELIVER = "deliver"
PLACE = "place"
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
            f"{self.counts[SKIPPED]} skipped"
        )


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
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._gateway = gateway
        self._rules = rules
        self._rng = rng
        self._buyers: list[_Buyer] | None = None

    def _context(self, viewer_id: int) -> Context:
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
            if not movable or self._rng.random() < PLACE_SHARE:
                placed = await self._place()
                if placed or not movable:
                    return PLACE if placed else SKIPPED
            order_id, status, owner_id = self._rng.choice(movable)
            return await self._move(order_id, status, owner_id)
        except Refused as refusal:
            log.debug("refused: %s", refusal)
            return SKIPPED

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
        else:
            target = OrderStatus.IN_TRANSIT if kind == IN_TRANSIT else OrderStatus.DELIVERED
            await update_order_status(
                ctx, viewer_id=owner_id, order_id=order_id, status=target, note=None
            )
        return kind

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
) -> SimulationReport:
    """Run steps at ``rate`` per second until ``steps`` ran, ``duration`` seconds passed
    or ``stop`` is set, whichever comes first; logs a line every ``log_every`` steps.

    The same ``seed`` on the same database state makes the same choices.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    stop = stop or asyncio.Event()
    simulator = _Simulator(
        sessions,
        events or InProcessBus(),
        gateway or SandboxGateway(),
        rules or Rules(),
        Random(seed),  # noqa: S311 - choosing orders, not secrets
    )
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
        )
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await bus.close()
        await engine.dispose()
