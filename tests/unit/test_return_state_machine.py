"""domain.returns: every (status, step, actor), the window, units and refund amounts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from domain.order_status import Actor, OrderAction, OrderStatus
from domain.returns import (
    COUNTED_STATUSES,
    DEFAULT_WINDOW,
    Refund,
    ReturnAction,
    ReturnStatus,
    in_returns_tab,
    may_request,
    next_return_status,
    order_actions,
    refund_for,
    return_actions,
    returnable_units,
    within_window,
)
from domain.state_machine import InvalidTransition
from tests.unit.state_machines import ACTOR_SETS, Machine, cell_id

R = ReturnStatus
A = ReturnAction
B, SE, C, SY, OP = Actor.BUYER, Actor.SELLER, Actor.CARRIER, Actor.SYSTEM, Actor.OPERATOR

# Every allowed (status, step, actor) and where it leads. Anything absent must raise.
ALLOWED: dict[tuple[ReturnStatus, ReturnAction, Actor], ReturnStatus] = {
    (R.REQUESTED, A.APPROVE, SE): R.APPROVED,
    (R.REQUESTED, A.REJECT, SE): R.REJECTED,
    (R.REQUESTED, A.CANCEL, B): R.CANCELLED,
    (R.APPROVED, A.CANCEL, B): R.CANCELLED,
    (R.APPROVED, A.SHIP, B): R.SHIPPED_BACK,
    (R.SHIPPED_BACK, A.RECEIVE, SE): R.RECEIVED,
    (R.RECEIVED, A.REFUND, SE): R.REFUNDED,
    (R.RECEIVED, A.REFUND, SY): R.REFUNDED,
}

MACHINE = Machine(ReturnStatus, ReturnAction, ALLOWED, next_return_status, InvalidTransition)


def test_the_table_covers_the_whole_space() -> None:
    # 7 statuses x 6 steps x 5 actors; a new enum member must be added to the table.
    assert len(ReturnStatus) == 7
    assert len(ReturnAction) == 6
    assert len(Actor) == 5
    assert len(MACHINE.cells) == 210
    MACHINE.check_table()


@pytest.mark.parametrize("cell", MACHINE.cells, ids=cell_id)
def test_next_status_for_every_status_step_and_actor(
    cell: tuple[ReturnStatus, ReturnAction, Actor],
) -> None:
    MACHINE.check(cell)


def test_refusal_says_whether_the_step_or_the_actor_is_wrong() -> None:
    with pytest.raises(InvalidTransition, match=r"^A return that is REFUNDED cannot SHIP"):
        next_return_status(R.REFUNDED, A.SHIP, B)
    with pytest.raises(InvalidTransition, match=r"^buyer may not APPROVE a return that"):
        next_return_status(R.REQUESTED, A.APPROVE, B)


@pytest.mark.parametrize("status", [R.REJECTED, R.CANCELLED, R.REFUNDED], ids=str)
def test_final_statuses_accept_nothing(status: ReturnStatus) -> None:
    assert MACHINE.accepted_from(status) == []


def test_happy_path_and_a_failed_refund_retried() -> None:
    status = R.REQUESTED
    for action, actor in [(A.APPROVE, SE), (A.SHIP, B), (A.RECEIVE, SE)]:
        status = next_return_status(status, action, actor)
    # A failed refund leaves it RECEIVED, where REFUND is the retry.
    assert status is R.RECEIVED
    assert next_return_status(status, A.REFUND, SE) is R.REFUNDED


STATUS_SETS = [
    frozenset(combo) for size in range(3) for combo in itertools.combinations(ReturnStatus, size)
]


@pytest.mark.parametrize("statuses", STATUS_SETS, ids=lambda s: "+".join(sorted(s)) or "none")
@pytest.mark.parametrize("who", list(ACTOR_SETS))
def test_return_actions_match_the_table(statuses: frozenset[ReturnStatus], who: str) -> None:
    actors = ACTOR_SETS[who]
    actions = return_actions(statuses, actors)
    assert len(actions) == len(set(actions))
    expected = {a for (s, a, actor) in ALLOWED if s in statuses and actor in actors}
    assert set(actions) == expected
    # In the table's order, whatever the order of the statuses.
    assert actions == sorted(actions, key=list(ReturnAction).index)


NO_REVIEW = {"reviewable": False, "editable": False}


def test_order_actions_put_the_order_first_then_request_then_steps() -> None:
    buyer, seller = frozenset({B}), frozenset({SE})
    delivered = OrderStatus.DELIVERED
    assert order_actions(delivered, buyer, [], True, **NO_REVIEW) == [
        OrderAction.CONFIRM_RECEIPT,
        OrderAction.REQUEST_RETURN,
    ]
    assert order_actions(delivered, buyer, [R.APPROVED], False, **NO_REVIEW) == [
        OrderAction.CONFIRM_RECEIPT,
        OrderAction.CANCEL_RETURN,
        OrderAction.SHIP_RETURN,
    ]
    # Only the buyer asks for a return.
    assert order_actions(delivered, seller, [R.REQUESTED], True, **NO_REVIEW) == [
        OrderAction.APPROVE_RETURN,
        OrderAction.REJECT_RETURN,
    ]
    assert order_actions(
        OrderStatus.COMPLETED, seller, [R.SHIPPED_BACK, R.RECEIVED], True, **NO_REVIEW
    ) == [
        OrderAction.RECEIVE_RETURN,
        OrderAction.REFUND_RETURN,
    ]
    assert order_actions(OrderStatus.COMPLETED, frozenset(), [R.REQUESTED], True, **NO_REVIEW) == []


@pytest.mark.parametrize("reviewable", [False, True])
@pytest.mark.parametrize("editable", [False, True])
def test_order_actions_put_reviews_last_review_before_edit(
    reviewable: bool, editable: bool
) -> None:
    buyer = frozenset({B})
    # A completed order whose return waits to be shipped back: its steps come first.
    found = order_actions(
        OrderStatus.COMPLETED, buyer, [R.APPROVED], True, reviewable=reviewable, editable=editable
    )
    reviews = [OrderAction.REVIEW] * reviewable + [OrderAction.EDIT_REVIEW] * editable
    assert found == [
        OrderAction.REQUEST_RETURN,
        OrderAction.CANCEL_RETURN,
        OrderAction.SHIP_RETURN,
        *reviews,
    ]


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_the_window_is_fifteen_days_after_delivery_inclusive() -> None:
    assert timedelta(days=15) == DEFAULT_WINDOW
    assert within_window(NOW - timedelta(days=15), NOW, DEFAULT_WINDOW)
    assert not within_window(NOW - timedelta(days=15, microseconds=1), NOW, DEFAULT_WINDOW)
    assert within_window(NOW, NOW, DEFAULT_WINDOW)
    assert not within_window(None, NOW, DEFAULT_WINDOW)
    assert within_window(NOW - timedelta(days=20), NOW, timedelta(days=30))


def test_returnable_units_count_every_return_but_rejected_and_cancelled() -> None:
    ordered = {1: 3, 2: 1}
    for status in ReturnStatus:
        left = returnable_units(ordered, [(1, 2, status)])
        assert left == {1: 1 if status in COUNTED_STATUSES else 3, 2: 1}
    assert frozenset(ReturnStatus) - {R.REJECTED, R.CANCELLED} == COUNTED_STATUSES
    assert returnable_units(
        ordered, [(1, 2, R.REQUESTED), (1, 1, R.REFUNDED), (2, 1, R.APPROVED)]
    ) == {
        1: 0,
        2: 0,
    }
    # Lines of other orders are ignored; never below zero.
    assert returnable_units({1: 1}, [(9, 5, R.REQUESTED), (1, 3, R.REQUESTED)]) == {1: 0}


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
def test_may_request_only_delivered_or_completed_in_window_with_units(
    status: OrderStatus,
) -> None:
    delivered = NOW - timedelta(days=1)
    ok = status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)
    assert may_request(status, delivered, NOW, DEFAULT_WINDOW, {1: 1}) is ok
    assert may_request(status, delivered, NOW, DEFAULT_WINDOW, {1: 0, 2: 0}) is False
    assert may_request(status, NOW - timedelta(days=16), NOW, DEFAULT_WINDOW, {1: 1}) is False
    assert may_request(status, None, NOW, DEFAULT_WINDOW, {1: 1}) is False


@pytest.mark.parametrize("status", list(ReturnStatus), ids=str)
def test_the_returns_tab_holds_every_return_but_withdrawn_ones(status: ReturnStatus) -> None:
    assert in_returns_tab([status]) is (status is not R.CANCELLED)
    assert in_returns_tab([R.CANCELLED, status]) is (status is not R.CANCELLED)
    assert in_returns_tab([]) is False


def _refund(lines: int, before: int, completes: bool = False) -> Refund:
    return refund_for(
        lines_minor=lines,
        order_subtotal_minor=3000,
        order_tax_minor=241,
        order_shipping_minor=499,
        refunded_before_minor=before,
        completes_order=completes,
    )


def test_tax_is_refunded_in_proportion_rounded_down_cumulatively() -> None:
    first = _refund(1000, 0)
    assert (first.subtotal_minor, first.tax_minor, first.shipping_minor) == (1000, 80, 0)
    second = _refund(1000, 1000)
    assert second.tax_minor == 160 - 80
    last = _refund(1000, 2000, completes=True)
    assert last.tax_minor == 241 - 160
    assert last.shipping_minor == 499
    assert first.total_minor + second.total_minor + last.total_minor == 3000 + 241 + 499


@pytest.mark.parametrize("order", list(itertools.permutations([700, 1300, 1000])))
def test_every_unit_returned_refunds_the_whole_total_in_any_order(order: tuple[int, ...]) -> None:
    before, total = 0, 0
    for index, lines in enumerate(order):
        refund = _refund(lines, before, completes=index == len(order) - 1)
        assert refund.tax_minor >= 0
        before += lines
        total += refund.total_minor
    assert total == 3000 + 241 + 499


def test_shipping_only_with_the_return_that_completes_the_order() -> None:
    assert _refund(3000, 0).shipping_minor == 0
    assert _refund(3000, 0, completes=True).shipping_minor == 499


def test_amounts_are_never_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        _refund(-1, 0)
    with pytest.raises(ValueError, match="negative"):
        _refund(1, -1)
    assert _refund(0, 0) == Refund(0, 0, 0)
    free = refund_for(
        lines_minor=0,
        order_subtotal_minor=0,
        order_tax_minor=0,
        order_shipping_minor=0,
        refunded_before_minor=0,
        completes_order=True,
    )
    assert free.total_minor == 0


def test_unused_actor_kinds_take_no_step() -> None:
    for action in ReturnAction:
        for actor in (C, OP):
            assert return_actions(list(ReturnStatus), frozenset({actor})) == []
            with pytest.raises(InvalidTransition):
                next_return_status(R.REQUESTED, action, actor)
