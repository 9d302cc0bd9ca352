"""The order state machine, checked against a table written out by hand from the rules."""

from __future__ import annotations

import pytest

from domain.order_status import (
    Actor,
    InvalidTransition,
    OrderAction,
    OrderPaymentStatus,
    OrderStatus,
    OrderTab,
    available_actions,
    next_status,
    payment_status_after,
    statuses_of_tab,
    tab_of,
)
from tests.unit.state_machines import ACTOR_SETS, Machine, cell_id

S = OrderStatus
A = OrderAction
B, SE, C, SY = Actor.BUYER, Actor.SELLER, Actor.CARRIER, Actor.SYSTEM

# Every allowed (status, action, actor) and where it leads. Anything absent must raise.
ALLOWED: dict[tuple[OrderStatus, OrderAction, Actor], OrderStatus] = {
    (S.UNPAID, A.PAY, B): S.AWAITING_SHIPMENT,
    (S.UNPAID, A.CANCEL, B): S.CANCELLED,
    (S.UNPAID, A.CANCEL, SE): S.CANCELLED,
    (S.UNPAID, A.CANCEL, SY): S.CANCELLED,
    (S.AWAITING_SHIPMENT, A.CANCEL, B): S.CANCELLED,
    (S.AWAITING_SHIPMENT, A.CANCEL, SE): S.CANCELLED,
    (S.AWAITING_SHIPMENT, A.SHIP, SE): S.AWAITING_COLLECTION,
    (S.AWAITING_COLLECTION, A.MARK_IN_TRANSIT, SE): S.IN_TRANSIT,
    (S.AWAITING_COLLECTION, A.MARK_IN_TRANSIT, C): S.IN_TRANSIT,
    (S.IN_TRANSIT, A.MARK_DELIVERED, SE): S.DELIVERED,
    (S.IN_TRANSIT, A.MARK_DELIVERED, C): S.DELIVERED,
    (S.DELIVERED, A.CONFIRM_RECEIPT, B): S.COMPLETED,
    (S.DELIVERED, A.CONFIRM_RECEIPT, SY): S.COMPLETED,
}

MACHINE = Machine(OrderStatus, OrderAction, ALLOWED, next_status, InvalidTransition)


def test_the_table_covers_the_whole_space() -> None:
    # 7 statuses x 15 actions x 5 actors; a new enum member must be added to the table.
    # OPERATOR appears in no transition: an operator passes the machine as the SELLER
    # and is only recorded as OPERATOR. The 7 *_RETURN actions are steps of returns
    # (tests/unit/test_return_state_machine.py), REVIEW and EDIT_REVIEW are about
    # reviews (tests/unit/test_reviews_domain.py): the order's machine accepts none.
    assert len(OrderStatus) == 7
    assert len(OrderAction) == 15
    assert len(Actor) == 5
    assert len(MACHINE.cells) == 525
    MACHINE.check_table()


@pytest.mark.parametrize("cell", MACHINE.cells, ids=cell_id)
def test_next_status_for_every_status_action_and_actor(
    cell: tuple[OrderStatus, OrderAction, Actor],
) -> None:
    MACHINE.check(cell)


def test_refusal_says_whether_the_action_or_the_actor_is_wrong() -> None:
    with pytest.raises(InvalidTransition, match=r"^An order that is COMPLETED cannot CANCEL\.$"):
        next_status(S.COMPLETED, A.CANCEL, B)
    with pytest.raises(InvalidTransition, match=r"^buyer may not SHIP an order that is"):
        next_status(S.AWAITING_SHIPMENT, A.SHIP, B)


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED], ids=str)
def test_terminal_statuses_accept_nothing(status: OrderStatus) -> None:
    assert MACHINE.accepted_from(status) == []


def test_happy_path_walks_the_lifecycle() -> None:
    status = S.UNPAID
    for action, actor in [
        (A.PAY, B),
        (A.SHIP, SE),
        (A.MARK_IN_TRANSIT, C),
        (A.MARK_DELIVERED, C),
        (A.CONFIRM_RECEIPT, B),
    ]:
        status = next_status(status, action, actor)
    assert status is S.COMPLETED


TABS: dict[OrderTab, tuple[OrderStatus, ...]] = {
    OrderTab.TO_PAY: (S.UNPAID,),
    OrderTab.TO_SHIP: (S.AWAITING_SHIPMENT, S.AWAITING_COLLECTION),
    OrderTab.SHIPPED: (S.IN_TRANSIT,),
    OrderTab.DELIVERED: (S.DELIVERED,),
    OrderTab.COMPLETED: (S.COMPLETED,),
    OrderTab.CANCELLED: (S.CANCELLED,),
    OrderTab.TO_REVIEW: (),  # a list by its own rule (domain.reviews.awaits_review)
    OrderTab.RETURNS: (),  # listed by its returns, not by a status (domain.returns)
}


@pytest.mark.parametrize("tab", list(OrderTab), ids=str)
def test_statuses_of_every_tab(tab: OrderTab) -> None:
    assert statuses_of_tab(tab) == TABS[tab]


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
def test_tab_of_every_status(status: OrderStatus) -> None:
    (expected,) = [tab for tab, statuses in TABS.items() if status in statuses]
    assert tab_of(status) is expected


def test_tabs_partition_the_statuses() -> None:
    listed = [s for tab in OrderTab for s in statuses_of_tab(tab)]
    assert sorted(listed) == sorted(OrderStatus)
    assert len(listed) == len(set(listed))


def _expected_actions(status: OrderStatus, actors: frozenset[Actor]) -> set[OrderAction]:
    return {a for (s, a, who) in ALLOWED if s is status and who in actors}


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
@pytest.mark.parametrize("who", list(ACTOR_SETS))
def test_available_actions_match_the_table(status: OrderStatus, who: str) -> None:
    actors = ACTOR_SETS[who]
    actions = available_actions(status, actors)
    assert len(actions) == len(set(actions))
    assert set(actions) == _expected_actions(status, actors)


def test_available_actions_examples() -> None:
    buyer, seller = frozenset({B}), frozenset({SE})
    both = buyer | seller
    assert available_actions(S.UNPAID, buyer) == [A.PAY, A.CANCEL]
    assert available_actions(S.UNPAID, seller) == [A.CANCEL]
    assert available_actions(S.AWAITING_SHIPMENT, buyer) == [A.CANCEL]
    assert available_actions(S.AWAITING_SHIPMENT, seller) == [A.CANCEL, A.SHIP]
    assert available_actions(S.AWAITING_SHIPMENT, both) == [A.CANCEL, A.SHIP]
    assert available_actions(S.AWAITING_COLLECTION, buyer) == []
    assert available_actions(S.AWAITING_COLLECTION, seller) == [A.MARK_IN_TRANSIT]
    assert available_actions(S.IN_TRANSIT, seller) == [A.MARK_DELIVERED]
    assert available_actions(S.DELIVERED, buyer) == [A.CONFIRM_RECEIPT]
    assert available_actions(S.DELIVERED, seller) == []
    assert available_actions(S.UNPAID, frozenset()) == []
    for status in (S.COMPLETED, S.CANCELLED):
        assert available_actions(status, both) == []


@pytest.mark.parametrize(
    ("status", "paid", "expected"),
    [
        *[(s, False, OrderPaymentStatus.UNPAID) for s in OrderStatus],
        *[(s, True, OrderPaymentStatus.PAID) for s in OrderStatus if s is not S.CANCELLED],
        (S.CANCELLED, True, OrderPaymentStatus.REFUNDED),
    ],
    ids=lambda v: str(v),
)
def test_payment_status_after(
    status: OrderStatus, paid: bool, expected: OrderPaymentStatus
) -> None:
    assert payment_status_after(status, paid) is expected
