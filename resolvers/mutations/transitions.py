"""Moving an order through the state machine: lock, check, bump the version, log it."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select
from sqlmodel import col, select

from db.models import Order, OrderEvent, Shop, User
from domain.order_events import OrderEventKind
from domain.order_status import (
    ORDER_LIFECYCLE,
    Actor,
    InvalidTransition,
    OrderAction,
    OrderStatus,
    next_status,
)
from resolvers import policy
from resolvers.mutations.outcome import ErrorCode, Refused, not_found

# The statements of every step, built once with their cache keys (built per call, a
# statement's construction cost as much as running it on SQLite). Each in the two
# forms the databases lock the order row with.
_ORDER = select(Order).where(col(Order.id) == bindparam("order_key"))
_ORDER_SHOP_VIEWER = (
    select(Order, Shop, User)
    .join(Shop, col(Shop.id) == col(Order.shop_id))
    .outerjoin(User, col(User.id) == bindparam("viewer_key"))
    .where(col(Order.id) == bindparam("order_key"))
)
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


def _locking(statement: S) -> tuple[S, S]:
    """(SQLite's, PostgreSQL's) form: SQLite's transaction began IMMEDIATE, so it holds
    the write lock already; PostgreSQL locks the order row only (the shop and the
    viewer are read, not locked)."""
    return statement, statement.with_for_update(of=Order)


_LOCK_ORDER = _locking(_ORDER)
_LOCK_WITH_ROLES = _locking(_ORDER_SHOP_VIEWER)


def _form(session: AsyncSession) -> int:
    return 1 if session.get_bind().dialect.name == "postgresql" else 0


async def lock_order(session: AsyncSession, order_id: int) -> Order | None:
    """The order row, locked against other writers until this transaction ends."""
    statement = _LOCK_ORDER[_form(session)]
    found = await session.execute(statement, {"order_key": order_id})
    order: Order | None = found.scalars().first()
    return order


async def lock_with_roles(
    session: AsyncSession, viewer_id: int, order_id: int
) -> tuple[Order | None, frozenset[Actor]]:
    """The order row, locked as ``lock_order`` locks it, and the viewer's roles on it
    (``roles_of``): the order, its shop and the viewer in one statement."""
    statement = _LOCK_WITH_ROLES[_form(session)]
    found = await session.execute(statement, {"order_key": order_id, "viewer_key": viewer_id})
    row = found.first()
    if row is None:
        return None, frozenset()
    order, shop, viewer = row
    return order, roles_of(viewer, order, shop)


def roles_of(viewer: User | None, order: Order, shop: Shop) -> frozenset[Actor]:
    """The viewer's roles on the order, as ``policy.order_roles`` decides them, and
    OPERATOR too when an operator who does not own the order's shop acts as its seller."""
    roles = policy.order_roles(viewer, order, shop)
    if (
        viewer is not None
        and policy.is_operator(viewer)
        and Actor.SELLER in roles
        and shop.owner_id != viewer.id
    ):
        roles |= {Actor.OPERATOR}
    return roles


def recorded_actor(actor: Actor, roles: frozenset[Actor]) -> Actor:
    """Who the timeline names for ``actor``'s step: an operator acting as the seller is
    recorded as OPERATOR, not as the seller they stood in for."""
    if actor is Actor.SELLER and Actor.OPERATOR in roles:
        return Actor.OPERATOR
    return actor


def actor_for(action: OrderAction, order: Order, roles: frozenset[Actor]) -> Actor:
    """The role the viewer acts in; refuses with FORBIDDEN or INVALID_TRANSITION."""
    status = OrderStatus(order.status)
    allowed = ORDER_LIFECYCLE.actors_of(action)
    usable = [a for a in (Actor.BUYER, Actor.SELLER) if a in roles and a in allowed]
    if not usable:
        raise Refused.one(
            ErrorCode.FORBIDDEN,
            f"Only the {' or '.join(sorted(a.value.lower() for a in allowed))} may "
            f"{action.value} an order.",
        )
    for actor in usable:
        try:
            next_status(status, action, actor)
        except InvalidTransition:
            continue
        return actor
    raise Refused.one(
        ErrorCode.INVALID_TRANSITION,
        f"An order that is {status.value} cannot {action.value}.",
    )


async def load_for(
    session: AsyncSession, viewer_id: int, order_id: int
) -> tuple[Order, frozenset[Actor]]:
    """The locked order and the viewer's roles on it; NOT_FOUND if it is not theirs."""
    order, roles = await lock_with_roles(session, viewer_id, order_id)
    if order is None or not roles:
        raise not_found("order", "input", "orderId")
    return order, roles


# The step, guarded by the version the order was read at.
_STEP = (
    update(Order)
    .where(col(Order.id) == bindparam("order_key"))
    .where(col(Order.version) == bindparam("seen_version"))
    .values(
        status=bindparam("new_status"),
        version=bindparam("new_version"),
        updated_at=bindparam("new_updated_at"),
    )
    .execution_options(synchronize_session=False)
)
_CANCELLING_STEP = _STEP.values(cancel_reason=bindparam("new_cancel_reason"))


def _step_parameters(values: dict[str, object]) -> dict[str, object]:
    return {f"new_{name}": value for name, value in values.items()}


async def transition(
    session: AsyncSession,
    order: Order,
    action: OrderAction,
    actor: Actor,
    *,
    now: datetime,
    note: str | None = None,
    cancel_reason: str | None = None,
    recorded_as: Actor | None = None,
) -> OrderEvent:
    """Apply ``action``, guarded by the order's version; returns its (unsaved) event.

    ``actor`` is checked against the state machine; the event names ``recorded_as``
    when given (an operator standing in for the seller)."""
    source = OrderStatus(order.status)
    try:
        target = next_status(source, action, actor)
    except InvalidTransition as refusal:
        raise Refused.one(ErrorCode.INVALID_TRANSITION, refusal.reason) from None
    values: dict[str, object] = {
        "status": target.value,
        "version": order.version + 1,
        "updated_at": now,
    }
    if cancel_reason is not None:
        values["cancel_reason"] = cancel_reason
    result = await session.execute(
        _STEP if cancel_reason is None else _CANCELLING_STEP,
        {"order_key": order.id, "seen_version": order.version, **_step_parameters(values)},
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Refused.one(
            ErrorCode.CONFLICT, "The order changed meanwhile; reload it and try again."
        )
    # The row is already written; keep the in-memory copy in step without making
    # the ORM write it a second time.
    for name, value in values.items():
        set_committed_value(order, name, value)
    if order.id is None:  # pragma: no cover - a locked order has an id
        raise ValueError("order without id")
    # Not added here: unit_of_work.commit_with_events writes every event of the
    # transaction last, under the event-order lock.
    return OrderEvent(
        order_id=order.id,
        from_status=source.value,
        to_status=target.value,
        order_version=order.version,
        actor=(recorded_as or actor).value,
        note=note,
        occurred_at=now,
    )


def step_event(
    order: Order,
    kind: OrderEventKind,
    subject_id: int | None,
    actor: Actor,
    *,
    now: datetime,
    note: str | None = None,
) -> OrderEvent:
    """The (unsaved) event of a step beside the status (``domain.order_events``): a scan,
    a payment, a refund. It names its subject row and leaves the order as it is: its
    status before and after is the order's status now, its version the order's version.
    Like ``transition``'s, it is written by ``unit_of_work.commit_with_events``."""
    if order.id is None:  # pragma: no cover - a locked order has an id
        raise ValueError("order without id")
    return OrderEvent(
        order_id=order.id,
        kind=kind.value,
        subject_id=subject_id,
        from_status=order.status,
        to_status=order.status,
        order_version=order.version,
        actor=actor.value,
        note=note,
        occurred_at=now,
    )
